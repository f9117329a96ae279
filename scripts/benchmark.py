"""Speed and accuracy figures on full-size synthetic data (a benchmark, not a test).

Runs, in a throwaway copy of the project with its own MLflow database:

1. ``kedro run`` (the default pipeline that ``make run`` runs: data -> training -> registration
   -> validation gate), timed as a whole, with the slowest nodes and the peak memory;
2. the holdout RMSPE of the registered ensemble, of each of its boosters and of the
   per-(Store, DayOfWeek, Promo) median baseline, on the same rows;
3. batch inference on test.csv: ``kedro run --pipelines inference`` against a bare script that
   loads the same pyfunc and predicts (when the inference pipeline exists).

Usage: ``python scripts/benchmark.py [--n-stores 1115] [--keep]``
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

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "rossmann_forecast"
LAYERS = ("01_raw", "02_intermediate", "03_primary", "04_feature", "05_model_input",
          "06_models", "07_model_output", "08_reporting")  # fmt: skip


def make_project(base: Path, n_stores: int) -> tuple[Path, dict[str, str]]:
    """A copy of the project (conf, pyproject, linked package) with its own MLflow store."""
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


def accuracy(project: Path, env: dict[str, str]) -> dict[str, float]:
    """Holdout RMSPE of the ensemble, each booster and the median baseline, same rows."""
    script = ROOT / "scripts" / "_holdout_scores.py"
    completed = subprocess.run(
        [sys.executable, str(script)], cwd=project, env=env, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-stores", type=int, default=1115)
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args()
    kedro = str(Path(sys.executable).with_name("kedro"))
    base = Path(tempfile.mkdtemp(prefix="rossmann-benchmark-"))
    project, env = make_project(base, args.n_stores)
    print(f"Benchmark project: {project} ({args.n_stores} stores, {os.cpu_count()} cores)")

    seconds, output = timed([kedro, "run"], project, env)
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"\n`kedro run` (what `make run` runs): {seconds:.1f} s wall, peak RSS {peak_mib:.0f} MiB"
    )
    nodes = re.findall(r"\[\d+/\d+\] (\S+) done in ([\d.]+) s", output)
    for name, node_seconds in sorted(nodes, key=lambda n: -float(n[1]))[:12]:
        print(f"  {name:<45} {float(node_seconds):7.1f} s")
    node_total = sum(float(s) for _, s in nodes)
    print(f"  {'(all nodes)':<45} {node_total:7.1f} s")
    print(f"  {'(start-up, dataset I/O, MLflow logging)':<45} {seconds - node_total:7.1f} s")
    gate = re.search(r"Validation RMSPE: ([\d.]+)", output)
    print(f"  gate line: Validation RMSPE: {gate.group(1) if gate else '?'}")

    scores = accuracy(project, env)
    print("\nHoldout RMSPE (last 42 days of train, open days with Sales > 0, same rows):")
    for name, value in scores.items():
        print(f"  {name:<28} {value:.4f}")

    if (ROOT / "src" / PACKAGE / "pipelines" / "inference").exists():
        inference_seconds, inference_output = timed(
            [kedro, "run", "--pipelines", "inference", "--params", "inference.stage=staging"],
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

    if args.keep:
        print(f"\nKept {base}")
    else:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
