"""REST serving: MLflow's own scoring server on loopback answers with the batch numbers.

Starts `mlflow models serve -m models:/rossmann-ensemble@production --env-manager local`
(the command the README documents) against the shared lifecycle's registry, posts test rows as
``dataframe_split`` and compares with `kedro run --pipelines inference`'s file.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

START_TIMEOUT_SECONDS = 120
REQUEST_TIMEOUT_SECONDS = 60
SERVER_LOGS: dict[str, Path] = {}  # the scoring server's log file, by its base URL


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _post(url: str, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def scoring_server(lifecycle, tmp_path_factory):
    """The Production model served on a free loopback port; stopped after the module."""
    port = _free_port()
    venv_bin = Path(sys.executable).parent
    # The scoring server starts uvicorn from PATH: the virtualenv's bin must be on it.
    env = {**lifecycle.project.env, "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}"}
    log_path = tmp_path_factory.mktemp("serving") / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [
                str(venv_bin / "mlflow"),
                "models",
                "serve",
                "-m",
                "models:/rossmann-ensemble@production",
                "--env-manager",
                "local",
                "-p",
                str(port),
                "-h",
                "127.0.0.1",
            ],  # fmt: skip
            cwd=lifecycle.project.path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: uvicorn goes down with it
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if server.poll() is not None:
                pytest.fail(f"scoring server exited ({server.returncode}):\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{base}/ping", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"scoring server not up in {START_TIMEOUT_SECONDS} s:\n{log_path.read_text()}"
                )
            time.sleep(0.5)
        SERVER_LOGS[base] = log_path
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)


def test_the_scoring_server_gives_the_batch_numbers(lifecycle, production_batch, scoring_server):
    # A request's rows are each other's calendar: the days since and until a promo, a holiday
    # or a closure are counted over the rows asked (and the history before the origin). So
    # the request holds whole stores, every date the batch forecast for them, as the batch
    # did; rows of a store cut short (test.csv's first 300 rows end mid-series) can differ.
    test_rows = lifecycle.test_rows
    rows = test_rows.loc[test_rows["Store"].isin(test_rows["Store"].unique()[:6])]
    assert len(rows) >= 200 and rows["Date"].nunique() == test_rows["Date"].nunique()
    split = json.loads(rows.to_json(orient="split", index=False))

    status, body = _post(f"{scoring_server}/invocations", {"dataframe_split": split})

    assert status == 200, body
    answer = pd.DataFrame(body["predictions"])
    detailed = pd.read_csv(production_batch[2]).set_index("Id").loc[rows["Id"]]
    # The same numbers as the batch, quantiles included.
    for column in ("Sales", "Sales_p10", "Sales_p50", "Sales_p90"):
        np.testing.assert_allclose(answer[column], detailed[column], rtol=1e-6, err_msg=column)
    q = answer[["Sales_p10", "Sales_p50", "Sales_p90"]].to_numpy()
    assert (q[:, :-1] <= q[:, 1:]).all()


def test_the_scoring_server_refuses_rows_it_cannot_forecast(lifecycle, scoring_server):
    rows = lifecycle.test_rows.head(3).drop(columns="Promo")
    split = json.loads(rows.to_json(orient="split", index=False))

    status, body = _post(f"{scoring_server}/invocations", {"dataframe_split": split})

    assert status == 400
    assert "Promo" in body["message"]


def test_the_scoring_server_refuses_dates_it_would_misread(lifecycle, scoring_server):
    """Issue 10: the served model applies the same input contract as the batch path.

    Shown on a weekday that contradicts its date; each rule of the contract is tested once
    in-process (tests/model/test_ensemble.py), this is the server's layer: a 400 naming it.
    """
    rows = lifecycle.test_rows.head(3)
    rows = rows.assign(DayOfWeek=rows["DayOfWeek"] % 7 + 1)
    split = json.loads(rows.to_json(orient="split", index=False))

    status, body = _post(f"{scoring_server}/invocations", {"dataframe_split": split})

    assert status == 400, body
    assert "Columns 'DayOfWeek' and 'Date' must be the ISO weekday of Date" in body["message"]
    assert "row 1 (Id=" in body["message"]


def test_the_scoring_server_refuses_a_store_day_given_twice(lifecycle, scoring_server):
    """Issue 20 case 4: the served model refuses what `kedro run` refuses in test.csv."""
    rows = lifecycle.test_rows.head(5)
    rows = pd.concat([rows, rows.iloc[[2]].assign(Id=rows["Id"].max() + 1)], ignore_index=True)
    split = json.loads(rows.to_json(orient="split", index=False))

    status, body = _post(f"{scoring_server}/invocations", {"dataframe_split": split})

    assert status == 400, body
    assert "Columns 'Store' and 'Date' must be unique" in body["message"]
    store, date = int(rows.loc[2, "Store"]), rows.loc[2, "Date"]
    assert f"row 6 (Id={int(rows.loc[5, 'Id'])}): Store={store}, Date='{date}'" in body["message"]


def test_the_scoring_server_marks_and_logs_rows_past_the_validated_horizon(
    lifecycle, scoring_server
):
    """Issue 20 case 8: test.csv runs 48 days past the origin, the gate validated 42; the
    answer said nothing of it and neither did the server's log (batch predict marks them)."""
    rows = lifecycle.test_rows
    split = json.loads(rows.to_json(orient="split", index=False))
    origins = lifecycle.project.path / "data/05_model_input/forecast_origins.json"
    origin = pd.Timestamp(json.loads(origins.read_text())["served_origin"])
    beyond = pd.to_datetime(rows["Date"]) >= origin + pd.Timedelta(days=42)
    assert beyond.any() and not beyond.all()

    status, body = _post(f"{scoring_server}/invocations", {"dataframe_split": split})

    assert status == 200, body
    answer = pd.DataFrame(body["predictions"])
    assert answer["beyond_validated_horizon"].tolist() == beyond.tolist()
    first = pd.to_datetime(rows.loc[beyond, "Date"]).min().date()
    last = pd.to_datetime(rows["Date"]).max().date()
    deadline = time.monotonic() + 10
    while (
        f"for {first}..{last} lie past the 42 days" not in SERVER_LOGS[scoring_server].read_text()
    ):
        assert time.monotonic() < deadline, SERVER_LOGS[scoring_server].read_text()[-3000:]
        time.sleep(0.2)
