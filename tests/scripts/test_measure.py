"""The benchmark's measuring of one command: its own CPU and memory, and the safety stops."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from _measure import host_steal_ticks, machine, reference_fit, run_measured, steal_pct

ALLOCATE = "import time; block = bytearray({mib} * 1024 * 1024); block[::4096] = b'x' * len(block[::4096]); time.sleep({sleep})"


def test_a_command_gets_its_own_wall_cpu_and_peak_memory(tmp_path: Path) -> None:
    result = run_measured(
        "allocate", [sys.executable, "-c", ALLOCATE.format(mib=300, sleep=0)], tmp_path,
        dict(os.environ), log=tmp_path / "log",
    )  # fmt: skip
    assert result.ok
    assert 300 <= result.peak_rss_mib < 600
    assert result.cpu_s > 0 and result.wall_s >= result.cpu_s * 0.1
    small = run_measured("small", [sys.executable, "-c", "pass"], tmp_path, dict(os.environ))
    assert small.peak_rss_mib < 200  # not the earlier child's peak


def test_a_command_past_the_memory_ceiling_is_stopped_and_says_why(tmp_path: Path) -> None:
    result = run_measured(
        "too big", [sys.executable, "-c", ALLOCATE.format(mib=600, sleep=30)], tmp_path,
        dict(os.environ), max_rss_gib=0.3,
    )  # fmt: skip
    assert not result.ok
    assert result.stopped.startswith("memory: resident")
    assert result.wall_s < 25


def test_a_failing_command_keeps_its_exit_code_and_output(tmp_path: Path) -> None:
    result = run_measured(
        "fails", [sys.executable, "-c", "import sys; print('why'); sys.exit(3)"], tmp_path,
        dict(os.environ),
    )  # fmt: skip
    assert result.returncode == 3 and "why" in result.output and not result.ok


def test_machine_names_cores_memory_and_versions() -> None:
    described = machine()
    assert described["cores"] == os.cpu_count()
    assert described["memory_gib"] > 0
    assert "kedro" in described["versions"] and "mlflow" in described["versions"]
    assert "lightgbm" in described["versions"]  # the reference fit's work depends on it
    assert "reference_fit" not in described  # timed only where a benchmark asks for it


def test_the_reference_fit_does_the_same_work_every_time() -> None:
    """A slower host is told from slower code by fixed work timed before the runs: the same
    model every time (its predictions' checksum), in positive wall and CPU seconds."""
    first = reference_fit(repeats=1, rows=20_000)
    again = reference_fit(repeats=2, rows=20_000)
    other = reference_fit(repeats=1, rows=30_000)

    assert first["checksum"] == again["checksum"]
    assert other["checksum"] != first["checksum"]  # the checksum is the work's, not a constant
    assert first["rows"] == 20_000 and first["rounds"] == 100
    assert first["wall_s"] > 0 and first["cpu_s"] > 0


def test_a_small_command_from_a_big_process_reports_its_own_peak(tmp_path: Path) -> None:
    """A child forked from a large parent counts the parent's pages until it execs: the
    launcher keeps the benchmark's own size out of every command's peak."""
    ballast = bytearray(500 * 1024 * 1024)
    ballast[::4096] = b"x" * len(ballast[::4096])
    small = run_measured("small", [sys.executable, "-c", "pass"], tmp_path, dict(os.environ))
    assert small.ok and small.peak_rss_mib < 200
    del ballast


def test_the_hosts_steal_is_recorded_as_a_share_of_the_machines_cpu(tmp_path: Path) -> None:
    """Steal ticks over wall time x cores x ticks per second: 0 to 100%, None without /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    cores = os.cpu_count() or 1
    assert steal_pct(1_000, 1_000 + ticks * cores, 4.0) == 25.0
    assert steal_pct(None, 5, 1.0) is None and steal_pct(5, 6, 0.0) is None
    assert host_steal_ticks() is not None  # Linux: /proc/stat has the column
    result = run_measured("pass", [sys.executable, "-c", "pass"], tmp_path, dict(os.environ))
    assert result.steal_pct is not None and 0.0 <= result.steal_pct <= 100.0
    assert result.as_dict()["steal_pct"] == round(result.steal_pct, 1)
