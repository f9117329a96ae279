"""Shared fixtures.

``kedro_project`` makes an isolated copy of this Kedro project in ``tmp_path`` (its own conf,
data folders, MLflow database and artifact folder; ``src/`` is a symlink) for end-to-end tests
that run real ``kedro`` commands in a subprocess, e.g.::

    def test_something(kedro_project):
        kedro_project.synthesize()  # kedro data synthesize -e test: data/01_raw starts empty
        result = kedro_project.run("--pipelines", "data_processing")  # kedro run -e test ...
        assert result.returncode == 0, result.output

``raw_frames`` and ``write_raw_csvs`` give tiny, valid Kaggle-shaped tables for fast unit tests.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from tests.registry_support import start_mlflow_server

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_LAYERS = (
    "01_raw",
    "02_intermediate",
    "03_primary",
    "04_feature",
    "05_model_input",
    "06_models",
    "07_model_output",
    "08_reporting",
)
KEDRO_TIMEOUT_SECONDS = 600
PACKAGE = "rossmann_forecast"
PLAIN_LOGGING = """\
version: 1
disable_existing_loggers: false
formatters:
  plain:
    format: "%(levelname)s %(name)s: %(message)s"
handlers:
  console:
    class: logging.StreamHandler
    formatter: plain
    stream: ext://sys.stdout
loggers:
  kedro:
    level: INFO
  rossmann_forecast:
    level: INFO
root:
  level: WARNING
  handlers: [console]
"""


@dataclass
class KedroProject:
    """A throwaway copy of the project and the environment to run ``kedro`` in it."""

    path: Path
    env: dict[str, str] = field(repr=False)
    default_env: str = "test"

    @property
    def raw_dir(self) -> Path:
        return self.path / "data" / "01_raw"

    def kedro(self, *args: str, timeout: float = KEDRO_TIMEOUT_SECONDS) -> CompletedKedro:
        """Run ``kedro <args>`` in the project copy and return the finished process."""
        completed = subprocess.run(
            [*_kedro_command(), *args],
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return CompletedKedro(
            completed.args, completed.returncode, completed.stdout, completed.stderr
        )

    def synthesize(self, *args: str) -> CompletedKedro:
        """``kedro data synthesize -e test <args>``, as a user would before a first run."""
        has_env = any(a in ("-e", "--env") or a.startswith("--env=") for a in args)
        env_args = () if has_env else ("-e", self.default_env)
        result = self.kedro("data", "synthesize", *env_args, *args)
        assert result.returncode == 0, result.output
        return result

    def run(self, *args: str, timeout: float = KEDRO_TIMEOUT_SECONDS) -> CompletedKedro:
        """Run ``kedro run -e test <args>`` (pass ``-e``/``--env`` yourself to pick another)."""
        has_env = any(a in ("-e", "--env") or a.startswith("--env=") for a in args)
        env_args = () if has_env else ("-e", self.default_env)
        return self.kedro("run", *env_args, *args, timeout=timeout)


class CompletedKedro(subprocess.CompletedProcess):
    """``CompletedProcess`` with ``output``: stdout and stderr together, for assertion messages."""

    @property
    def output(self) -> str:
        return f"{self.stdout}\n{self.stderr}"


def _kedro_command() -> list[str]:
    script = Path(sys.executable).with_name("kedro")
    return [str(script)] if script.exists() else [sys.executable, "-m", "kedro"]


@pytest.fixture
def kedro_project(tmp_path: Path) -> KedroProject:
    """An isolated copy of the Kedro project in ``tmp_path``, run with ``-e test``."""
    return make_kedro_project(tmp_path)


def make_kedro_project(tmp_path: Path) -> KedroProject:
    """An isolated copy of the Kedro project in ``tmp_path``, run with ``-e test``.

    A plain function as well as a fixture, for module-scoped fixtures that share one run.

    Copies ``conf/`` (without ``conf/local``, which holds one user's settings) and
    ``pyproject.toml``, symlinks the package into ``src/``, creates the ``data/0X_*`` folders, and points MLflow
    at ``<tmp>/mlflow.db`` and ``<tmp>/artifacts``. Logs are plain one-line records on stdout.
    """
    project = tmp_path / "project"
    project.mkdir()
    shutil.copytree(PROJECT_ROOT / "conf", project / "conf", ignore=shutil.ignore_patterns("local"))
    (project / "conf" / "local").mkdir()
    shutil.copy2(PROJECT_ROOT / "pyproject.toml", project / "pyproject.toml")
    # Kedro requires the resolved source folder inside the project: link the package, not src/.
    (project / "src").mkdir()
    (project / "src" / PACKAGE).symlink_to(PROJECT_ROOT / "src" / PACKAGE, target_is_directory=True)
    # Plain one-line log records (no rich wrapping), so tests can search the output.
    logging_config = tmp_path / "logging.yml"
    logging_config.write_text(PLAIN_LOGGING)
    for layer in DATA_LAYERS:
        (project / "data" / layer).mkdir(parents=True)

    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"KEDRO_ENV", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"}
    }
    env.update(
        {
            "MLFLOW_TRACKING_URI": f"sqlite:///{(tmp_path / 'mlflow.db').as_posix()}",
            "ROSSMANN_ARTIFACT_ROOT": (tmp_path / "artifacts").as_posix(),
            "KEDRO_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "1",
            "GIT_PYTHON_REFRESH": "quiet",
            "KEDRO_LOGGING_CONFIG": logging_config.as_posix(),
        }
    )
    return KedroProject(path=project, env=env)


# --- tiny valid raw tables ---------------------------------------------------------------------

TINY_TRAIN_DATES = pd.date_range("2015-07-27", "2015-07-31")  # Mon..Fri
TINY_TEST_DATES = pd.date_range("2015-08-01", "2015-08-03")  # Sat..Mon


def _tiny_frames() -> dict[str, pd.DataFrame]:
    stores = pd.DataFrame(
        {
            "Store": [1, 2, 3],
            "StoreType": ["c", "a", "b"],
            "Assortment": ["a", "a", "b"],
            "CompetitionDistance": [1270.0, 570.0, None],
            "CompetitionOpenSinceMonth": [9.0, 11.0, None],
            "CompetitionOpenSinceYear": [2008.0, 2007.0, None],
            "Promo2": [0, 1, 1],
            "Promo2SinceWeek": [None, 13.0, 14.0],
            "Promo2SinceYear": [None, 2010.0, 2011.0],
            "PromoInterval": [None, "Jan,Apr,Jul,Oct", "Mar,Jun,Sept,Dec"],
        }
    )
    # Kaggle order: Date descending, then Store ascending.
    train_rows = [(s, d) for d in TINY_TRAIN_DATES[::-1] for s in (1, 2, 3)]
    train = pd.DataFrame(train_rows, columns=["Store", "Date"])
    train.insert(1, "DayOfWeek", train["Date"].dt.day_of_week + 1)
    train["Sales"] = [5000 + 100 * i for i in range(len(train))]
    train["Customers"] = train["Sales"] // 10
    train["Open"] = 1
    train["Promo"] = 1
    train["StateHoliday"] = "0"
    train["SchoolHoliday"] = 0
    # One closed day on a public holiday, as in the real data (closed -> no sales).
    closed = train.index[-1]
    train.loc[closed, ["Sales", "Customers", "Open"]] = 0
    train.loc[closed, "StateHoliday"] = "a"
    train["Date"] = train["Date"].dt.strftime("%Y-%m-%d")

    test_rows = [(s, d) for d in TINY_TEST_DATES[::-1] for s in (1, 3)]
    test = pd.DataFrame(test_rows, columns=["Store", "Date"])
    test.insert(0, "Id", range(1, len(test) + 1))
    test.insert(2, "DayOfWeek", test["Date"].dt.day_of_week + 1)
    test["Open"] = [1.0] * (len(test) - 1) + [None]  # test.csv has a few missing Open
    test["Promo"] = 0
    test["StateHoliday"] = "0"
    test["SchoolHoliday"] = 0
    test["Date"] = test["Date"].dt.strftime("%Y-%m-%d")
    return {"train.csv": train, "store.csv": stores, "test.csv": test}


@pytest.fixture
def raw_frames() -> dict[str, pd.DataFrame]:
    """Tiny valid raw tables (3 stores, 5 train days, 3 test days), keyed by Kaggle file name."""
    return _tiny_frames()


def write_raw_frames(directory: Path, frames: dict[str, pd.DataFrame]) -> dict[str, Path]:
    """Write raw tables as Kaggle-style CSVs (no index) and return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, frame in frames.items():
        paths[name] = directory / name
        frame.to_csv(paths[name], index=False)
    return paths


@pytest.fixture
def write_raw_csvs():
    """The ``write_raw_frames(directory, frames)`` helper, as a fixture."""
    return write_raw_frames


@pytest.fixture(autouse=True)
def _restore_mlflow_uris():
    """Put MLflow's global tracking and registry URIs back after each test.

    ``VersionFactory`` sets them (``mlflow.register_model`` and ``log_model`` use them), and MLflow
    keeps them in globals and environment variables; a later test's
    ``MlflowClient(tracking_uri=...)`` would otherwise read another test's registry.
    """
    before = {key: os.environ.get(key) for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    yield
    mlflow.set_tracking_uri(before["MLFLOW_TRACKING_URI"])
    mlflow.set_registry_uri(before["MLFLOW_REGISTRY_URI"])
    if before["MLFLOW_REGISTRY_URI"] is None:
        os.environ.pop("MLFLOW_REGISTRY_URI", None)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """A real ``mlflow server`` on loopback (SQLite backend, proxied artifacts) for the session."""
    uri, process = start_mlflow_server(tmp_path_factory.mktemp("mlflow_server"))
    yield uri
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=3)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def team_server():
    """``scripts/team_server.py start``: PostgreSQL + ``mlflow server --app-name basic-auth``
    on loopback, for the session; stopped (both) and deleted at the end."""
    from tests.team_support import start_team_server, stop_team_server  # noqa: PLC0415

    server = start_team_server()
    yield server
    stop_team_server(server)
