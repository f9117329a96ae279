"""Measuring commands for the benchmark scripts: wall time, CPU time and peak RSS of one child.

``run_measured`` starts a command through a small launcher that reaps it with ``os.wait4``,
which gives that child's own resource usage (user + system CPU, peak resident memory), so the
figures of one command are not mixed with those of the commands before it, nor with the
benchmark process it was forked from. An optional memory ceiling and time limit stop a
run that would take the machine down (the scale benchmark's largest chain), and the measurement
says so instead of failing.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np


def packages() -> tuple[str, ...]:
    """The libraries whose versions a result depends on, each booster's from its table."""
    from rossmann_forecast.model.boosters import BOOSTERS  # noqa: PLC0415 (imports the libraries)

    boosters = tuple(b.requirement for b in BOOSTERS.values())
    return ("kedro", "kedro-mlflow", "mlflow", "pandas", "numpy", "pyarrow", *boosters, "pandera")


@dataclass
class Measurement:
    """One command's cost. ``stopped`` says why it did not finish, if it did not."""

    name: str
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    returncode: int
    stopped: str | None = None
    steal_pct: float | None = None  # the host's steal during the command, see host_steal_ticks
    output: str = field(default="", repr=False)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.stopped is None

    def as_dict(self) -> dict[str, Any]:
        figures = asdict(self)
        figures.pop("output")
        figures.update(
            wall_s=round(self.wall_s, 2), cpu_s=round(self.cpu_s, 2),
            peak_rss_mib=round(self.peak_rss_mib, 1),
        )  # fmt: skip
        if self.steal_pct is not None:
            figures["steal_pct"] = round(self.steal_pct, 1)
        return figures


def host_steal_ticks() -> int | None:
    """CPU time the hypervisor gave to other guests so far (``steal`` in /proc/stat), in ticks.

    On a shared virtual machine this is the noise no benchmark can remove: while the host
    steals, every command runs slower. The results record it next to each step, as a share
    of the machine's CPU time over the step's wall time, so that a slow figure can be told
    apart from a slow host. None where /proc/stat has no steal column.
    """
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
        return int(fields[8])
    except (OSError, IndexError, ValueError):
        return None


def steal_pct(before: int | None, after: int | None, wall_s: float) -> float | None:
    """Steal between two ``host_steal_ticks`` readings, as % of the machine's CPU over ``wall_s``."""
    if before is None or after is None or wall_s <= 0:
        return None
    return 100.0 * (after - before) / (wall_s * (os.cpu_count() or 1) * os.sysconf("SC_CLK_TCK"))


def _rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and its children now (MiB), from /proc; 0 once it is gone."""
    total = 0.0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(child) for child in children]
    except OSError:
        pass
    for one in pids:
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


# A child forked from the (larger) benchmark process would count the parent's pages in its peak
# RSS until it execs; a small launcher forks the command and reports that child's own usage,
# and its wall time from fork to reaping, without the launcher's own start-up (what the command
# timings of command_speed.py compare, at a few seconds each).
LAUNCHER = """
import json, os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - started
with open(sys.argv[1], "w") as out:
    json.dump({"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
               "peak_rss_mib": usage.ru_maxrss / 1024}, out)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its children so far, from /proc."""
    total = 0.0
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for one in pids:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            continue
    return total


def run_measured(
    name: str,
    command: list[str],
    cwd: Path,
    env: dict[str, str],
    *,
    log: Path | None = None,
    max_rss_gib: float | None = None,
    timeout_s: float | None = None,
) -> Measurement:
    """Run ``command`` in ``cwd``; its wall, CPU (user + system) and peak RSS.

    Args:
        name: What the measurement is called in the results.
        command: The command line.
        cwd: Where it runs.
        env: Its environment.
        log: A file for its combined output (kept for the reader); a temporary one if None.
        max_rss_gib: Stop the command (SIGKILL) when its resident memory passes this.
        timeout_s: Stop the command when it runs longer than this.

    Returns:
        The measurement, with the output and, if it was stopped, why.
    """
    log = log or Path(os.environ.get("TMPDIR", "/tmp")) / f"measure-{os.getpid()}.log"
    report = log.with_suffix(".usage.json")
    report.unlink(missing_ok=True)
    stopped: list[str] = []
    seen = {"rss_mib": 0.0, "cpu_s": 0.0}
    steal_before = host_steal_ticks()
    started = time.perf_counter()
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(report), *command],
            cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

        def watch() -> None:
            while process.poll() is None:
                rss = _rss_mib(process.pid)
                seen["rss_mib"] = max(seen["rss_mib"], rss)
                seen["cpu_s"] = max(seen["cpu_s"], _cpu_s(process.pid))
                elapsed = time.perf_counter() - started
                if max_rss_gib is not None and rss / 1024 > max_rss_gib:
                    stopped.append(
                        f"memory: resident {rss / 1024:.1f} GiB passed the {max_rss_gib:g} GiB "
                        "ceiling"
                    )
                elif timeout_s is not None and elapsed > timeout_s:
                    stopped.append(f"time: still running after {timeout_s:.0f} s")
                if stopped:
                    os.killpg(process.pid, signal.SIGKILL)
                    return
                time.sleep(0.5)

        watcher = threading.Thread(target=watch, daemon=True)
        if max_rss_gib is not None or timeout_s is not None:
            watcher.start()
        process.wait()
        if watcher.is_alive():
            watcher.join(timeout=5)
    wall = time.perf_counter() - started
    usage = json.loads(report.read_text()) if report.is_file() else None
    report.unlink(missing_ok=True)
    return Measurement(
        name=name,
        wall_s=wall,
        cpu_s=usage["cpu_s"] if usage else seen["cpu_s"],
        peak_rss_mib=usage["peak_rss_mib"] if usage else seen["rss_mib"],
        returncode=process.returncode,
        stopped=stopped[0] if stopped else None,
        steal_pct=steal_pct(steal_before, host_steal_ticks(), wall),
        output=log.read_text(errors="replace"),
    )


# A fixed piece of work like a run's fits (one LightGBM fit of a seeded float32 matrix of the
# shape a full-size run's fits draw, 400,000 rows of about 60 features, with the project's
# LightGBM settings, fixed here so that a change of conf does not change it), timed before a
# benchmark's runs. The same work on every host and every day: this host is as fast as on
# another day if it takes as long, so a slower benchmark figure can be told apart from a
# slower host (the same model code's `make run` has taken 5.3 to 7.4 minutes here on
# different days and hosts). A smaller matrix would not do: on an Intel Xeon host, runs that
# fit 200,000 rows took as long as on the AMD EPYC one and runs that fit 400,000 rows 16% longer.
REFERENCE_FIT = {
    "rows": 400_000, "features": 60, "rounds": 100,
    "params": {
        "objective": "regression", "learning_rate": 0.1, "num_leaves": 63,
        "min_data_in_leaf": 100, "feature_fraction": 0.7, "bagging_fraction": 0.7,
        "bagging_freq": 1, "max_bin": 127, "num_threads": 2, "seed": 42, "verbosity": -1,
        "deterministic": True, "force_row_wise": True,
    },
}  # fmt: skip


def reference_fit(repeats: int = 2, rows: int | None = None) -> dict[str, Any]:
    """``REFERENCE_FIT`` timed ``repeats`` times: the median wall and CPU seconds of one fit,
    the work it did (``rows``, ``rounds``) and a checksum of its predictions, the same on
    every host with the same LightGBM (its version is in ``machine()['versions']``)."""
    rows = int(rows or REFERENCE_FIT["rows"])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, REFERENCE_FIT["features"]), dtype=np.float32)
    y = np.sin(x[:, 0]) + x[:, 1] * x[:, 2] + np.abs(x[:, 3]) + 0.1 * rng.standard_normal(rows)
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        model = lgb.train(
            REFERENCE_FIT["params"], lgb.Dataset(x, y), num_boost_round=REFERENCE_FIT["rounds"]
        )
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return {
        "wall_s": round(float(np.median(walls)), 3),
        "cpu_s": round(float(np.median(cpus)), 3),
        "rows": rows,
        "rounds": REFERENCE_FIT["rounds"],
        "checksum": round(float(model.predict(x[:1000]).sum()), 6),
    }


def machine(reference: bool = False) -> dict[str, Any]:
    """What the figures were measured on: cores, memory, CPU, load, Python and library versions;
    with ``reference``, how long ``reference_fit`` takes on it now."""
    memory_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    cpu = next(
        (line.split(":", 1)[1].strip()
         for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    versions = {}
    for package in packages():
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    described = {
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024**2, 1),
        "cpu": cpu,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
    }
    if reference:
        described["reference_fit"] = reference_fit()
    return described


def git_commit(root: Path) -> tuple[str, bool]:
    """The short commit of ``root``'s checkout and whether its tree differs from it."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "nocommit"
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return commit, dirty


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_study(text: str, results: Path, commit: str, kind: str, label: str | None) -> Path:
    """Print a study's Markdown and write it to ``<results>/<date>-<commit>-<kind>[-<label>].md``."""
    print(text)
    suffix = f"-{label}" if label else ""
    path = results / f"{now_utc()[:10]}-{commit}-{kind}{suffix}.md"
    path.write_text(text)
    root = Path(__file__).resolve().parents[1]
    print(f"Written to {path.relative_to(root) if path.is_relative_to(root) else path}")
    return path
