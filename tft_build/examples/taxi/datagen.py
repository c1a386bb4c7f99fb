"""Synthetic NYC taxi rides with the columns of the Kaggle "New York City Taxi
Fare Prediction" data, generated deterministically from a seed.

This is the embedded default data of the fare-prediction pipeline.  Fares come
from the public NYC rules applied to the visible columns plus hidden variables
(route detour, traffic speed, tolls) that a model cannot see; resampling the
hidden variables with the visible columns fixed gives the noise floor, the RMSE
of the best possible predictor.  Only numpy, the standard library and the
example's row filter are used: a ride is clean exactly when the pipeline's
filter (:func:`tft_build.examples.taxi.rowfilter.is_clean_ride`) keeps it, so
the noise floor is measured on the rows the models are scored on.
"""

import argparse
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from tft_build.examples.taxi.rowfilter import in_nyc, is_clean_ride

Values = np.ndarray | float  # an array, or one value: the functions below broadcast

HEADER = ("key,fare_amount,pickup_datetime,pickup_longitude,pickup_latitude,"
          "dropoff_longitude,dropoff_latitude,passenger_count")

START = np.datetime64("2009-01-01", "D")
END = np.datetime64("2015-06-30", "D")
RATE_CHANGE = np.datetime64("2012-09-04T00:00:00", "s")
MTA_TAX_START = np.datetime64("2009-11-01T00:00:00", "s")
# E-ZPass tunnel toll (Brooklyn-Battery / Queens-Midtown) and when it changed.
TOLL_CHANGES = np.array(["2010-12-30", "2013-03-03", "2015-03-22"], "datetime64[s]")
TOLL_AMOUNTS = np.array([4.57, 4.80, 5.33, 5.54])

KM_PER_DEG_LAT = 111.2
KM_PER_DEG_LON = 84.3  # at 40.75 N
KM_PER_MILE = 1.609344

# JFK, LaGuardia, Newark.
AIRPORTS = np.array([(-73.7781, 40.6413), (-73.8740, 40.7769), (-74.1745, 40.6895)])
JFK, EWR = AIRPORTS[0], AIRPORTS[2]
AIRPORT_RADIUS_KM = 2.5

# Approximate Manhattan shore line (lon, lat), clockwise from the Battery.
MANHATTAN = np.array([
    (-74.0190, 40.7000), (-74.0200, 40.7080), (-74.0160, 40.7200),
    (-74.0130, 40.7350), (-74.0100, 40.7500), (-73.9990, 40.7700),
    (-73.9800, 40.7960), (-73.9620, 40.8200), (-73.9460, 40.8500),
    (-73.9280, 40.8780), (-73.9100, 40.8730), (-73.9340, 40.8150),
    (-73.9290, 40.7960), (-73.9430, 40.7780), (-73.9580, 40.7590),
    (-73.9700, 40.7440), (-73.9720, 40.7300), (-73.9770, 40.7140),
    (-73.9900, 40.7080), (-74.0000, 40.7050), (-74.0130, 40.7010),
])
# Where rides start and end: (lon, lat, weight).
MANHATTAN_SPOTS = np.array([
    (-73.9840, 40.7549, 0.30),  # Midtown
    (-73.9566, 40.7736, 0.14),  # Upper East Side
    (-73.9754, 40.7870, 0.09),  # Upper West Side
    (-73.9897, 40.7410, 0.15),  # Chelsea / Flatiron
    (-74.0000, 40.7270, 0.15),  # Village / SoHo
    (-73.9880, 40.7180, 0.06),  # Lower East Side
    (-74.0090, 40.7100, 0.08),  # Financial District
    (-73.9500, 40.8100, 0.03),  # Harlem
])
OUTER_SPOTS = np.array([
    (-73.9570, 40.7140, 0.22),  # Williamsburg
    (-73.9880, 40.6920, 0.16),  # Downtown Brooklyn
    (-73.9780, 40.6720, 0.10),  # Park Slope
    (-73.9520, 40.7290, 0.08),  # Greenpoint
    (-73.9450, 40.7450, 0.14),  # Long Island City
    (-73.9220, 40.7640, 0.12),  # Astoria
    (-73.8850, 40.7550, 0.06),  # Jackson Heights
    (-73.9430, 40.6690, 0.06),  # Crown Heights
    (-73.9410, 40.6870, 0.06),  # Bedford-Stuyvesant
])
SPOT_SD_KM = 0.9
# Trip kinds (Manhattan <-> Brooklyn/Queens crossings; airport rides in the
# order of AIRPORTS) and their shares.
WITHIN_MANHATTAN, CROSSING, WITHIN_OUTER, TO_JFK, TO_LGA, TO_EWR = range(6)
KIND_PROBS = np.array([0.855, 0.095, 0.025, 0.013, 0.010, 0.002])
MEDIAN_TRIP_MILES = 1.6
TRIP_SIGMA = 0.75
AVENUE_BEARING_DEG = 29.0  # Manhattan street grid is tilted 29 degrees

# Relative number of pickups per hour of day (quiet 2-6 am, evening peak).
HOUR_WEIGHTS = np.array([3.9, 2.9, 2.2, 1.6, 1.2, 1.0, 2.1, 3.6, 4.5, 4.6, 4.4, 4.5,
                         4.8, 4.8, 5.0, 4.8, 4.2, 5.0, 6.0, 6.3, 5.9, 5.8, 5.7, 5.1])
# Median traffic speed (mph) of a short trip by hour, weekdays and weekends.
WEEKDAY_MPH = np.array([16, 17, 18, 18, 18, 16, 13, 10.5, 9, 9, 9.5, 9.5,
                        9.5, 9.5, 9.5, 9, 9, 9, 9.5, 10.5, 12, 13, 14, 15])
WEEKEND_MPH = np.array([14, 15, 16, 17, 17, 17, 16, 15, 14, 13, 12, 11.5,
                        11, 11, 11, 11, 11.5, 11.5, 12, 12.5, 13, 13.5, 13.5, 14])
# A ride alternates cruising at CRUISE_MPH with crawling below 12 mph (billed by
# the minute, covering next to no distance), so at average speed v a route of D
# miles spends 60 * D * (1/v - 1/CRUISE_MPH) minutes crawling.
CRUISE_MPH = 25.0
DETOUR_MEDIAN = 1.3

PASSENGER_PROBS = np.array([0.70, 0.147, 0.044, 0.021, 0.067, 0.021])
ZERO_COORDS_RATE, ZERO_PASSENGERS_RATE, LOW_FARE_RATE = 0.012, 0.004, 0.004
LOW_FARES = np.array([0.0, -2.5, -5.0, 1.5, 2.0])


class Rides(NamedTuple):
    """Visible columns of a batch of rides; `key` is formatted from
    `pickup_datetime` and the 7-digit running number `key_number`."""
    key_number: np.ndarray
    fare_amount: np.ndarray
    pickup_datetime: np.ndarray  # datetime64[s], UTC
    pickup_longitude: np.ndarray
    pickup_latitude: np.ndarray
    dropoff_longitude: np.ndarray
    dropoff_latitude: np.ndarray
    passenger_count: np.ndarray


class Hidden(NamedTuple):
    """Per-ride variables that set the fare but are not in the data."""
    detour: np.ndarray     # route distance / straight-line distance, >= 1
    speed_mph: np.ndarray  # average speed including stops
    tolled: np.ndarray     # took a tolled river crossing (if the trip crosses)


class Spread(NamedTuple):
    """How random the hidden variables are; zero spread makes fares a
    deterministic function of the visible columns (noise floor 0)."""
    detour_sigma: float = 0.15
    speed_sigma: float = 0.3
    toll_prob: float = 0.3


SPREAD = Spread()


def clean_mask(rides: Rides) -> np.ndarray:
    """Boolean array: which rides of a `Rides` batch the pipeline's row filter
    keeps (every generated dirty row fails it)."""
    return is_clean_ride(rides._asdict())


def straight_miles(plon: Values, plat: Values, dlon: Values, dlat: Values) -> Values:
    """Great-circle distance in miles."""
    plon, plat, dlon, dlat = map(np.radians, (plon, plat, dlon, dlat))
    a = (np.sin((dlat - plat) / 2) ** 2
         + np.cos(plat) * np.cos(dlat) * np.sin((dlon - plon) / 2) ** 2)
    return 2 * 6371.0088 / KM_PER_MILE * np.arcsin(np.sqrt(a))


def in_manhattan(lon: Values, lat: Values) -> np.ndarray:
    """Boolean array: point inside the Manhattan polygon (ray casting)."""
    inside = np.zeros(np.broadcast(lon, lat).shape, bool)
    for (x1, y1), (x2, y2) in zip(MANHATTAN, np.roll(MANHATTAN, -1, axis=0)):
        crosses = (y1 > lat) != (y2 > lat)
        inside ^= crosses & (lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1))
    return inside


def _near(lon, lat, place):
    return straight_miles(lon, lat, *place) * KM_PER_MILE < AIRPORT_RADIUS_KM


def _hour_weekday(pickup_datetime):
    seconds = pickup_datetime.astype("datetime64[s]").astype(np.int64)
    days = seconds // 86400
    return (seconds // 3600) % 24, (days + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0


def fare(
    pickup_datetime: np.ndarray, plon: Values, plat: Values, dlon: Values, dlat: Values,
    detour: np.ndarray, speed_mph: np.ndarray, tolled: np.ndarray,
) -> np.ndarray:
    """Fare in dollars (rounded to cents) from the visible trip and the hidden
    variables; arrays broadcast, so hidden variables of shape (resamples, n)
    price n trips many times at once.

    Metered: $2.50 plus one click per 1/5 mile of route and per minute spent
    below 12 mph ($0.40 a click, $0.50 from 2012-09-04), $0.50 night surcharge
    (8 pm-6 am), $1 weekday 4-8 pm surcharge from 2012-09-04, Newark surcharge
    ($15, then $17.50).  JFK <-> Manhattan is flat ($45, then $52, plus $4.50 at
    the weekday peak).  Then $0.50 MTA tax from 2009-11-01 and the tunnel toll
    for tolled river crossings (always for Newark)."""
    hour, weekday = _hour_weekday(pickup_datetime)
    new_rates = pickup_datetime >= RATE_CHANGE
    route = straight_miles(plon, plat, dlon, dlat) * detour
    slow_minutes = 60 * route * np.maximum(1 / speed_mph - 1 / CRUISE_MPH, 0)
    clicks = np.floor(5 * route + slow_minutes)
    night = (hour >= 20) | (hour < 6)
    peak = new_rates & (weekday < 5) & (hour >= 16) & (hour < 20)
    newark = _near(plon, plat, EWR) | _near(dlon, dlat, EWR)
    metered = (2.5 + np.where(new_rates, 0.5, 0.4) * clicks + 0.5 * night + 1.0 * peak
               + newark * np.where(new_rates, 17.5, 15.0))

    pickup_manhattan, dropoff_manhattan = in_manhattan(plon, plat), in_manhattan(dlon, dlat)
    jfk_flat = ((_near(plon, plat, JFK) & dropoff_manhattan)
                | (_near(dlon, dlat, JFK) & pickup_manhattan))
    flat = np.where(new_rates, 52.0, 45.0) + 4.5 * peak

    toll = TOLL_AMOUNTS[np.searchsorted(TOLL_CHANGES, pickup_datetime, side="right")]
    crossing = pickup_manhattan != dropoff_manhattan
    total = (np.where(jfk_flat, flat, metered) + 0.5 * (pickup_datetime >= MTA_TAX_START)
             + toll * (newark | (crossing & tolled)))
    return np.round(total, 2)


def sample_hidden(
    rides: Rides, rng: np.random.Generator, resamples: int | None = None, spread: Spread = SPREAD
) -> Hidden:
    """Draw the hidden variables for each ride (shape (n,), or (resamples, n)).

    Speed is lognormal around a median that depends on hour and weekday and
    grows with trip length (long trips use highways)."""
    n = rides.pickup_datetime.shape[0]
    shape = (n,) if resamples is None else (resamples, n)
    hour, weekday = _hour_weekday(rides.pickup_datetime)
    miles = straight_miles(rides.pickup_longitude, rides.pickup_latitude,
                           rides.dropoff_longitude, rides.dropoff_latitude)
    median_mph = (np.where(weekday < 5, WEEKDAY_MPH[hour], WEEKEND_MPH[hour])
                  * np.clip(miles / 2, 1, 10) ** 0.35)
    detour = DETOUR_MEDIAN * np.exp(spread.detour_sigma * rng.standard_normal(shape))
    speed = median_mph * np.exp(spread.speed_sigma * rng.standard_normal(shape))
    tolled = rng.random(shape) < spread.toll_prob
    return Hidden(np.maximum(detour, 1.0), np.clip(speed, 2.5, 40.0), tolled)


def _spot_points(rng, n, spots, want_manhattan):
    """n points scattered around weighted spots, resampled until each lies
    on the wanted side of the Manhattan shore and inside the NYC box."""
    lon, lat = np.empty(n), np.empty(n)
    todo = np.arange(n)
    while todo.size:
        spot = rng.choice(len(spots), todo.size, p=spots[:, 2] / spots[:, 2].sum())
        noise = rng.standard_normal((2, todo.size)) * SPOT_SD_KM
        lon[todo] = spots[spot, 0] + noise[0] / KM_PER_DEG_LON
        lat[todo] = spots[spot, 1] + noise[1] / KM_PER_DEG_LAT
        todo = todo[(in_manhattan(lon[todo], lat[todo]) != want_manhattan)
                    | ~in_nyc(lon[todo], lat[todo])]
    return lon, lat


def _displaced(rng, lon, lat, want_manhattan):
    """Trip ends a lognormal distance from (lon, lat), mostly along the avenues,
    redrawn until they land on the wanted side of the Manhattan shore."""
    end_lon, end_lat = np.empty_like(lon), np.empty_like(lat)
    todo = np.arange(lon.size)
    while todo.size:
        km = MEDIAN_TRIP_MILES * KM_PER_MILE * np.exp(TRIP_SIGMA * rng.standard_normal(todo.size))
        along = (AVENUE_BEARING_DEG + 180 * rng.integers(0, 2, todo.size)
                 + 25 * rng.standard_normal(todo.size))
        anywhere = 360 * rng.random(todo.size)
        bearing = np.radians(np.where(rng.random(todo.size) < 0.65, along, anywhere))
        end_lon[todo] = lon[todo] + km * np.sin(bearing) / KM_PER_DEG_LON
        end_lat[todo] = lat[todo] + km * np.cos(bearing) / KM_PER_DEG_LAT
        todo = todo[(in_manhattan(end_lon[todo], end_lat[todo]) != want_manhattan)
                    | ~in_nyc(end_lon[todo], end_lat[todo])]
    return end_lon, end_lat


def _trip_ends(rng, n):
    """Pickup and dropoff coordinates for n rides of mixed kinds."""
    kind = rng.choice(len(KIND_PROBS), n, p=KIND_PROBS)
    plon, plat = _spot_points(rng, n, MANHATTAN_SPOTS, True)
    dlon, dlat = _displaced(rng, plon, plat, True)

    outer = kind == WITHIN_OUTER
    plon[outer], plat[outer] = _spot_points(rng, outer.sum(), OUTER_SPOTS, False)
    dlon[outer], dlat[outer] = _displaced(rng, plon[outer], plat[outer], False)

    crossing = kind == CROSSING
    dlon[crossing], dlat[crossing] = _spot_points(rng, crossing.sum(), OUTER_SPOTS, False)

    airport = kind >= TO_JFK
    jitter = rng.standard_normal((2, airport.sum())) * 0.003
    dlon[airport] = AIRPORTS[kind[airport] - TO_JFK, 0] + jitter[0]
    dlat[airport] = AIRPORTS[kind[airport] - TO_JFK, 1] + jitter[1]
    from_outer = airport & (kind != TO_EWR) & (rng.random(n) < 0.2)
    plon[from_outer], plat[from_outer] = _spot_points(rng, from_outer.sum(), OUTER_SPOTS, False)

    # Half of the crossing and airport rides go the other way.
    swap = (crossing | airport) & (rng.random(n) < 0.5)
    plon[swap], dlon[swap] = dlon[swap], plon[swap]
    plat[swap], dlat[swap] = dlat[swap], plat[swap]
    return plon, plat, dlon, dlat


def generate_rides(n: int, seed: int | Sequence[int], key_offset: int = 0) -> tuple[Rides, Hidden]:
    """Generate n rides; returns (Rides, Hidden).

    Deterministic for a given seed (anything np.random.default_rng accepts).
    About 2% of rows are dirty like in the real data: 1.2% with all
    coordinates 0, 0.4% with 0 passengers, 0.4% with a fare below $2.50.
    Key numbers run from key_offset + 1, so files with disjoint ranges have
    disjoint keys."""
    if key_offset + n > 9_999_999:
        raise ValueError("key numbers must fit in 7 digits")
    rng = np.random.default_rng(seed)
    days = rng.integers(0, (END - START).astype(int) + 1, n)
    hours = rng.choice(24, n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    seconds = days * 86400 + hours * 3600 + rng.integers(0, 3600, n)
    pickup_datetime = START.astype("datetime64[s]") + seconds
    plon, plat, dlon, dlat = _trip_ends(rng, n)
    passengers = rng.choice(np.arange(1, 7), n, p=PASSENGER_PROBS)
    rides = Rides(key_offset + 1 + np.arange(n), np.zeros(n), pickup_datetime,
                  plon, plat, dlon, dlat, passengers)
    hidden = sample_hidden(rides, rng)
    fares = fare(pickup_datetime, plon, plat, dlon, dlat, *hidden)

    dirt = rng.random(n)
    zero_coords = dirt < ZERO_COORDS_RATE
    zero_passengers = (dirt >= ZERO_COORDS_RATE) & (dirt < ZERO_COORDS_RATE + ZERO_PASSENGERS_RATE)
    low_fare = ((dirt >= ZERO_COORDS_RATE + ZERO_PASSENGERS_RATE)
                & (dirt < ZERO_COORDS_RATE + ZERO_PASSENGERS_RATE + LOW_FARE_RATE))
    fares = np.where(low_fare, rng.choice(LOW_FARES, n), fares)
    passengers = np.where(zero_passengers, 0, passengers)
    plon, plat, dlon, dlat = (np.where(zero_coords, 0.0, c) for c in (plon, plat, dlon, dlat))
    return rides._replace(fare_amount=fares, passenger_count=passengers,
                          pickup_longitude=plon, pickup_latitude=plat,
                          dropoff_longitude=dlon, dropoff_latitude=dlat), hidden


def csv_bytes(rides: Rides) -> bytes:
    """The CSV text of the rides as bytes (header, `\\n` line endings)."""
    when = np.datetime_as_string(rides.pickup_datetime, unit="s").astype("U19")
    when.view("U1").reshape(-1, 19)[:, 10] = " "  # ISO 'T' -> ' ' in place
    when = when.tolist()
    row = "%s.%07d,%.2f,%s UTC,%.6f,%.6f,%.6f,%.6f,%d"
    lines = map(row.__mod__, zip(
        when, rides.key_number.tolist(), rides.fare_amount.tolist(), when,
        rides.pickup_longitude.tolist(), rides.pickup_latitude.tolist(),
        rides.dropoff_longitude.tolist(), rides.dropoff_latitude.tolist(),
        rides.passenger_count.tolist()))
    return ("\n".join([HEADER, *lines]) + "\n").encode("ascii")


def write_csv(path: str | Path, rides: Rides) -> str:
    """Write the rides as CSV; returns the sha256 hex digest of the bytes."""
    data = csv_bytes(rides)
    Path(path).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _take(rides, index):
    return type(rides)(*(column[index] for column in rides))


def estimate_noise_floor(
    rides: Rides, seed: int | Sequence[int], resamples: int = 200, spread: Spread = SPREAD
) -> float:
    """RMSE of the best possible predictor on the clean rows of `rides`.

    Under squared loss the best predictor given the visible columns is the
    conditional mean of the fare, so its RMSE is the root of the mean (over
    clean rows) of the fare variance, estimated by pricing each ride with
    `resamples` fresh draws of the hidden variables."""
    rng = np.random.default_rng(seed)
    clean = np.flatnonzero(clean_mask(rides))
    if clean.size == 0 or resamples < 2:
        raise ValueError("need at least one clean row and two resamples")
    rows_per_chunk = max(1, 500_000 // resamples)
    total_variance = 0.0
    for start in range(0, clean.size, rows_per_chunk):
        part = _take(rides, clean[start:start + rows_per_chunk])
        samples = fare(part.pickup_datetime, part.pickup_longitude, part.pickup_latitude,
                       part.dropoff_longitude, part.dropoff_latitude,
                       *sample_hidden(part, rng, resamples, spread))
        total_variance += samples.var(axis=0, ddof=1).sum()
    return float(np.sqrt(total_variance / clean.size))


def write_dataset(
    out_dir: str | Path, train_rows: int = 10_000, eval_rows: int = 2_000, seed: int = 2026, resamples: int = 200
) -> dict[str, dict[str, Any]]:
    """Write train.csv, eval.csv and noise_floor.json into out_dir.

    noise_floor.json records, per file, its sha256 so the pipeline can check
    that a noise floor belongs to the data it evaluates.  Returns that dict
    with the clean-fare mean and median added per file."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    record, summary = {}, {}
    for stream, (name, rows, key_offset) in enumerate(
            [("train.csv", train_rows, 0), ("eval.csv", eval_rows, train_rows)]):
        rides, _ = generate_rides(rows, (seed, stream), key_offset)
        clean = clean_mask(rides)
        record[name] = {
            "sha256": write_csv(out_dir / name, rides),
            "rows": rows,
            "clean_rows": int(clean.sum()),
            "noise_floor_rmse": round(estimate_noise_floor(rides, (seed, stream, 1), resamples), 4),
            "resamples": resamples,
            "seed": seed,
        }
        summary[name] = dict(record[name],
                             mean_clean_fare=round(float(rides.fare_amount[clean].mean()), 4),
                             median_clean_fare=float(np.median(rides.fare_amount[clean])))
    (out_dir / "noise_floor.json").write_bytes(
        (json.dumps(record, indent=2, sort_keys=True) + "\n").encode("ascii"))
    return summary


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tft_build.examples.taxi.datagen",
        description="Generate the synthetic NYC taxi fare data (train.csv, eval.csv) "
                    "and its noise floor (noise_floor.json). The same arguments "
                    "always give byte-identical files; the defaults give the "
                    "committed data.")
    parser.add_argument("--out", default="data",
                        help="output directory (default: %(default)s)")
    parser.add_argument("--train-rows", type=int, default=10_000,
                        help="rows in train.csv (default: %(default)s)")
    parser.add_argument("--eval-rows", type=int, default=2_000,
                        help="rows in eval.csv (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=2026,
                        help="non-negative random seed (default: %(default)s)")
    parser.add_argument("--resamples", type=int, default=200,
                        help="hidden-variable draws per row for the noise floor "
                             "(default: %(default)s)")
    args = parser.parse_args(argv)
    summary = write_dataset(args.out, args.train_rows, args.eval_rows, args.seed, args.resamples)
    for name, info in summary.items():
        dirty = info["rows"] - info["clean_rows"]
        print(f"{args.out}/{name}: {info['rows']} rows, {dirty} dirty, clean fare "
              f"mean ${info['mean_clean_fare']:.2f} median ${info['median_clean_fare']:.2f}, "
              f"noise floor RMSE ${info['noise_floor_rmse']:.2f}")


if __name__ == "__main__":
    main()
