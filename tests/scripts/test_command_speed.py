"""The pure helpers of scripts/command_speed.py (the timing itself is the script's job)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "command_speed.py"


@pytest.fixture(scope="module")
def command_speed():
    spec = importlib.util.spec_from_file_location("command_speed", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["command_speed"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("command_speed", None)


def test_summarize_takes_medians_the_peak_rss_and_the_ratio_to_bare(command_speed):
    samples = [
        {"wall_s": 3.0, "cpu_s": 2.0, "peak_rss_mib": 200.0},
        {"wall_s": 9.0, "cpu_s": 2.4, "peak_rss_mib": 210.0},
        {"wall_s": 2.5, "cpu_s": 1.9, "peak_rss_mib": 190.0},
    ]

    row = command_speed.summarize(samples, bare_wall_s=1.5)

    assert row == {
        "wall_s": 3.0,
        "cpu_s": 2.0,
        "peak_rss_mib": 210.0,
        "ratio": 2.0,
        "runs": [3.0, 9.0, 2.5],
    }


def test_summarize_without_a_bare_time_gives_no_ratio_and_refuses_no_samples(command_speed):
    row = command_speed.summarize([{"wall_s": 1.0, "cpu_s": 1.0, "peak_rss_mib": 1.0}], None)
    assert row["ratio"] is None
    with pytest.raises(ValueError, match="no samples"):
        command_speed.summarize([], 1.0)


def test_alternating_targets_never_promote_the_same_version_twice_in_a_row(command_speed):
    targets = command_speed.alternating(7, 9, 5)

    assert targets == [7, 9, 7, 9, 7]
    assert all(a != b for a, b in zip(targets, targets[1:], strict=False))


def test_format_table_lines_up_commands_and_in_process_medians(command_speed):
    results = {
        "commands": {
            "bare_import": {"wall_s": 1.26, "cpu_s": 1.2, "peak_rss_mib": 160.0, "ratio": 1.0},
            "kedro model status": {
                "wall_s": 3.02,
                "cpu_s": 2.9,
                "peak_rss_mib": 250.0,
                "ratio": 2.4,
            },
        },
        "in_process": {"promote": {"median_s": 0.4161, "max_s": 0.475}},
    }

    lines = command_speed.format_table(results).splitlines()

    assert lines[1].split() == ["bare_import", "1.26", "1.20", "160", "1.00"]
    assert lines[2].split() == ["kedro", "model", "status", "3.02", "2.90", "250", "2.40"]
    assert len(lines[1]) == len(lines[2])
    assert lines[-1].split() == ["promote", "0.416", "0.475"]
