"""Anomalies: what a split holds that the schema does not expect, and how far the eval data drifted.

Checked for each split and configured column against its expectation
(:mod:`tft_build.datacheck.expectations`): ``schema`` (the column has none),
``type``, ``values`` (a text value not in the allowed ones), ``range`` (a
number outside min .. max), ``missing`` (a larger share of missing values
than max_missing). Then ``drift``, the eval data against the training data:
the L-infinity distance between a text column's value shares, the
Jensen-Shannon divergence (base 2) between a number's histograms on the same
bins (:func:`tft_build.datacheck.stats.histogram_edges`), each against the
column's max_drift. Each anomaly names its split, column and check, with one
line saying what was found and what the schema allows.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from tabulate import tabulate

from tft_build.datacheck.expectations import Expectation
from tft_build.datacheck.stats import histogram

SHOWN_VALUES = 5  # unseen values named in a message
MIN_DRIFT_ROWS = 100  # fewer eval values than this: sampling alone moves the distances past any useful limit


def find(
    splits: Mapping[str, Mapping[str, Any]], expectations: Mapping[str, Expectation],
    edges: Mapping[str, Sequence[float]],
) -> list[dict[str, str]]:
    """The anomalies of the merged ``splits`` (train and eval, :func:`stats.merge`) against ``expectations``."""
    found = []
    for split, merged in splits.items():
        for name, figures in merged["columns"].items():
            expected = expectations.get(name)
            if expected is None:
                found.append(anomaly(split, name, "schema", "no expectations: add a [columns] table for it, "
                                     "or delete the schema file to infer it again"))
            else:
                found += [anomaly(split, name, check, message) for check, message in mismatches(figures, expected)]
    train, evaluation = splits["train"], splits["eval"]
    for name, expected in expectations.items():
        if name in train["columns"] and expected.max_drift is not None:
            distance, how = drift(name, train, evaluation, edges)
            if distance is not None and distance > expected.max_drift:
                found.append(anomaly("eval", name, "drift", f"{how} from the training data is {distance:.3g}, "
                                     f"above max_drift {expected.max_drift:g}"))
    return found


def anomaly(split: str, column: str, check: str, message: str) -> dict[str, str]:
    return {"split": split, "column": column, "check": check, "message": message}


def mismatches(figures: Mapping[str, Any], expected: Expectation) -> list[tuple[str, str]]:
    """``(check, message)`` for each way one column of one split does not fit its expectation."""
    if figures["type"] != expected.type:
        return [("type", f"the schema says {expected.type}, the config {figures['type']}: fix the schema")]
    found = []
    counts = figures.get("counts")
    if expected.values is not None and figures["count"]:
        if counts is None:
            found.append(("values", f"too many distinct values to count; the schema allows {len(expected.values)}"))
        else:
            unseen = sorted((v for v in counts if v not in expected.values), key=lambda v: (-counts[v], v))
            if unseen:
                named = ", ".join(f"{v!r} ({counts[v]} rows)" for v in unseen[:SHOWN_VALUES])
                more = f" and {len(unseen) - SHOWN_VALUES} more" if len(unseen) > SHOWN_VALUES else ""
                found.append(("values", f"not among the schema's values: {named}{more}; add them if they are valid"))
    low, high = figures.get("min"), figures.get("max")
    if low is not None and "sum" in figures:
        if expected.min is not None and low < expected.min or expected.max is not None and high > expected.max:
            found.append(("range", f"values from {low:g} to {high:g}, outside the schema's "
                                   f"{bound(expected.min)} .. {bound(expected.max)}"))
    rows = figures["count"] + figures["missing"]
    share = figures["missing"] / rows if rows else 0.0
    if share > expected.max_missing:
        found.append(("missing", f"{share:.1%} of the values are missing, the schema allows "
                                 f"{expected.max_missing:.1%}"))
    return found


def bound(value: float | None) -> str:
    return "any" if value is None else f"{value:g}"


def drift(
    name: str, train: Mapping[str, Any], evaluation: Mapping[str, Any], edges: Mapping[str, Sequence[float]]
) -> tuple[float | None, str]:
    """How far the eval data's distribution of column ``name`` is from the training data's, and by which
    measure; None when it cannot be measured (fewer than MIN_DRIFT_ROWS values, or too many to count)."""
    figures, other = train["columns"][name], evaluation["columns"][name]
    if other["count"] < MIN_DRIFT_ROWS:
        return None, ""
    if "sum" in figures:
        if name not in edges:
            return None, ""
        p = histogram(train["sample"][name], edges[name])
        q = histogram(evaluation["sample"][name], edges[name])
        return jensen_shannon(p, q), "the Jensen-Shannon divergence of its histogram"
    if figures.get("counts") and other.get("counts"):
        return l_infinity(figures["counts"], other["counts"]), "the largest change of a value's share"
    return None, ""


def jensen_shannon(p: Sequence[float], q: Sequence[float]) -> float:
    """The Jensen-Shannon divergence (base 2, 0 to 1) of two distributions on the same bins."""
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    m = (p + q) / 2

    def kl(a):
        used = a > 0
        return float(np.sum(a[used] * np.log2(a[used] / m[used])))

    return max(0.0, (kl(p) + kl(q)) / 2)


def l_infinity(counts: Mapping[str, int], other: Mapping[str, int]) -> float:
    """The largest difference of one value's share between two value counts."""
    total, other_total = sum(counts.values()), sum(other.values())
    if not total or not other_total:
        return 0.0
    return max(abs(counts.get(v, 0) / total - other.get(v, 0) / other_total) for v in set(counts) | set(other))


def table(anomalies: Sequence[Mapping[str, str]]) -> str:
    """The anomalies as a short table, or the line saying there are none."""
    if not anomalies:
        return "data checks: no anomalies"
    rows = [[a["split"], a["column"], a["check"], a["message"]] for a in anomalies]
    return f"data checks: {len(anomalies)} anomalies\n" + tabulate(rows, headers=["split", "column", "check", ""])
