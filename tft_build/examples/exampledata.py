"""Two small synthetic non-taxi CSV data sets, generated deterministically from
a seed: `houses` (regression of a price) and `churn` (classification of what a
customer did).

They let users and end-to-end tests try tft_build on "their own data": other
columns, a key column, a string label, and missing values written as an empty
field in some rows and as `NA` in others.  Labels are a clear function of the
features plus moderate noise, so a model can learn them well beyond guessing.
Only numpy and the standard library are used.
"""

import argparse
import textwrap
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

MISSING_RATE = 0.05

NEIGHBORHOODS = ("Riverside", "Old Town", "Hillcrest", "Harbor View",
                 "Parkside", "Millbrook", "Westgate", "Station Quarter")
NEIGHBORHOOD_SHARES = np.array([0.16, 0.10, 0.12, 0.08, 0.16, 0.14, 0.14, 0.10])
PRICE_PER_M2 = np.array([3.1, 4.2, 3.6, 4.6, 2.9, 2.2, 2.6, 1.9])  # thousands
GARAGE_PRICE = 18.0     # thousands
ROOM_PRICE = 6.0        # thousands, on top of the area
AGING_PER_YEAR = 0.0025  # share of the value lost per year of age
PRICE_NOISE_SIGMA = 0.17

PLANS = ("basic", "plus", "pro")
PLAN_SHARES = np.array([0.5, 0.3, 0.2])
PLAN_FEES = np.array([19.0, 39.0, 69.0])
PLAN_DOWNGRADE = np.array([-4.0, 0.0, 0.8])  # basic has little to downgrade to
REGIONS = ("North", "South", "East", "West", "Central")
REGION_SHARES = np.array([0.25, 0.2, 0.2, 0.15, 0.2])
REGION_LEAVING = np.array([0.0, 0.6, -0.4, 0.3, -0.6])
OUTCOMES = ("stayed", "downgraded", "left")


class Dataset(NamedTuple):
    """A data set; `columns` are (name, type) pairs, type "string", "int" or
    "float"; `generate(rng, n)` returns {column: list of n CSV fields}."""
    description: str
    columns: tuple[tuple[str, str], ...]
    label: str
    key: str
    optional: tuple[str, ...]
    objective: str
    generate: Callable[[np.random.Generator, int], dict[str, list[str]]]


def generate_houses(rng: np.random.Generator, n: int) -> dict[str, list[str]]:
    """House sales: the price (thousands) is the area times the neighborhood's
    price per square metre, less a share per year of age, plus a price per
    room and for a garage, times lognormal noise."""
    neighborhood = rng.choice(len(NEIGHBORHOODS), n, p=NEIGHBORHOOD_SHARES)
    rooms = rng.integers(1, 9, n)
    area = np.maximum(15 + 21 * rooms + 10 * rng.standard_normal(n), 12.0)
    year = rng.integers(1900, 2023, n)
    garage = rng.random(n) < 0.45
    value = (area * PRICE_PER_M2[neighborhood] * (1 - AGING_PER_YEAR * (2023 - year))
             + ROOM_PRICE * rooms + GARAGE_PRICE * garage)
    price = value * np.exp(PRICE_NOISE_SIGMA * rng.standard_normal(n))
    return {
        "id": [f"h{number:06d}" for number in range(1, n + 1)],
        "neighborhood": [NEIGHBORHOODS[i] for i in neighborhood],
        "rooms": [str(r) for r in rooms.tolist()],
        "area_m2": [f"{a:.1f}" for a in area.tolist()],
        "year_built": [str(y) for y in year.tolist()],
        "garage": ["yes" if g else "no" for g in garage.tolist()],
        "price": [f"{p:.2f}" for p in price.tolist()],
    }


def generate_churn(rng: np.random.Generator, n: int) -> dict[str, list[str]]:
    """Customers of a subscription: who leaves depends mostly on few months
    of tenure, many support calls and the region; who downgrades on a dear
    plan and spending much beyond its fee.  The outcome is the most likely of
    the three under logistic (Gumbel) noise."""
    plan = rng.choice(len(PLANS), n, p=PLAN_SHARES)
    region = rng.choice(len(REGIONS), n, p=REGION_SHARES)
    tenure = rng.integers(0, 73, n)
    extras = rng.gamma(2.0, 7.0, n)
    calls = np.minimum(rng.poisson(1.6, n), 10)
    downgrading = -1.0 + PLAN_DOWNGRADE[plan] + 0.1 * extras - 0.015 * tenure
    leaving = -0.7 + calls - 0.1 * tenure + REGION_LEAVING[region]
    scores = np.stack([np.zeros(n), downgrading, leaving], axis=1)
    outcome = np.argmax(scores + rng.gumbel(size=(n, 3)), axis=1)
    return {
        "customer_id": [f"c{number:06d}" for number in range(1, n + 1)],
        "plan": [PLANS[i] for i in plan],
        "region": [REGIONS[i] for i in region],
        "tenure_months": [str(t) for t in tenure.tolist()],
        "monthly_spend": [f"{s:.2f}" for s in (PLAN_FEES[plan] + extras).tolist()],
        "support_calls": [str(c) for c in calls.tolist()],
        "outcome": [OUTCOMES[i] for i in outcome],
    }


DATASETS = {
    "houses": Dataset(
        "house sales; regression of the price (thousands) on neighborhood, "
        "rooms, area, year built and garage",
        (("id", "string"), ("neighborhood", "string"), ("rooms", "int"),
         ("area_m2", "float"), ("year_built", "int"), ("garage", "string"),
         ("price", "float")),
        "price", "id", ("neighborhood", "year_built", "garage"), "regression",
        generate_houses),
    "churn": Dataset(
        "subscription customers; classification of the outcome (stayed, "
        "downgraded, left) from plan, region, tenure, spend and support calls",
        (("customer_id", "string"), ("plan", "string"), ("region", "string"),
         ("tenure_months", "int"), ("monthly_spend", "float"),
         ("support_calls", "int"), ("outcome", "string")),
        "outcome", "customer_id", ("plan", "region"), "classification",
        generate_churn),
}


def with_missing(rng: np.random.Generator, fields: Iterable[str]) -> list[str]:
    """A copy of fields with about MISSING_RATE of them missing; missing
    fields alternate between empty and `NA`, so two suffice to have both."""
    fields = list(fields)
    for count, i in enumerate(np.flatnonzero(rng.random(len(fields)) < MISSING_RATE)):
        fields[i] = "NA" if count % 2 else ""
    return fields


def generate_lines(name: str, n: int, seed: int) -> list[str]:
    """The n CSV lines (without header and line ends) of data set `name`."""
    dataset = DATASETS[name]
    rng = np.random.default_rng(seed)
    fields = dataset.generate(rng, n)
    for column in dataset.optional:
        fields[column] = with_missing(rng, fields[column])
    return [",".join(row) for row in zip(*(fields[c] for c, _ in dataset.columns))]


def write_dataset(
    name: str, out_dir: str | Path, train_rows: int, eval_rows: int, seed: int, header: bool = True, shards: int = 1
) -> list[Path]:
    """Write `train-0000i-of-0000N.csv` (N = shards, the train rows split
    evenly and in order) and `eval.csv` into out_dir, from one stream of
    rows: train first, then eval.  Returns the written paths."""
    if shards < 1 or train_rows < 0 or eval_rows < 0:
        raise ValueError("need shards >= 1 and non-negative row counts")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = generate_lines(name, train_rows + eval_rows, seed)
    bounds = np.linspace(0, train_rows, shards + 1).round().astype(int).tolist()
    parts = {f"train-{i:05d}-of-{shards:05d}.csv": lines[bounds[i]:bounds[i + 1]]
             for i in range(shards)}
    parts["eval.csv"] = lines[train_rows:]
    head = [",".join(c for c, _ in DATASETS[name].columns)] if header else []
    paths = []
    for file_name, part in parts.items():
        path = out_dir / file_name
        path.write_bytes("".join(f"{line}\n" for line in head + part).encode("utf-8"))
        paths.append(path)
    return paths


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tft_build.examples.exampledata",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Generate a small synthetic CSV data set to try tft_build on\n"
                    "data other than the taxi rides: train shards and eval.csv.\n"
                    "The same arguments always give byte-identical files.",
        epilog="data sets:\n" + "\n".join(
            textwrap.fill(f"{name}: {dataset.description}", initial_indent="  ",
                          subsequent_indent="    ")
            for name, dataset in DATASETS.items()))
    parser.add_argument("name", choices=list(DATASETS), help="which data set")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--train-rows", type=int, default=2000,
                        help="rows over all train shards (default: %(default)s)")
    parser.add_argument("--eval-rows", type=int, default=500,
                        help="rows in eval.csv (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=7,
                        help="non-negative random seed (default: %(default)s)")
    parser.add_argument("--no-header", action="store_true",
                        help="write no header line")
    parser.add_argument("--shards", type=int, default=1,
                        help="number of train files (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        paths = write_dataset(args.name, args.out, args.train_rows, args.eval_rows,
                              args.seed, not args.no_header, args.shards)
    except ValueError as error:
        parser.error(str(error))
    for path in paths:
        rows = path.read_bytes().count(b"\n") - (not args.no_header)
        print(f"{path}: {rows} rows")


if __name__ == "__main__":
    main()
