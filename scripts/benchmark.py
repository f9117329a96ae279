"""Speed and accuracy figures on full-size synthetic data or on a folder of Kaggle files.

Runs, in throwaway copies of the project with their own MLflow databases:

1. ``kedro run`` (the default pipeline that ``make run`` runs: data -> training -> registration
   -> validation gate), timed as a whole, with the slowest nodes and the peak memory;
2. batch inference on test.csv: ``kedro run --pipelines inference`` against a bare script that
   loads the same pyfunc and predicts;
3. accuracy the way a user lives it: the last ``--cut-days`` (42) days are cut off train.csv,
   ``kedro run`` runs on the rest, and the version it registers (the one it would serve)
   forecasts the cut days through its pyfunc. The table gives, for the ensemble, each booster
   and the per-(Store, DayOfWeek, Promo) median baseline: the CV estimate, the holdout the gate
   scored (the backtest) and the cut days (the served version), with the bias.

Usage: ``python scripts/benchmark.py [--data DIR] [--n-stores 1115] [--cut-days 42] [--keep]``
(``make benchmark ARGS="--data ../shared/realdata-dev"``). ``--data`` names a folder holding
train.csv, store.csv and test.csv; it is copied into the throwaway project, never into this one.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "rossmann_forecast"
LAYERS = ("01_raw", "02_intermediate", "03_primary", "04_feature", "05_model_input",
          "06_models", "07_model_output", "08_reporting")  # fmt: skip


KAGGLE_FILES = ("train.csv", "store.csv", "test.csv")


def make_project(base: Path, n_stores: int, raw: Path | None = None) -> tuple[Path, dict[str, str]]:
    """A copy of the project (conf, pyproject, linked package) with its own MLflow store.

    With ``raw`` the three Kaggle files are copied from that folder into the copy's
    ``data/01_raw``; without it the folder stays empty (``kedro data synthesize`` fills it).
    """
    project = base / "project"
    shutil.copytree(ROOT / "conf", project / "conf", ignore=shutil.ignore_patterns("local"))
    (project / "conf" / "local").mkdir()
    if n_stores != 1115:
        (project / "conf" / "local" / "parameters_benchmark.yml").write_text(
            f"data_processing:\n  synthetic:\n    n_stores: {n_stores}\n"
        )
    shutil.copy2(ROOT / "pyproject.toml", project / "pyproject.toml")
    (project / "src").mkdir()
    (project / "src" / PACKAGE).symlink_to(ROOT / "src" / PACKAGE, target_is_directory=True)
    for layer in LAYERS:
        (project / "data" / layer).mkdir(parents=True)
    if raw is not None:
        for name in KAGGLE_FILES:
            shutil.copy2(raw / name, project / "data" / "01_raw" / name)
    # One plain line per log record, so that node timings can be read back from the output.
    logging_config = base / "logging.yml"
    logging_config.write_text(
        "version: 1\ndisable_existing_loggers: false\n"
        "formatters: {plain: {format: '%(levelname)s %(name)s: %(message)s'}}\n"
        "handlers: {console: {class: logging.StreamHandler, formatter: plain, "
        "stream: ext://sys.stdout}}\n"
        "loggers: {kedro: {level: INFO}, rossmann_forecast: {level: INFO}}\n"
        "root: {level: WARNING, handlers: [console]}\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"MLFLOW_TRACKING_URI", "KEDRO_ENV"}}
    env.update(
        KEDRO_LOGGING_CONFIG=logging_config.as_posix(),
        MLFLOW_TRACKING_URI=f"sqlite:///{(base / 'mlflow.db').as_posix()}",
        ROSSMANN_ARTIFACT_ROOT=(base / "artifacts").as_posix(),
        KEDRO_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="1",
    )
    return project, env


def cut_train(source: Path, target: Path, days: int) -> Path:
    """Copy the Kaggle files from ``source`` to ``target`` with the last ``days`` days of
    train.csv cut off; returns the CSV of the cut rows (written beside ``target``)."""
    target.mkdir(parents=True, exist_ok=True)
    train = pd.read_csv(source / "train.csv", dtype={"StateHoliday": str}, keep_default_na=False)
    dates = pd.to_datetime(train["Date"])
    first_cut = dates.max() - pd.Timedelta(days=days - 1)
    train[dates < first_cut].to_csv(target / "train.csv", index=False)
    cut = target.parent / "cut_days.csv"
    train[dates >= first_cut].to_csv(cut, index=False)
    for name in ("store.csv", "test.csv"):
        shutil.copy2(source / name, target / name)
    return cut


def timed(command: list[str], project: Path, env: dict[str, str]) -> tuple[float, str]:
    """Run a command in the project; return wall seconds and its output (exit on failure)."""
    started = time.perf_counter()
    completed = subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    output = completed.stdout + completed.stderr
    if completed.returncode != 0:
        print(output[-5000:])
        sys.exit(f"{' '.join(command)} failed with exit code {completed.returncode}")
    return seconds, output


def accuracy(project: Path, env: dict[str, str], cut_days: Path | None = None) -> dict:
    """CV, gate (backtest) and cut-day (served) accuracy of the newest version: one JSON line."""
    command = [sys.executable, str(ROOT / "scripts" / "_accuracy.py")]
    if cut_days is not None:
        command += ["--cut-days", str(cut_days)]
    completed = subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        print(completed.stdout[-3000:], completed.stderr[-3000:])
        sys.exit("scripts/_accuracy.py failed")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def print_run(label: str, seconds: float, output: str) -> None:
    """Wall time, peak memory so far, the slowest nodes and the gate's line of one run."""
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"\n{label}: {seconds:.1f} s wall, peak RSS {peak_mib:.0f} MiB (largest child so far)")
    nodes = re.findall(r"\[\d+/\d+\] (\S+) done in ([\d.]+) s", output)
    for name, node_seconds in sorted(nodes, key=lambda n: -float(n[1]))[:12]:
        print(f"  {name:<45} {float(node_seconds):7.1f} s")
    node_total = sum(float(s) for _, s in nodes)
    print(f"  {'(all nodes)':<45} {node_total:7.1f} s")
    print(f"  {'(start-up, dataset I/O, MLflow logging)':<45} {seconds - node_total:7.1f} s")
    gate = re.search(r"Validation RMSPE: ([\d.]+)", output)
    print(f"  gate line: Validation RMSPE: {gate.group(1) if gate else '?'}")


MEMBERS = ("lightgbm", "xgboost", "catboost")


def print_accuracy(scores: dict, cut_days: int) -> None:
    """The accuracy table: CV vs the gate's holdout vs the cut days, each model and the bias."""
    cv = scores["cv"]
    folds = ", ".join(scores.get("cv_folds", {}).values())
    gate, cut = scores["gate"], scores.get("cut")
    print(
        f"\nAccuracy (RMSPE on open days with Sales > 0), version {scores['version']} "
        f"(gate: {scores['gate_status']})"
    )
    header = f"  {'':<44} {'ensemble':>8} " + " ".join(f"{m:>8}" for m in MEMBERS)
    print(header + f" {'median':>8} {'bias':>7} {'rows':>7}")
    print(
        f"  {'CV, folds from ' + folds:<44} {cv['rmspe_ensemble']:8.4f} "
        + " ".join(f"{cv[f'rmspe_{m}']:8.4f}" for m in MEMBERS)
        + f" {'':>8} {cv.get('bias_ensemble', float('nan')):+7.2%}"
    )
    rows = [(f"holdout (gate: backtest from {gate['origin']})", gate)]
    if cut is not None:
        rows.append((f"{cut_days} cut days (served version from {cut['origin']})", cut))
    for label, block in rows:
        print(
            f"  {label:<44} {block['ensemble']:8.4f} "
            + " ".join(f"{block[m]:8.4f}" for m in MEMBERS)
            + f" {block['median_baseline']:8.4f} {block['bias']:+7.2%} {block['rows']:7,}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="folder with train.csv, store.csv, test.csv")
    parser.add_argument("--n-stores", type=int, default=1115)
    parser.add_argument("--cut-days", type=int, default=42)
    parser.add_argument("--keep", action="store_true", help="keep the temporary projects")
    args = parser.parse_args()
    if args.data is not None:
        missing = [n for n in KAGGLE_FILES if not (args.data / n).is_file()]
        if missing:
            sys.exit(f"{args.data} lacks {', '.join(missing)}")
    kedro = str(Path(sys.executable).with_name("kedro"))
    base = Path(tempfile.mkdtemp(prefix="rossmann-benchmark-"))
    source = args.data.resolve() if args.data else None
    what = f"Kaggle files from {args.data}" if source else f"synthetic data, {args.n_stores} stores"
    print(f"Benchmark in {base} ({what}, {os.cpu_count()} cores)")

    project, env = make_project(base / "full", args.n_stores, source)
    if source is None:  # what `make run` does first on an empty data/01_raw
        seconds, _ = timed([kedro, "data", "synthesize"], project, env)
        print(f"`kedro data synthesize` ({args.n_stores:,} stores): {seconds:.1f} s")
    seconds, output = timed([kedro, "run"], project, env)
    print_run("`kedro run` on all of train.csv (what `make run` runs)", seconds, output)

    inference_seconds, inference_output = timed(
        [kedro, "run", "--pipelines", "inference", "--params", "inference.version=1"],
        project,
        env,
    )
    bare_seconds, bare = timed(
        [sys.executable, str(ROOT / "scripts" / "_bare_inference.py")], project, env
    )
    print(
        f"\nBatch inference on test.csv: kedro run --pipelines inference {inference_seconds:.1f} s"
    )
    inside = re.search(r"Model load ([\d.]+) s, predict ([\d.]+) s", inference_output)
    if inside:
        print(f"  inside the pipeline: model load {inside[1]} s, predict {inside[2]} s")
    print(f"  bare script (load pyfunc + predict): {bare_seconds:.1f} s; {bare.strip()}")
    print(f"  ratio: {inference_seconds / bare_seconds:.2f} (target <= 1.5)")

    cut_project, cut_env = make_project(base / "cut", args.n_stores)
    cut_rows = cut_train(source or project / "data" / "01_raw", cut_project / "data" / "01_raw",
                         args.cut_days)  # fmt: skip
    seconds, output = timed([kedro, "run"], cut_project, cut_env)
    print_run(f"`kedro run` with the last {args.cut_days} days cut off train.csv", seconds, output)
    print_accuracy(accuracy(cut_project, cut_env, cut_rows), args.cut_days)
    print("\nOn all of train.csv:", end="")
    print_accuracy(accuracy(project, env), args.cut_days)

    if args.keep:
        print(f"\nKept {base}")
    else:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
