"""How fast the registry commands answer, against bare ``import kedro, mlflow``.

Builds a throwaway copy of the project whose SQLite MLflow database holds ``--versions`` (50)
versions of the registered model: one tiny pyfunc is logged once and registered that many
times, each version then judged by the real gate path (``ModelRegistry.record_validation``,
so the journal holds a realistic history) and a few promoted. Then, as subprocesses in that
copy, ``--repeats`` (5) times each:

* ``python -c "import kedro, mlflow"`` (the bare floor the commands are compared with);
* ``python -c ...`` that also reads the registry with ``MlflowClient`` (MLflow's own floor:
  SQLite store start-up plus the reads ``status`` needs);
* ``kedro model --help`` (Kedro's CLI start-up in the project: settings, plugins, no command);
* ``kedro model status``, ``history``, ``describe N`` and ``promote --version N --reason ...``
  (alternating between two versions, so every promote really moves Production);

and prints the median wall time, CPU (user+sys of the child, from ``wait4``), peak RSS and
the ratio to the bare imports. Last, the same registry operations in this process, through the
facade (median of ``--repeats``).

Usage: ``python scripts/command_speed.py [--repeats 5] [--versions 50] [--keep] [--json FILE]``.
Importable: ``measure(repeats=5) -> dict`` (what ``--json`` writes).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from _measure import LAUNCHER  # scripts/ is on sys.path: run as a script, or by the tests

SCRIPT = str(Path(__file__).resolve())
ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "rossmann_forecast"
MODEL_NAME = "rossmann-ensemble"  # conf/base/globals.yml: registered_model_name
BARE = "bare_import"
MLFLOW_FLOOR = "mlflow_read"
KEDRO_START = "kedro model --help"  # Kedro's CLI and the project's settings, no command run
# What ``status`` reads, with MLflow alone: the registered model (aliases), its versions and the
# lifecycle journal's intents. The floor a registry command cannot go under.
MLFLOW_READ_CODE = (
    "import kedro, mlflow\n"
    "from mlflow import MlflowClient\n"
    "client = MlflowClient()\n"
    f"client.get_registered_model({MODEL_NAME!r})\n"
    f"client.search_model_versions(\"name='{MODEL_NAME}'\", max_results=1000)\n"
    f"experiment = client.get_experiment_by_name('{MODEL_NAME}-lifecycle')\n"
    "client.search_runs([experiment.experiment_id], \"tags.`journal.state` = 'intent'\")\n"
)


# --------------------------------------------------------------------------------------------
# Pure helpers
# --------------------------------------------------------------------------------------------
def summarize(samples: Sequence[dict[str, float]], bare_wall_s: float | None) -> dict[str, Any]:
    """Medians of repeated runs (wall, CPU, peak RSS) and the wall ratio to the bare imports.

    Args:
        samples: One ``{"wall_s", "cpu_s", "peak_rss_mib"}`` per run.
        bare_wall_s: The bare imports' median wall time (None: no ratio).

    Returns:
        ``{"wall_s", "cpu_s", "peak_rss_mib", "ratio", "runs"}`` with ``runs`` the wall times.
    """
    if not samples:
        raise ValueError("no samples to summarize")
    wall = statistics.median(s["wall_s"] for s in samples)
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(statistics.median(s["cpu_s"] for s in samples), 3),
        "peak_rss_mib": round(max(s["peak_rss_mib"] for s in samples), 1),
        "ratio": round(wall / bare_wall_s, 2) if bare_wall_s else None,
        "runs": [round(s["wall_s"], 3) for s in samples],
    }


def alternating(first: int, second: int, count: int) -> list[int]:
    """``count`` promotion targets that alternate, so that every promotion moves Production.

    ``first`` must not be in Production when the series starts.
    """
    return [first if i % 2 == 0 else second for i in range(count)]


def format_table(results: dict[str, Any]) -> str:
    """The subprocess results as aligned lines (command, wall, CPU, RSS, ratio)."""
    lines = [f"{'command':<28} {'wall s':>7} {'cpu s':>7} {'RSS MiB':>8} {'ratio':>6}"]
    for name, row in results["commands"].items():
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "-"
        lines.append(
            f"{name:<28} {row['wall_s']:7.2f} {row['cpu_s']:7.2f} "
            f"{row['peak_rss_mib']:8.0f} {ratio:>6}"
        )
    lines.append("")
    lines.append(f"{'in-process (facade)':<28} {'median s':>9} {'max s':>7}")
    for name, row in results["in_process"].items():
        lines.append(f"{name:<28} {row['median_s']:9.3f} {row['max_s']:7.3f}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# The throwaway project and its registry
# --------------------------------------------------------------------------------------------
def make_project(base: Path) -> tuple[Path, dict[str, str]]:
    """A copy of the project (conf, pyproject, linked package) with its own SQLite MLflow
    database; the project's own logging configuration, as a user's command sees it."""
    project = base / "project"
    shutil.copytree(ROOT / "conf", project / "conf", ignore=shutil.ignore_patterns("local"))
    (project / "conf" / "local").mkdir()
    for name in ("pyproject.toml", ".telemetry"):  # .telemetry: the project's opt-out
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, project / name)
    (project / "src").mkdir()
    (project / "src" / PACKAGE).symlink_to(ROOT / "src" / PACKAGE, target_is_directory=True)
    drop = {"MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "KEDRO_ENV", "KEDRO_LOGGING_CONFIG",
            "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"}  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        MLFLOW_TRACKING_URI=f"sqlite:///{(base / 'mlflow.db').as_posix()}",
        ROSSMANN_ARTIFACT_ROOT=(base / "artifacts").as_posix(),
        KEDRO_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="1",
        GIT_PYTHON_REFRESH="quiet",
        PYTHONPATH=os.pathsep.join(
            [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
        COLUMNS="200",
    )
    return project, env


def build_registry(base: Path, tracking_uri: str, versions: int) -> dict[str, int]:
    """``versions`` versions of one tiny logged pyfunc, judged by the gate, a few promoted.

    Every fifth version is rejected; the others pass (each pushing the previous Staging
    version out); every tenth passed one is promoted. Returns two passed versions that are not
    in Production (the promotion targets) and a version to describe.
    """
    import mlflow  # noqa: PLC0415
    import mlflow.pyfunc  # noqa: PLC0415
    from mlflow import MlflowClient  # noqa: PLC0415

    from rossmann_forecast.registry import ModelRegistry, initial_version_tags  # noqa: PLC0415

    class ConstantModel(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input: list[str], params=None) -> list[float]:  # noqa: ANN001, ARG002
            return [1.0] * len(model_input)

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiment_id = client.create_experiment(
        "command-speed", artifact_location=(base / "artifacts" / "command-speed").as_uri()
    )
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        info = mlflow.pyfunc.log_model(
            name="model", python_model=ConstantModel(), pip_requirements=["mlflow"]
        )
    lineage = {
        "lineage.complete": "true",
        "lineage.data_source.source": "synthetic",
        "lineage.data_source.seed": "42",
        "lineage.data.train.sha256": "ab12cd34ef56ab12cd34",
        "lineage.git.commit": "0123456789abcdef",
        "cv.ensemble_rmspe": "0.101000",
    }
    client.create_registered_model(MODEL_NAME)
    registry = ModelRegistry(MODEL_NAME, client)
    passed: list[int] = []
    for number in range(1, versions + 1):
        version = int(
            client.create_model_version(
                MODEL_NAME,
                source=info.model_uri,
                run_id=run.info.run_id,
                tags={**initial_version_tags(), **lineage},
                model_id=info.model_id,
            ).version
        )
        ok = number % 5 != 0
        rmspe = 0.09 + (number % 7) / 1000 if ok else 0.31
        registry.record_validation(
            version,
            passed=ok,
            metrics={"holdout_rmspe": rmspe, "holdout_bias": -0.01},
            threshold=0.10,
            reason=f"holdout RMSPE {rmspe:.4f} {'<' if ok else '>='} 0.10",
            run_id=None,
            user="gate",
        )
        if ok:
            passed.append(version)
            if len(passed) % 10 == 0:
                registry.promote(reason="scheduled release", user="ann")
    production = registry.version_for_stage("production")
    targets = [v for v in passed if v != production][-2:]
    return {"first": targets[0], "second": targets[1], "describe": targets[0]}


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------
def run_child(command: list[str], cwd: Path, env: dict[str, str]) -> dict[str, float]:
    """Run ``command`` once; its wall time, CPU time (user+sys) and peak RSS (exit on failure)."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "usage.json"
        completed = subprocess.run(
            [sys.executable, "-c", LAUNCHER, str(report), *command],
            cwd=cwd, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if completed.returncode != 0 or not report.exists():
            sys.exit(
                f"{' '.join(command)} failed ({completed.returncode}):\n"
                f"{completed.stdout[-3000:]}{completed.stderr[-3000:]}"
            )
        return json.loads(report.read_text())


def time_in_process(operation: Callable[[], Any], repeats: int) -> dict[str, float]:
    """Median and max seconds of ``operation`` over ``repeats`` calls (after one warm-up)."""
    operation()
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        operation()
        seconds.append(time.perf_counter() - started)
    return {"median_s": round(statistics.median(seconds), 4), "max_s": round(max(seconds), 4)}


def measure(repeats: int = 5, versions: int = 50, keep: bool = False) -> dict[str, Any]:
    """Build the registry, time the commands and the facade; the results as a dict.

    Returns:
        ``{"versions", "repeats", "build_s", "commands": {name: {"wall_s", "cpu_s",
        "peak_rss_mib", "ratio", "runs"}}, "in_process": {name: {"median_s", "max_s"}}}``;
        ``commands`` holds ``bare_import`` (the denominator of every ratio) and the floors
        ``mlflow_read`` and ``kedro model --help`` besides the four commands.
    """
    base = Path(tempfile.mkdtemp(prefix="rossmann-command-speed-"))
    try:
        project, env = make_project(base)
        uri = env["MLFLOW_TRACKING_URI"]
        started = time.perf_counter()
        # In a child process: logging the model goes through MLflow's fluent API, whose global
        # tracking URI would otherwise stay pointed at this throwaway database in the caller.
        built = subprocess.run(
            [sys.executable, SCRIPT, "--build", str(base), "--versions", str(versions)],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if built.returncode != 0:
            sys.exit(f"Building the registry failed:\n{built.stdout[-3000:]}{built.stderr[-3000:]}")
        targets = json.loads(built.stdout.strip().splitlines()[-1])
        build_s = time.perf_counter() - started

        kedro = str(Path(sys.executable).with_name("kedro"))
        promotions = iter(alternating(targets["first"], targets["second"], 10 * repeats))
        described = targets["describe"]

        def promote() -> list[str]:
            version = str(next(promotions))
            return [kedro, "model", "promote", "--version", version, "--reason", "speed"]

        commands: dict[str, Callable[[], list[str]]] = {
            BARE: lambda: [sys.executable, "-c", "import kedro, mlflow"],
            MLFLOW_FLOOR: lambda: [sys.executable, "-c", MLFLOW_READ_CODE],
            KEDRO_START: lambda: [kedro, "model", "--help"],
            "kedro model status": lambda: [kedro, "model", "status"],
            "kedro model history": lambda: [kedro, "model", "history"],
            f"kedro model describe {described}": lambda: [
                kedro,
                "model",
                "describe",
                str(described),
            ],  # fmt: skip
            "kedro model promote": promote,
        }
        # One untimed run of each first: the page cache and .pyc files are warm for all.
        for build in commands.values():
            run_child(build(), project, env)
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in commands}
        for _ in range(repeats):  # interleaved, so that a busy moment hits every command
            for name, build in commands.items():
                samples[name].append(run_child(build(), project, env))
        bare_wall = statistics.median(s["wall_s"] for s in samples[BARE])
        results = {name: summarize(rows, bare_wall) for name, rows in samples.items()}

        from mlflow import MlflowClient  # noqa: PLC0415

        from rossmann_forecast.registry import ModelRegistry  # noqa: PLC0415

        registry = ModelRegistry(MODEL_NAME, MlflowClient(tracking_uri=uri, registry_uri=uri))
        in_process = {
            "status": time_in_process(registry.status, repeats),
            "history": time_in_process(registry.history, repeats),
            f"describe {described}": time_in_process(lambda: registry.describe(described), repeats),
            "promote": time_in_process(
                lambda: registry.promote(version=next(promotions), reason="speed"), repeats
            ),
        }
        return {
            "versions": versions,
            "repeats": repeats,
            "build_s": round(build_s, 1),
            "cores": os.cpu_count(),
            "commands": results,
            "in_process": in_process,
        }
    finally:
        if keep:
            print(f"Kept {base}", file=sys.stderr)
        else:
            shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per command (median)")
    parser.add_argument("--versions", type=int, default=50, help="versions in the registry")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--build", type=Path, help=argparse.SUPPRESS)  # measure()'s child
    args = parser.parse_args()
    if args.build:
        uri = os.environ["MLFLOW_TRACKING_URI"]
        print(json.dumps(build_registry(args.build, uri, args.versions)))
        return
    results = measure(repeats=args.repeats, versions=args.versions, keep=args.keep)
    print(
        f"{args.versions} versions (built in {results['build_s']} s), median of "
        f"{args.repeats} runs, {results['cores']} cores\n"
    )
    print(format_table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
