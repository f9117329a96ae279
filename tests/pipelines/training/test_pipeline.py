"""End-to-end: real `kedro run` of data processing + training on tiny data (`test` env),
against a temporary MLflow database; every lineage field is checked on the new version, and
the model is loaded by its ``models:/`` URI in a separate process to predict test rows, and
loads from the code it ships alone: ``rossmann_forecast.model``, none of the rest."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from rossmann_forecast.model.ensemble import to_model_input
from rossmann_forecast.model.features import features_for_request
from tests.conftest import make_kedro_project

MODEL = "rossmann-ensemble"
MEMBERS = ("lightgbm", "xgboost", "catboost")


def _git(project, *args):
    return subprocess.run(
        ["git", *args], cwd=project.path, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One training run shared by the checks below (it is the slow part)."""
    project = make_kedro_project(tmp_path_factory.mktemp("training"))
    project.synthesize()
    _git(project, "init", "-q")
    _git(project, "add", "conf", "pyproject.toml")
    _git(project, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "fixture")
    result = project.run("--pipelines", "data_processing,training")
    assert result.returncode == 0, result.output
    client = MlflowClient(tracking_uri=project.env["MLFLOW_TRACKING_URI"])
    return project, result, client


def test_training_registers_a_new_version_and_says_so(trained):
    project, result, client = trained
    assert "Training LightGBM... ✓" in result.output
    assert "Training XGBoost... ✓" in result.output
    assert "Training CatBoost... ✓" in result.output
    assert "Creating ensemble... ✓" in result.output
    assert f"✓ Model registered: {MODEL} version 1" in result.output
    assert [int(v.version) for v in client.search_model_versions(f"name='{MODEL}'")] == [1]


def test_the_version_carries_its_full_lineage(trained):
    project, _, client = trained
    version = client.get_model_version(MODEL, "1")
    tags = version.tags
    run = client.get_run(version.run_id)
    # Run and code.
    assert tags["lineage.run_id"] == version.run_id
    assert tags["lineage.git.commit"] == _git(project, "rev-parse", "HEAD")
    assert tags["lineage.git.dirty"] == "false"
    # Data: source, seed, and a content hash of each raw file.
    assert (
        tags["lineage.data_source.source"] == '"synthetic"'
        or tags["lineage.data_source.source"] == "synthetic"
    )
    assert tags["lineage.data_source.seed"] == "42"
    for stem in ("train", "store", "test"):
        digest = hashlib.sha256((project.raw_dir / f"{stem}.csv").read_bytes()).hexdigest()
        assert tags[f"lineage.data.{stem}.sha256"] == digest
        assert int(tags[f"lineage.data.{stem}.rows"]) > 0
    # Training window and row counts, features, hyperparameters.
    assert tags["lineage.training_window.start"] == "2013-01-01"
    assert tags["lineage.training_window.end"] == "2015-07-31"
    # The served version forecasts from the day after the last row of train.csv ...
    assert tags["lineage.training_window.origin"] == "2015-08-01"
    assert int(tags["lineage.training_window.rows"]) > 1000
    assert tags["lineage.role"] == "served"
    # ... and names the backtest the gate judges: the same procedure fit before the holdout.
    assert tags["lineage.backtest.origin"] == "2015-06-20"
    assert tags["lineage.backtest.end"] == "2015-06-19"
    assert tags["lineage.backtest.model_uri"].startswith("models:/m-")
    assert tags["lineage.backtest.run_id"] == version.run_id
    assert 1000 < int(tags["lineage.backtest.rows"]) < int(tags["lineage.training_window.rows"])
    assert json.loads(tags["lineage.features_left_out"]) == []
    features = json.loads(tags["lineage.features"])
    assert "w91_mean" in features and "days_since_promo" in features
    hyper = json.loads(tags["lineage.hyperparameters"])
    assert set(hyper) == set(MEMBERS)
    assert hyper["lightgbm"]["num_rounds"] == 30
    # CV metrics per model and for the ensemble, and the weights.
    for name in (*MEMBERS, "ensemble"):
        assert 0 < float(tags[f"cv.rmspe_{name}"]) < 1
    weights = [float(tags[f"lineage.ensemble_weights.{m}"]) for m in MEMBERS]
    assert all(w >= 0 for w in weights) and sum(weights) == pytest.approx(1.0)
    assert tags["lineage.complete"] == "true"
    assert tags["validation.status"] == "pending"
    # A description a reviewer reads in ten seconds.
    assert "CV RMSPE" in version.description and "synthetic" in version.description
    assert "forecasts from 2015-08-01" in version.description
    assert tags["lineage.backtest.model_uri"] in version.description
    # The same on the run: params logged by kedro-mlflow, CV metrics, lineage tags, inputs.
    assert run.data.params["training.members.lightgbm.num_rounds"] == "30"
    assert run.data.metrics["cv.rmspe_ensemble"] == pytest.approx(
        float(tags["cv.rmspe_ensemble"]), abs=1e-6
    )
    assert run.data.tags["lineage.git.commit"] == tags["lineage.git.commit"]
    inputs = {(d.dataset.name, t.value) for d in run.inputs.dataset_inputs for t in d.tags}
    assert ("model_input_table", "training") in inputs
    # The drift reference every batch will be judged against is on the same run.
    assert tags["lineage.drift_reference.artifact"] == "drift/drift_reference.json"
    assert tags["lineage.drift_reference.trained_through"] == "2015-07-31"
    logged = {a.path for a in client.list_artifacts(version.run_id, "drift")}
    assert logged == {"drift/drift_reference.json"}
    # How its quantiles were calibrated: out-of-fold rows only, six weeks of horizon.
    assert tags["lineage.intervals.levels"] == "0.1, 0.5, 0.9"
    assert tags["lineage.intervals.weeks"] == "6"
    assert int(tags["lineage.intervals.calibration_rows"]) > 1000
    assert "out-of-fold" in tags["lineage.intervals.method"]


def test_the_backtest_is_logged_on_the_run_and_forecasts_from_the_holdout(trained):
    _, _, client = trained
    tags = client.get_model_version(MODEL, "1").tags
    backtest = client.get_logged_model(tags["lineage.backtest.model_uri"].removeprefix("models:/"))
    assert backtest.source_run_id == tags["lineage.run_id"]
    assert backtest.tags["lineage.role"] == "backtest"
    assert backtest.tags["lineage.training_window.origin"] == "2015-06-20"
    # Only the served model is registered.
    assert len(client.search_model_versions(f"name='{MODEL}'")) == 1


def test_the_registered_model_predicts_test_rows_in_a_fresh_process(trained):
    project, _, _ = trained
    script = f"""
import mlflow, pandas as pd
model = mlflow.pyfunc.load_model("models:/{MODEL}/1")
rows = pd.read_csv(r"{project.raw_dir / "test.csv"}", dtype={{"StateHoliday": str}})
out = model.predict(rows)
bands = ["Sales_p10", "Sales_p50", "Sales_p90"]
assert list(out.columns) == ["Sales", "beyond_validated_horizon", *bands] and len(out) == len(rows)
closed = rows["Open"].eq(0).to_numpy()
assert (out["Sales"].to_numpy()[closed] == 0).all()
assert (out["Sales"].to_numpy()[~closed] > 0).all()
# Every row's quantiles are monotone, and open rows' P10 < P90 around the point forecast.
q = out[bands].to_numpy()
assert (q[:, :-1] <= q[:, 1:]).all()
assert (q[~closed, 0] < q[~closed, 2]).all() and (q[closed] == 0).all()
sales = out["Sales"].to_numpy()[~closed]
assert (q[~closed, 0] < sales).all() and (sales < q[~closed, 2]).all()
signature = mlflow.models.get_model_info("models:/{MODEL}/1").signature
assert [c.name for c in signature.outputs.inputs][2:] == bands, signature
print("PREDICTED", len(out))
"""
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=project.path.parent,
        env=project.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "PREDICTED" in completed.stdout


def test_a_version_ships_only_the_model_subpackage_as_code(trained, tmp_path):
    project, _, _ = trained
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(project.env["MLFLOW_TRACKING_URI"])
    try:
        local = Path(mlflow.artifacts.download_artifacts(f"models:/{MODEL}/1", dst_path=tmp_path))
    finally:
        mlflow.set_tracking_uri(previous)
    files = {p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()}
    code = {f for f in files if f.startswith("code/")}
    assert code == {
        "code/rossmann_forecast/__init__.py",
        "code/rossmann_forecast/model/__init__.py",
        "code/rossmann_forecast/model/boosters.py",
        "code/rossmann_forecast/model/ensemble.py",
        "code/rossmann_forecast/model/entrypoint.py",
        "code/rossmann_forecast/model/features.py",
        "code/rossmann_forecast/model/intervals.py",
    }, sorted(files)
    names = {Path(f).name for f in files}
    assert not names & {"synthetic.py", "cli.py", "registry.py", "hooks.py", "datasets.py"}
    assert not any("__pycache__" in f or "/pipelines/" in f for f in files)
    # The slice's __init__.py is its own, not the project's.
    assert "model-only slice" in (local / "code/rossmann_forecast/__init__.py").read_text()


# Runs in a fresh interpreter: hides every copy of rossmann_forecast that the environment can
# import (PYTHONPATH, the editable install's .pth entry or finder) before mlflow is imported, so
# the model can only load from the code it ships.
_LOAD_WITHOUT_THE_PROJECT = """
import os, sys

def _holds_package(entry):
    return os.path.isdir(os.path.join(entry or os.getcwd(), "rossmann_forecast"))

def _editable(hook):
    module = getattr(hook, "__module__", "") or getattr(type(hook), "__module__", "")
    return "__editable__" in module or "rossmann" in module

sys.path[:] = [entry for entry in sys.path if not _holds_package(entry)]
sys.meta_path[:] = [finder for finder in sys.meta_path if not _editable(finder)]
sys.path_hooks[:] = [hook for hook in sys.path_hooks if not _editable(hook)]
sys.path_importer_cache.clear()
try:
    import rossmann_forecast
except ModuleNotFoundError as error:
    assert error.name == "rossmann_forecast", error
else:
    raise AssertionError(f"not hidden: {{rossmann_forecast.__file__}}")

from pathlib import Path
import mlflow, pandas as pd

downloaded = Path(r"{dst}")
model = mlflow.pyfunc.load_model("models:/{model}/1", dst_path=str(downloaded))
rows = pd.read_csv(r"{test_csv}", dtype={{"StateHoliday": str}}).head(6)
out = model.predict(rows)
bands = ["Sales_p10", "Sales_p50", "Sales_p90"]
assert list(out.columns) == ["Sales", "beyond_validated_horizon", *bands], out
assert len(out) == len(rows), out

import rossmann_forecast, rossmann_forecast.model.ensemble
code = downloaded.resolve() / "code"
for module in (rossmann_forecast, rossmann_forecast.model.ensemble):
    assert Path(module.__file__).resolve().is_relative_to(code), module.__file__
try:
    import rossmann_forecast.raw.synthetic
except ModuleNotFoundError:
    pass
else:
    raise AssertionError("the generator travelled with the model")
print("LOADED FROM", Path(rossmann_forecast.__file__).parent)
"""


def test_a_version_loads_and_predicts_without_the_project_installed(trained, tmp_path):
    project, _, _ = trained
    downloaded = tmp_path / "downloaded"
    downloaded.mkdir()
    script = _LOAD_WITHOUT_THE_PROJECT.format(
        dst=downloaded, model=MODEL, test_csv=project.raw_dir / "test.csv"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=project.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert "LOADED FROM" in completed.stdout


def test_served_features_equal_the_training_features_for_the_holdout(trained):
    """No train/serve skew: the logged backtest model, asked for the holdout (closed days
    included, as the gate asks), builds exactly the feature matrix that training built for the
    same rows, every column and every row. Computing the features over the open rows only (as
    the pyfunc once did) loses the closed days that the event counters count from, and differs.
    """
    project, _, client = trained
    tags = client.get_model_version(MODEL, "1").tags
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(project.env["MLFLOW_TRACKING_URI"])
    try:
        model = mlflow.pyfunc.load_model(tags["lineage.backtest.model_uri"])
    finally:
        mlflow.set_tracking_uri(previous)
    backtest = model.unwrap_python_model()
    data = project.path / "data"
    holdout = pd.read_parquet(data / "05_model_input" / "holdout_table.parquet")
    table = pd.read_parquet(data / "05_model_input" / "model_input_table.parquet")
    origin = pd.Timestamp(tags["lineage.backtest.origin"])
    trained_rows = table[table["block_origin"] == origin].set_index(["Store", "Date"])
    assert len(trained_rows) > 500
    request = to_model_input(holdout.drop(columns=["Sales", "Customers"]))
    assert (request["Open"] == 0).sum() > 50  # closures inside the request

    served = backtest.feature_matrix(request)
    served.index = pd.MultiIndex.from_frame(holdout[["Store", "Date"]])
    served = served.loc[trained_rows.index]
    pd.testing.assert_frame_equal(
        served, trained_rows[backtest.feature_names].astype("float32"), check_exact=True
    )

    open_only = request[request["Open"] == 1]
    skewed = features_for_request(backtest.prepare_input(open_only), backtest.state)
    skewed.index = pd.MultiIndex.from_frame(holdout.loc[open_only.index, ["Store", "Date"]])
    skewed = skewed.loc[trained_rows.index, backtest.feature_names]
    differs = (skewed != served).any()
    assert {"days_since_closed", "days_until_closed"} <= set(differs[differs].index)
