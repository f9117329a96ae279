"""Speed and accuracy figures on full-size synthetic data or on a folder of Kaggle files.

Runs, in throwaway copies of the project with their own MLflow databases:

1. ``kedro run`` (the default pipeline that ``make run`` runs: data -> training -> registration
   -> validation gate), timed as a whole, with the slowest nodes and the peak memory;
2. batch inference on test.csv: ``kedro run --pipelines inference`` against a bare script that
   loads the same pyfunc and predicts, the drift check's node time, and what scoring a Staging
   version in Production's shadow adds (the same batch with ``inference.shadow`` on and off;
   the Staging version is a copy of version 1, ``_staging_copy.py``), and what the forecast
   quantiles add to a predict (``_quantile_cost.py``) and to ``kedro run`` (their node);
3. accuracy the way a user lives it: the last ``--cut-days`` (42) days are cut off train.csv,
   ``kedro run`` runs on the rest, and the version it registers (the one it would serve)
   forecasts the cut days through its pyfunc. The table gives, for the ensemble, each booster
   and the per-(Store, DayOfWeek, Promo) median baseline: the CV estimate, the holdout the gate
   scored (the backtest) and the cut days (the served version), with the bias.

Besides, in the same run so that they hold on a busy machine, the ratios against their limits:
the training pipeline against bare library fits on the same matrices (``_bare_training.py``),
the inference pipeline against a bare pyfunc call (``_bare_inference.py``), and the commands
people type against bare ``import kedro, mlflow`` (``command_speed.py``).

Every step is measured as its own child process: wall time, CPU time (user + system) and peak
RSS. The result is written to ``benchmark/results/<date>-<commit>[-<label>].json`` and ``.md``
(``benchmark_report.py``) and the block of its kind in ``docs/benchmarks.md`` is refilled from it.

Usage: ``python scripts/benchmark.py [--data DIR] [--n-stores 1115] [--cut-days 42] [--keep]
[--no-docs]`` (``make benchmark DATA=../shared/realdata-dev``). ``--data`` names a folder
holding train.csv, store.csv and test.csv; it is copied into the throwaway project, never into
this one, and only figures leave it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import Measurement, git_commit, machine, now_utc, run_measured  # noqa: E402
from benchmark_report import render_markdown, update_page, write_result  # noqa: E402
from command_speed import KEDRO_START  # noqa: E402
from command_speed import measure as measure_commands  # noqa: E402

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


NODE_LINE = re.compile(
    r"\[\d+/\d+\] (\S+) done in ([\d.]+) s \([\d.]+ s elapsed, peak RSS ([\d.]+) GiB\)"
)

# The limits, each measured in the same benchmark run.
LIMITS = {
    # Issue #19: a full-size `make run` may take up to 6 minutes where accuracy needs it.
    "make_run_wall_s": 360.0,
    "make_run_peak_rss_gib": 2.5,
    "training_ratio": 1.15,
    "inference_ratio": 1.2,
    "drift_check_s": 3.0,
    "shadow_ratio": 1.0,
    "command_ratio": 1.3,
    "in_process_s": 0.1,
    # What the quantiles may add: to a batch's predict, and to `kedro run` (issue 23).
    "quantile_predict_ratio": 1.10,
    "quantile_run_share": 0.15,
    # The P10-P90 interval on the cut days: overall and in each week of horizon.
    "coverage_overall": (0.77, 0.83),
    "coverage_weekly": (0.72, 0.88),
}


def measured(name: str, command: list[str], project: Path, env: dict[str, str]) -> Measurement:
    """Run one step as its own child (wall, CPU, peak RSS); exit with its output on failure."""
    log = project.parent / (re.sub(r"\W+", "-", name).strip("-") + ".log")
    result = run_measured(name, command, project, env, log=log)
    print(
        f"{name}: {result.wall_s:.1f} s wall, {result.cpu_s:.1f} s CPU, "
        f"peak RSS {result.peak_rss_mib / 1024:.2f} GiB",
        flush=True,
    )
    if not result.ok:
        print(result.output[-5000:])
        sys.exit(f"{' '.join(command)} failed with exit code {result.returncode} (log: {log})")
    return result


def nodes(output: str) -> list[dict[str, Any]]:
    """Each node's seconds and the run's peak RSS after it, from the progress lines."""
    return [
        {"name": name, "seconds": float(seconds), "peak_rss_gib": float(peak)}
        for name, seconds, peak in NODE_LINE.findall(output)
    ]


def step(measurement: Measurement, **extra: Any) -> dict[str, Any]:
    return {**measurement.as_dict(), **extra}


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


def target(name: str, value: float | None, limit: float, unit: str = "x", detail: str = "",
           op: str = "<=") -> dict[str, Any]:  # fmt: skip
    compare = {"<=": lambda a, b: a <= b, "<": lambda a, b: a < b, ">=": lambda a, b: a >= b}
    met = None if value is None else compare[op](value, limit)
    return {"name": name, "value": value, "limit": limit, "unit": unit, "op": op,
            "met": met, "detail": detail}  # fmt: skip


def data_description(source: Path | None, n_stores: int, project: Path) -> dict[str, Any]:
    train = pd.read_csv(project / "data" / "01_raw" / "train.csv", usecols=["Store"])
    rows, stores = len(train), int(train["Store"].nunique())
    if source is None:
        return {
            "source": "synthetic", "n_stores": n_stores, "train_rows": rows,
            "description": f"full-size synthetic data ({stores:,} stores, {rows:,} train rows)"
            if n_stores == 1115 else f"synthetic data ({stores:,} stores, {rows:,} train rows)",
        }  # fmt: skip
    return {
        "source": "kaggle files", "label": source.name, "n_stores": stores, "train_rows": rows,
        "description": f"the Kaggle files in `{source.name}` ({stores:,} stores, {rows:,} train "
        "rows)",
    }  # fmt: skip


def make_run(kedro: str, project: Path, env: dict[str, str], source: Path | None,
             result: dict[str, Any]) -> None:  # fmt: skip
    """What `make run` runs: the data (synthetic when there is none), then `kedro run`."""
    steps = []
    if source is None:
        steps.append(measured("kedro data synthesize", [kedro, "data", "synthesize"], project, env))
    run = measured("kedro run", [kedro, "run"], project, env)
    result["steps"] += [step(m) for m in steps]
    result["steps"].append(step(run, nodes=nodes(run.output),
                                note="what `make run` runs: data -> training -> registration -> gate"))  # fmt: skip
    steps.append(run)
    wall = sum(m.wall_s for m in steps)
    peak = max(m.peak_rss_mib for m in steps) / 1024
    result["targets"] += [
        target("`make run` wall time (data -> registered, gated version)", wall,
               LIMITS["make_run_wall_s"], "s", op="<"),
        target("`make run` peak RSS", peak, LIMITS["make_run_peak_rss_gib"], "GiB", op="<"),
    ]  # fmt: skip


def training_ratio(kedro: str, project: Path, env: dict[str, str], result: dict[str, Any]) -> None:
    """The training pipeline against the bare library fits on the same matrices and folds."""
    training = measured(
        "kedro run --pipelines training", [kedro, "run", "--pipelines", "training"], project, env
    )
    bare = measured(
        "bare library fits (same matrices, parameters, folds)",
        [sys.executable, str(ROOT / "scripts" / "_bare_training.py")], project, env,
    )  # fmt: skip
    fits = json.loads(bare.output.strip().splitlines()[-1])
    result["steps"] += [step(training, nodes=nodes(training.output)),
                        step(bare, note=f"{len(fits['fits'])} fits, {fits['fit_s']:.1f} s "
                             "inside the library calls")]  # fmt: skip
    result["training_fits"] = fits
    result["targets"].append(target(
        "training pipeline / bare library fits", training.wall_s / fits["fit_s"],
        LIMITS["training_ratio"], detail=f"{training.wall_s:.1f} s / {fits['fit_s']:.1f} s",
    ))  # fmt: skip


def inference_ratio(kedro: str, project: Path, env: dict[str, str], result: dict[str, Any]) -> None:
    """Batch inference on test.csv: the pipeline against a bare pyfunc load-and-predict."""
    inference = measured(
        "kedro run --pipelines inference",
        [kedro, "run", "--pipelines", "inference", "--params", "inference.version=1"], project, env,
    )  # fmt: skip
    bare = measured(
        "bare pyfunc load + predict", [sys.executable, str(ROOT / "scripts" / "_bare_inference.py"),
                                       "--uri", "models:/rossmann-ensemble/1"], project, env,
    )  # fmt: skip
    inside = re.search(r"Model load ([\d.]+) s, predict ([\d.]+) s", inference.output)
    result["steps"] += [
        step(inference, note=f"model load {inside[1]} s, predict {inside[2]} s" if inside else ""),
        step(bare, note=bare.output.strip().splitlines()[-1]),
    ]
    result["targets"].append(target(
        "inference pipeline / bare pyfunc load + predict (test.csv)",
        inference.wall_s / bare.wall_s, LIMITS["inference_ratio"],
        detail=f"{inference.wall_s:.1f} s / {bare.wall_s:.1f} s",
    ))  # fmt: skip
    drift = node_seconds(inference.output, "check_drift")
    result["targets"].append(target(
        "drift check of test.csv (check_drift node)", drift, LIMITS["drift_check_s"], "s",
    ))  # fmt: skip
    shadow_cost(kedro, project, env, result, bare)
    quantile_cost(project, env, result)


def quantile_cost(project: Path, env: dict[str, str], result: dict[str, Any]) -> None:
    """What the forecast quantiles cost: predicting test.csv with and without them (the same
    loaded version), and the calibration node's share of ``kedro run``."""
    cost = measured("predict test.csv with and without quantiles",
                    [sys.executable, str(ROOT / "scripts" / "_quantile_cost.py")], project, env)  # fmt: skip
    figures = json.loads(cost.output.strip().splitlines()[-1])
    result["steps"].append(step(cost, note=f"median {figures['with_s']:.2f} s with, "
                                f"{figures['without_s']:.2f} s without"))  # fmt: skip
    result["targets"].append(target(
        "predict with quantiles / without (test.csv)", figures["ratio"],
        LIMITS["quantile_predict_ratio"],
        detail=f"{figures['with_s']:.2f} s / {figures['without_s']:.2f} s",
    ))  # fmt: skip
    run = next((s for s in result["steps"] if s["name"] == "kedro run"), None)
    run_nodes = (run or {}).get("nodes") or []
    calibrate = next((n["seconds"] for n in run_nodes if n["name"] == "calibrate_intervals"), None)
    if run is not None and calibrate is not None:
        result["targets"].append(target(
            "quantile calibration node / `kedro run` wall", calibrate / run["wall_s"],
            LIMITS["quantile_run_share"], detail=f"{calibrate:.1f} s / {run['wall_s']:.1f} s",
        ))  # fmt: skip


def node_seconds(output: str, node: str) -> float | None:
    """A node's time from the run's progress lines (``[i/n] <node> done in X s ...``)."""
    times = [float(m[2]) for m in NODE_LINE.finditer(output) if m[1] == node]
    return times[-1] if times else None


def shadow_cost(
    kedro: str, project: Path, env: dict[str, str], result: dict[str, Any], bare: Measurement
) -> None:
    """What scoring Staging in Production's shadow adds to a batch: inference serving
    Production with a Staging version, against the same with ``inference.shadow=false``."""
    measured("kedro model promote", [kedro, "model", "promote", "--reason", "benchmark"],
             project, env)  # fmt: skip
    measured("a copy of version 1 in Staging",
             [sys.executable, str(ROOT / "scripts" / "_staging_copy.py"), "--version", "1"],
             project, env)  # fmt: skip
    alone = measured("kedro run --pipelines inference (shadow off)",
                     [kedro, "run", "--pipelines", "inference", "--params",
                      "inference.shadow=false"], project, env)  # fmt: skip
    shadowed = measured("kedro run --pipelines inference (Staging in the shadow)",
                        [kedro, "run", "--pipelines", "inference"], project, env)  # fmt: skip
    shadow_node = node_seconds(shadowed.output, "forecast_in_the_shadow")
    result["steps"] += [step(alone), step(shadowed, note=f"shadow node {shadow_node} s")]
    extra = shadowed.wall_s - alone.wall_s
    result["targets"].append(target(
        "shadow scoring: added wall / bare pyfunc load + predict", extra / bare.wall_s,
        LIMITS["shadow_ratio"], detail=f"{extra:.1f} s / {bare.wall_s:.1f} s",
    ))  # fmt: skip


def command_ratios(repeats: int, result: dict[str, Any]) -> None:
    """The commands people type, against bare `import kedro, mlflow`, 50 versions registered."""
    commands = measure_commands(repeats=repeats)
    result["commands"] = commands
    for name, figures in commands["commands"].items():
        if name.startswith("kedro model ") and name != KEDRO_START:
            result["targets"].append(target(f"`{name}` / bare imports", figures["ratio"],
                                            LIMITS["command_ratio"],
                                            detail=f"{figures['wall_s']:.2f} s"))  # fmt: skip
    for name, figures in commands["in_process"].items():
        result["targets"].append(target(f"in-process {name}, median of {repeats}",
                                        figures["median_s"], LIMITS["in_process_s"], "s"))  # fmt: skip


def configured_max_rows() -> int | None:
    """``training.fit_rows.max_rows`` as conf/base sets it."""
    parameters = yaml.safe_load((ROOT / "conf" / "base" / "parameters_training.yml").read_text())
    return parameters["training"]["fit_rows"]["max_rows"]


def cut_days_accuracy(kedro: str, base: Path, source: Path, args: argparse.Namespace,
                      result: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """Accuracy the way a user lives it: cut the last days off, run, forecast them.

    Then the same with each ``--trade`` value of ``training.fit_rows.max_rows``, so that the
    time and accuracy the configured value buys are seen next to the alternatives.
    """
    project, env = make_project(base / "cut", args.n_stores)
    cut_rows = cut_train(source, project / "data" / "01_raw", args.cut_days)
    trade = []
    cut: dict[str, Any] = {}
    for max_rows in [configured_max_rows(), *args.trade]:
        override = [] if not trade else ["--params", f"training.fit_rows.max_rows={max_rows}"]
        label = f"kedro run, last {args.cut_days} days cut off" + (
            f", max_rows={max_rows}" if override else "")  # fmt: skip
        run = measured(label, [kedro, "run", *override], project, env)
        result["steps"].append(step(run))
        scores = accuracy(project, env, cut_rows)
        cut = cut or scores["cut"]
        trade.append({
            "max_rows": max_rows, "configured": not override, "wall_s": round(run.wall_s, 1),
            "cpu_s": round(run.cpu_s, 1), "peak_rss_mib": round(run.peak_rss_mib, 1),
            "gate": scores["gate"]["ensemble"], "cut": scores["cut"]["ensemble"],
            "cut_bias": scores["cut"]["bias"], "steal_pct": run.as_dict().get("steal_pct"),
        })  # fmt: skip
    result["trade"] = trade
    return cut


def calibration_targets(scores: dict[str, Any], result: dict[str, Any]) -> None:
    """The forecast quantiles on the cut days: coverage overall and by week, and their loss
    against the naive interval's (issue 23's targets)."""
    cut = scores.get("cut") or {}
    bands, naive = cut.get("intervals"), cut.get("naive_intervals")
    if not bands:
        return
    low, high = LIMITS["coverage_overall"]
    weekly = [v for k, v in bands.items() if k.startswith("interval_coverage_week")]
    week_low, week_high = LIMITS["coverage_weekly"]
    result["targets"] += [
        target("P10-P90 coverage of the cut days, at least", bands["interval_coverage"], low,
               "", op=">="),
        target("P10-P90 coverage of the cut days, at most", bands["interval_coverage"], high, ""),
        target("P10-P90 coverage, worst week of horizon, at least", min(weekly), week_low, "",
               op=">="),
        target("P10-P90 coverage, worst week of horizon, at most", max(weekly), week_high, ""),
        target("quantile loss / naive interval's (cut days)",
               bands["quantile_loss"] / naive["quantile_loss"], 1.0,
               detail=f"{bands['quantile_loss']:.4f} / {naive['quantile_loss']:.4f}", op="<"),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="folder with train.csv, store.csv, test.csv")
    parser.add_argument("--n-stores", type=int, default=1115)
    parser.add_argument("--cut-days", type=int, default=42)
    parser.add_argument("--repeats", type=int, default=5, help="repetitions of each command")
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=["training", "commands", "cut"],
        help="leave out the training ratio, the commands or the cut-day run",
    )
    parser.add_argument(
        "--trade",
        type=int,
        nargs="*",
        default=[200_000],
        help="other training.fit_rows.max_rows values to run the cut days with",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary projects")
    parser.add_argument("--no-docs", "--no-readme", action="store_true", dest="no_docs",
                        help="do not refill docs/benchmarks.md")  # fmt: skip
    args = parser.parse_args()  # fmt: skip
    if args.data is not None:
        missing = [n for n in KAGGLE_FILES if not (args.data / n).is_file()]
        if missing:
            sys.exit(f"{args.data} lacks {', '.join(missing)}")
    kedro = str(Path(sys.executable).with_name("kedro"))
    base = Path(tempfile.mkdtemp(prefix="rossmann-benchmark-"))
    source = args.data.resolve() if args.data else None
    commit, dirty = git_commit(ROOT)
    options = (f" DATA={args.data}" if args.data else "") + (
        f' ARGS="{" ".join(sys.argv[1:])}"' if sys.argv[1:] else "")  # fmt: skip
    result: dict[str, Any] = {
        "schema": 1, "kind": "real" if source else "synthetic", "created": now_utc(),
        "commit": commit, "dirty": dirty, "command": "make benchmark" + options,
        "machine": machine(reference=True), "steps": [], "targets": [],
        # A run with parts skipped or another size is kept, never on the page
        # (benchmark_report.latest).
        "headline": not args.skip and args.cut_days == parser.get_default("cut_days")
        and (args.data is not None or args.n_stores == parser.get_default("n_stores")),
    }  # fmt: skip
    reference = result["machine"]["reference_fit"]
    print(
        f"Benchmark in {base} ({result['machine']['cores']} cores; reference fit "
        f"{reference['wall_s']:.2f} s, {reference['cpu_s']:.2f} s CPU)",
        flush=True,
    )

    project, env = make_project(base / "full", args.n_stores, source)
    make_run(kedro, project, env, source, result)
    result["data"] = data_description(source, args.n_stores, project)
    scores = accuracy(project, env)  # before anything else registers a version
    if "training" not in args.skip:
        training_ratio(kedro, project, env, result)
    inference_ratio(kedro, project, env, result)
    if "commands" not in args.skip:
        command_ratios(args.repeats, result)
    if "cut" not in args.skip:
        scores["cut"] = cut_days_accuracy(
            kedro, base, source or project / "data" / "01_raw", args, result
        )
    scores["cut_days"] = args.cut_days
    result["accuracy"] = scores
    calibration_targets(scores, result)

    path = write_result(result)
    print("\n" + render_markdown(result))
    print(f"Written: {path} and {path.with_suffix('.md')}")
    if not args.no_docs:
        update_page()
        print("docs/benchmarks.md: tables refilled (make benchmark-docs)")
    if args.keep:
        print(f"Kept {base}")
    else:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
