"""Time and size the training-table build (``build_training_table``) against a git ref.

Writes synthetic Kaggle files (``kedro data synthesize``'s generator), validates and types them
as the data_processing pipeline does, then builds the training table once with ``features.py``
as it is at ``--ref`` (``main`` by default) and once with this checkout's, each in a fresh
process so that the peak resident memory (``ru_maxrss``) is that build's own. Finally the two
tables are compared exactly.

Usage: ``python scripts/features_benchmark.py [--n-stores 1115] [--days N] [--ref main]
[--work DIR]`` (``--days`` keeps only the last N days of train.csv, to see how the build grows
with the history; ``--work`` keeps the data and tables in DIR and reuses the data).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
FEATURES = Path("src/rossmann_forecast/model/features.py")


def prepare(work: Path, n_stores: int) -> tuple[Path, Path]:
    """Typed sales and store tables as Parquet (what ``sales_validated`` holds)."""
    from rossmann_forecast.raw.files import synthesize_raw_data  # noqa: PLC0415
    from rossmann_forecast.raw.schemas import validate_raw_table  # noqa: PLC0415

    sales_path, stores_path = work / "sales_validated.parquet", work / "stores_validated.parquet"
    if sales_path.exists() and stores_path.exists():
        return sales_path, stores_path
    raw = work / "01_raw"
    synthesize_raw_data(raw, n_stores=n_stores, seed=42)
    sales = pd.read_csv(raw / "train.csv", dtype={"StateHoliday": str})
    stores = pd.read_csv(
        raw / "store.csv", dtype={"StoreType": str, "Assortment": str, "PromoInterval": str}
    )
    validate_raw_table(sales, "train.csv").to_parquet(sales_path)
    validate_raw_table(stores, "store.csv").to_parquet(stores_path)
    return sales_path, stores_path


def build(features_file: Path, sales_path: Path, stores_path: Path, out: Path, days: int) -> dict:
    """One build in this process: seconds, peak RSS before and after, table shape."""
    spec = importlib.util.spec_from_file_location("features_under_test", features_file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    sales = pd.read_parquet(sales_path)
    if days:
        sales = sales.loc[sales["Date"] > sales["Date"].max() - pd.Timedelta(days=days)]
    stores = pd.read_parquet(stores_path)
    params = {
        **_feature_params(),
        "customers": "Customers" in sales.columns,
    }
    config = module.FeatureConfig.from_params(params)
    origin = sales["Date"].max() + pd.Timedelta(days=1)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    table = module.build_training_table(sales, stores, origin, config)
    seconds = time.perf_counter() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    table.to_pickle(out)
    return {
        "seconds": round(seconds, 1),
        "peak_rss_mib_before": round(rss_before / 1024),
        "peak_rss_mib": round(rss_after / 1024),
        "rows": len(table),
        "columns": table.shape[1],
        "table_mib": round(table.memory_usage(deep=True).sum() / 2**20),
        "sales_rows": len(sales),
        "blocks": int(table["block_origin"].nunique()),
    }


def _feature_params() -> dict:
    import yaml  # noqa: PLC0415

    conf = yaml.safe_load((ROOT / "conf/base/parameters_data_processing.yml").read_text())
    return conf["data_processing"]["features"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-stores", type=int, default=1115)
    parser.add_argument("--days", type=int, default=0, help="keep the last N days only")
    parser.add_argument("--ref", default="main", help="git ref of the 'before' features.py")
    parser.add_argument("--work", type=Path, help="folder to keep data and tables in")
    parser.add_argument("--child", nargs=4, metavar=("FEATURES", "SALES", "STORES", "OUT"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(build(*(Path(p) for p in args.child), days=args.days)))
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="features-benchmark-"))
    work.mkdir(parents=True, exist_ok=True)
    sales_path, stores_path = prepare(work, args.n_stores)
    before = work / "features_before.py"
    shown = subprocess.run(
        ["git", "show", f"{args.ref}:{FEATURES.as_posix()}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    before.write_text(shown.stdout)
    results = {}
    for label, features_file in ((args.ref, before), ("this checkout", ROOT / FEATURES)):
        out = work / f"table_{'before' if features_file == before else 'after'}.pkl"
        child = subprocess.run(
            [sys.executable, __file__, "--days", str(args.days), "--child"]
            + [str(p) for p in (features_file, sales_path, stores_path, out)],
            check=True,
            capture_output=True,
            text=True,
        )
        results[label] = json.loads(child.stdout.strip().splitlines()[-1])
        print(f"{label}: {results[label]}", flush=True)
    table_before = pd.read_pickle(work / "table_before.pkl")
    table_after = pd.read_pickle(work / "table_after.pkl")
    pd.testing.assert_frame_equal(table_before, table_after, check_exact=True)
    print(f"identical: yes ({len(table_after):,} rows x {table_after.shape[1]} columns)")
    print(f"work folder: {work}")


if __name__ == "__main__":
    main()
