"""End-to-end: `kedro run --pipelines tuning` on tiny data with a tiny budget, then a plain
`kedro run` that trains with what it found.

The project copy runs in the default environment (conf/local, as a user would), with a small
local parameters file for tiny data and a tiny search, so that the tuned file lands where a user
finds it (conf/local/parameters_tuned.yml) and the next run picks it up.
"""

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from tests.conftest import make_kedro_project

CONF = Path(__file__).resolve().parents[3] / "conf" / "base"
MEMBERS = ("lightgbm", "xgboost", "catboost")
SMALL = """
data_processing:
  synthetic:
    n_stores: 20
tuning:
  n_trials: 3
  seed: 7
  search_space:
    lightgbm:
      num_rounds: {type: int, low: 10, high: 30}
      num_leaves: {type: int, low: 7, high: 31}
    xgboost:
      num_rounds: {type: int, low: 10, high: 30}
      max_depth: {type: int, low: 2, high: 5}
    catboost:
      num_rounds: {type: int, low: 10, high: 30}
      depth: {type: int, low: 2, high: 5}
"""


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    project = make_kedro_project(tmp_path_factory.mktemp("tuning"))
    (project.path / "conf" / "local" / "parameters_small.yml").write_text(SMALL)
    project.synthesize("-e", "local")
    result = project.kedro("run", "--pipelines", "tuning")
    assert result.returncode == 0, result.output[-6000:]
    client = MlflowClient(tracking_uri=project.env["MLFLOW_TRACKING_URI"])
    return project, result, client


def test_tuning_shows_progress_and_writes_a_parameters_file(tuned):
    project, result, _ = tuned
    for label in ("LightGBM", "XGBoost", "CatBoost"):
        assert f"Tuning {label} trial 1/3: CV RMSPE" in result.output
        assert f"Tuning {label} trial 3/3: CV RMSPE" in result.output
        assert f"Tuning {label}... ✓ 3 trials, best CV RMSPE" in result.output
    tuned_file = project.path / "conf" / "local" / "parameters_tuned.yml"
    members = yaml.safe_load(tuned_file.read_text())["training"]["members"]
    assert set(members) == set(MEMBERS)
    assert 10 <= members["lightgbm"]["num_rounds"] <= 30
    assert 7 <= members["lightgbm"]["params"]["num_leaves"] <= 31
    # Parameters that were not searched keep their conf value.
    assert members["lightgbm"]["params"]["objective"] == "regression"
    assert members["catboost"]["library"] == "catboost"


def test_the_file_holds_the_trial_the_seed_check_chose(tuned):
    """Per booster exactly one trial is chosen: the best, or trial 0 (conf's parameters) when
    the best did not beat it under tuning.seed_check_seeds too; the file holds its values."""
    project, result, client = tuned
    tuned_file = project.path / "conf" / "local" / "parameters_tuned.yml"
    members = yaml.safe_load(tuned_file.read_text())["training"]["members"]
    experiment = client.get_experiment_by_name("rossmann-forecast")
    (parent,) = [
        r
        for r in client.search_runs([experiment.experiment_id])
        if "mlflow.parentRunId" not in r.data.tags
    ]
    for member in MEMBERS:
        trials = pd.read_csv(
            project.path / "data" / "08_reporting" / "tuning" / f"{member}_trials.csv"
        )
        (chosen,) = trials.loc[trials["chosen"] == 1].itertuples()
        best = int(trials.loc[trials["rmspe"].idxmin(), "number"])
        assert chosen.number in (0, best)
        if best != 0:  # re-scored with seed 7, both of them
            checked = trials.set_index("number")["rmspe_seed_7"]
            assert checked[[0, best]].notna().all()
            gain = yaml.safe_load((CONF / "parameters_tuning.yml").read_text())["tuning"][
                "seed_check_min_gain"
            ]
            assert (chosen.number == best) == (checked[best] < checked[0] * (1 - gain))
        for name, value in json.loads(chosen.params).items():
            written = members[member]["num_rounds" if name == "num_rounds" else "params"]
            assert (written if name == "num_rounds" else written[name]) == value
        assert parent.data.metrics[f"tuning.{member}.chosen_trial"] == chosen.number


def test_every_trial_is_a_nested_run_of_the_tuning_run(tuned):
    project, _, client = tuned
    experiment = client.get_experiment_by_name("rossmann-forecast")
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    trials = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(trials) == 9
    names = {r.data.tags["mlflow.runName"] for r in trials}
    assert {f"{m}-trial-{n}" for m in MEMBERS for n in range(3)} == names
    for trial in trials:
        assert 0 < trial.data.metrics["rmspe"] < 1
        assert trial.data.metrics["duration_seconds"] > 0
        folds = [k for k in trial.data.metrics if k.startswith("rmspe_20")]
        assert len(folds) == 3  # the training CV folds (training.cv.fold_offsets_days)
        assert "num_rounds" in trial.data.params
    # The best parameters are logged on the tuning run too, with the metrics.
    artifacts = [a.path for a in client.list_artifacts(parent.info.run_id, "tuning")]
    assert "tuning/parameters_tuned.yml" in artifacts
    for member in MEMBERS:
        best = parent.data.metrics[f"tuning.{member}.best_rmspe"]
        assert best <= parent.data.metrics[f"tuning.{member}.conf_rmspe"] + 1e-12
        assert best == pytest.approx(
            min(t.data.metrics["rmspe"] for t in trials if t.data.tags["tuning.member"] == member)
        )


def test_the_next_run_trains_with_the_tuned_parameters(tuned):
    project, _, client = tuned
    tuned_file = project.path / "conf" / "local" / "parameters_tuned.yml"
    members = yaml.safe_load(tuned_file.read_text())["training"]["members"]
    result = project.kedro("run", "--pipelines", "data_processing,training")
    assert result.returncode == 0, result.output[-6000:]
    version = client.get_model_version("rossmann-ensemble", "1")
    run = client.get_run(version.run_id)
    for member in MEMBERS:
        logged = run.data.params[f"training.members.{member}.num_rounds"]
        assert int(logged) == members[member]["num_rounds"]
    assert (
        int(run.data.params["training.members.lightgbm.params.num_leaves"])
        == (members["lightgbm"]["params"]["num_leaves"])
    )
