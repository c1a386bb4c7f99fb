"""Cost of call tracing: many small traced calls with tracing off, on, and untraced.

Runs the three variants interleaved in one process (so that a noisy machine
affects them alike), prints a table and writes ``trace_overhead.json``.

    python benchmarks/trace_overhead.py [--calls 200000] [--repeats 5]
"""

import argparse
import json
import time

from tabulate import tabulate

from tft_build.engine import trace


def work(x):
    return x + 1


traced_work = trace.traced(work)


def loop(function, calls):
    start = time.perf_counter()
    for i in range(calls):
        function(i)
    return time.perf_counter() - start


def measure(calls, repeats):
    """Best-of-``repeats`` seconds per variant, interleaved."""
    best = {"untraced": float("inf"), "traced, tracing off": float("inf"), "traced, tracing on": float("inf")}
    for _ in range(repeats):
        best["untraced"] = min(best["untraced"], loop(work, calls))
        best["traced, tracing off"] = min(best["traced, tracing off"], loop(traced_work, calls))
        with trace.recording("benchmark"):
            best["traced, tracing on"] = min(best["traced, tracing on"], loop(traced_work, calls))
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="trace_overhead.json")
    args = parser.parse_args()
    best = measure(args.calls, args.repeats)
    base = best["untraced"]
    rows = [
        {"variant": name, "seconds": s, "ns_per_call": s / args.calls * 1e9, "ratio": s / base,
         "overhead_ns_per_call": (s - base) / args.calls * 1e9}
        for name, s in best.items()
    ]
    print(f"{args.calls} calls, best of {args.repeats}")
    print(tabulate(rows, headers="keys", floatfmt=".3f"))
    with open(args.out, "w") as f:
        json.dump({"calls": args.calls, "repeats": args.repeats, "results": rows}, f, indent=2)


if __name__ == "__main__":
    main()
