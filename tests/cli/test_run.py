"""`kedro run` as a user meets it when it fails: one message at the end, runs marked FAILED."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from mlflow import MlflowClient

from tests.conftest import KedroProject, make_kedro_project

REFUSAL = "train.csv failed validation: 1 rule broken"
DETAIL = (
    "column 'Sales', rule 'greater_than_or_equal_to(0)': 1 row, e.g. line 4 "
    "(Store=3, Date=2015-07-31): Sales=-5"
)


@pytest.fixture
def refused_project(kedro_project: KedroProject, raw_frames, write_raw_csvs) -> KedroProject:
    """A project whose train.csv breaks a rule, logging with the project's conf/logging.yml."""
    raw_frames["train.csv"].loc[2, "Sales"] = -5
    write_raw_csvs(kedro_project.raw_dir, raw_frames)
    del kedro_project.env["KEDRO_LOGGING_CONFIG"]  # the user's console: Rich, and info.log
    kedro_project.env["COLUMNS"] = "200"  # Rich wraps at the terminal width
    return kedro_project


def test_a_refused_run_says_why_once_at_the_end_without_a_traceback(refused_project):
    result = refused_project.run("--pipelines", "data_processing")

    assert result.returncode == 1, result.output
    assert result.output.count(REFUSAL) == 1, result.output
    assert result.output.count(DETAIL) == 1, result.output
    assert result.stderr.rstrip().endswith(DETAIL), result.stderr
    assert "Traceback" not in result.output
    assert result.output.count("was closed because of an error") == 1, result.output
    log = (refused_project.path / "info.log").read_text()
    assert "Traceback (most recent call last)" in log
    assert f"RawDataError: {REFUSAL}" in log


def test_verbose_adds_the_traceback_and_still_ends_with_the_message(refused_project):
    result = refused_project.run("--pipelines", "data_processing", "--verbose")

    assert result.returncode == 1, result.output
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.rstrip().endswith(DETAIL), result.stderr


def test_a_run_stopped_before_the_pipeline_starts_is_recorded_failed(
    kedro_project, raw_frames, write_raw_csvs
):
    write_raw_csvs(kedro_project.raw_dir, raw_frames)
    (kedro_project.raw_dir / "train.csv").write_bytes(b"")

    result = kedro_project.run("--pipelines", "data_processing")

    assert result.returncode == 1, result.output
    assert "Error: train.csv is empty (0 bytes): data/01_raw/train.csv" in result.stderr
    client = MlflowClient(tracking_uri=kedro_project.env["MLFLOW_TRACKING_URI"])
    experiment = client.get_experiment_by_name("rossmann-forecast")
    runs = client.search_runs([experiment.experiment_id])
    assert [run.info.status for run in runs] == ["FAILED"]


def test_a_copied_project_folder_refuses_to_write_into_the_original(tmp_path):
    original = make_kedro_project(tmp_path)
    # The project's own MLflow store (mlflow/mlflow.db, mlflow/artifacts), as after a clone.
    for key in ("MLFLOW_TRACKING_URI", "ROSSMANN_ARTIFACT_ROOT"):
        del original.env[key]
    original.synthesize()
    assert original.run("--pipelines", "data_processing").returncode == 0
    copy_path = tmp_path / "copy" / "project"
    shutil.copytree(original.path, copy_path, symlinks=True)  # cp -r
    copy = KedroProject(path=copy_path, env=original.env)
    before = sorted(
        p.relative_to(original.path) for p in original.path.joinpath("mlflow").rglob("*")
    )

    run = copy.run("--pipelines", "data_processing")
    status = copy.kedro("model", "status", "-e", "test")

    for result in (run, status):
        assert result.returncode == 1, result.output
        message = " ".join(result.stderr.split())
        assert f"in {original.path / 'mlflow' / 'artifacts'}" in message
        assert f"artifact root is {copy_path / 'mlflow' / 'artifacts'}" in message
        assert f"rm -rf {copy_path / 'mlflow'}" in message
        assert "Traceback" not in result.output
    after = sorted(
        p.relative_to(original.path) for p in original.path.joinpath("mlflow").rglob("*")
    )
    assert after == before  # nothing written into the original's folder
    client = MlflowClient(tracking_uri=f"sqlite:///{copy_path / 'mlflow' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("rossmann-forecast")
    assert len(client.search_runs([experiment.experiment_id])) == 1  # the original's, copied

    shutil.rmtree(copy_path / "mlflow")  # the fix the message gives
    assert copy.kedro("model", "status", "-e", "test").returncode == 0


# --- issue 20 case 6: --params keys the project does not have ---------------------------------


def _runs(project: KedroProject) -> list:
    if not (project.path.parent / "mlflow.db").exists():
        return []
    client = MlflowClient(tracking_uri=project.env["MLFLOW_TRACKING_URI"])
    experiment = client.get_experiment_by_name("rossmann-forecast")
    return client.search_runs([experiment.experiment_id]) if experiment else []


def test_a_misspelt_params_key_is_refused_before_the_run_naming_the_nearest_key(kedro_project):
    """`--params validation.treshold=0.05` ran with the old threshold and said nothing."""
    kedro_project.synthesize()

    result = kedro_project.run("--params", "validation.treshold=0.05,data_processing.holdout=28")

    assert result.returncode == 1, result.output
    message = " ".join(result.stderr.split())
    assert (
        "Error: Unknown parameters in --params: 'validation.treshold' (did you mean "
        "'validation.threshold'?); 'data_processing.holdout' (did you mean "
        "'data_processing.holdout_days'?). Nothing was run" in message
    )
    assert "Running node" not in result.output
    assert _runs(kedro_project) == []
    assert [p for layer in ("02_intermediate", "05_model_input", "08_reporting")
            for p in (kedro_project.path / "data" / layer).iterdir()] == []  # fmt: skip


def test_params_the_catalog_reads_and_library_parameters_are_accepted(kedro_project):
    result = kedro_project.run(
        "--pipelines",
        "validation",
        "--params",
        "validation.version=7,training.members.lightgbm.params.max_bin=63",
    )

    assert "Unknown parameter" not in result.output
    assert "rossmann-ensemble has no version 7" in result.stderr  # got as far as the model


# --- issue 20 case 7: a full disk under the artifact root --------------------------------------


@pytest.fixture
def full_disk(tmp_path):
    """A 256 KiB tmpfs: too small for a model version's files (needs root to mount)."""
    mount = tmp_path / "full_disk"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                             capture_output=True, text=True, check=False)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_reported_in_one_line_naming_the_path(kedro_project, full_disk):
    """The message began with 12 lines of the model dataset's repr (input example, pip
    requirements) before `[Errno 28] No space left on device`."""
    kedro_project.env["ROSSMANN_ARTIFACT_ROOT"] = (full_disk / "artifacts").as_posix()
    kedro_project.synthesize()

    result = kedro_project.run()

    assert result.returncode == 1, result.output[-3000:]
    error = result.stderr[result.stderr.index("Error: ") :].splitlines()
    assert error[0].startswith(f"Error: No space left on device (errno 28): {full_disk}/"), error
    assert error[1].startswith("(the traceback: `kedro run --verbose`"), error
    assert len(error) == 2, error
    assert "input_example" not in result.stderr
    assert [run.info.status for run in _runs(kedro_project)] == ["FAILED"]
