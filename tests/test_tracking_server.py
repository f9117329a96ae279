"""A team's setup: every command against a real `mlflow server` on loopback instead of SQLite."""

import subprocess
import sys

from tests.conftest import make_kedro_project

MODEL = "rossmann-ensemble"


def test_train_gate_promote_and_load_through_a_tracking_server(tmp_path, mlflow_server):
    project = make_kedro_project(tmp_path)
    project.synthesize()
    # Artifacts go where the server keeps them (proxied), as they would for a team.
    project.env.update(
        MLFLOW_TRACKING_URI=mlflow_server, ROSSMANN_ARTIFACT_ROOT="mlflow-artifacts:/e2e"
    )

    trained = project.run()
    assert trained.returncode == 0, trained.output
    assert "✓ Model version 1 promoted to Staging" in trained.output
    promoted = project.kedro("model", "promote", "-e", "test", "--reason", "team review ok")
    assert promoted.returncode == 0, promoted.output
    status = project.kedro("model", "status", "-e", "test")
    assert f"tracking: {mlflow_server}" in status.stdout

    script = (
        "import mlflow, pandas as pd\n"
        f"m = mlflow.pyfunc.load_model('models:/{MODEL}@production')\n"
        f"rows = pd.read_csv(r'{project.raw_dir / 'test.csv'}', dtype={{'StateHoliday': str}})\n"
        "print('ROWS', len(m.predict(rows)))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], env=project.env, capture_output=True, text=True,
        timeout=300, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    assert "ROWS" in loaded.stdout
