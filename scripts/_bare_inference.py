"""Bare batch inference, the benchmark's reference: load the pyfunc by URI, predict test.csv.

Run from the project root with ``MLFLOW_TRACKING_URI`` set (scripts/benchmark.py does).
Prints one line: rows, model load seconds and predict seconds.

Usage: ``python scripts/_bare_inference.py [--uri models:/rossmann-ensemble/3]
[--input data/01_raw/test.csv]`` (default: the newest version)
"""

from __future__ import annotations

import argparse
import time

import mlflow
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", help="model URI (default: the newest registered version)")
    parser.add_argument("--input", default="data/01_raw/test.csv")
    args = parser.parse_args()

    if args.uri is None:
        versions = mlflow.MlflowClient().search_model_versions("name='rossmann-ensemble'")
        args.uri = f"models:/rossmann-ensemble/{max(int(v.version) for v in versions)}"
    rows = pd.read_csv(args.input, dtype={"StateHoliday": str})
    started = time.perf_counter()
    model = mlflow.pyfunc.load_model(args.uri)
    loaded = time.perf_counter()
    predictions = model.predict(rows)
    done = time.perf_counter()
    assert len(predictions) == len(rows)
    print(f"{len(rows):,} rows: model load {loaded - started:.2f} s, predict {done - loaded:.2f} s")


if __name__ == "__main__":
    main()
