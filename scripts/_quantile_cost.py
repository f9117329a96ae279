"""What the forecast quantiles cost a batch: the same loaded version predicts test.csv with its
quantiles and without them (its calibration set aside, as a version trained before them),
alternating, and the medians are compared. Prints one JSON line.

Run from the project root with ``MLFLOW_TRACKING_URI`` set (scripts/benchmark.py does).

Usage: ``python scripts/_quantile_cost.py [--uri models:/rossmann-ensemble/1] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import mlflow
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", default="models:/rossmann-ensemble/1")
    parser.add_argument("--input", default="data/01_raw/test.csv")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    rows = pd.read_csv(args.input, dtype={"StateHoliday": str})
    model = mlflow.pyfunc.load_model(args.uri)
    python_model = model.unwrap_python_model()
    calibration = python_model.intervals
    if not calibration:
        raise SystemExit(f"{args.uri} has no forecast quantiles to measure")
    seconds: dict[str, list[float]] = {"with": [], "without": []}
    for _ in range(args.repeats):
        for label, intervals in (("with", calibration), ("without", None)):
            python_model.intervals = intervals
            started = time.perf_counter()
            model.predict(rows)
            seconds[label].append(time.perf_counter() - started)
    with_q, without_q = (statistics.median(seconds[k]) for k in ("with", "without"))
    print(json.dumps({"rows": len(rows), "with_s": with_q, "without_s": without_q,
                      "ratio": with_q / without_q}))  # fmt: skip


if __name__ == "__main__":
    main()
