"""The model's whole life on the team server (PostgreSQL + MLflow's auth app), with several users.

ann trains and promotes (MANAGE on the model), gate-bot is the service user the gate moves
versions as (EDIT), rita may only read (READ). Every command is a real ``kedro`` command in a
project copy pointed at the server, each with the credentials of the person running it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import CompletedKedro, KedroProject, make_kedro_project
from tests.registry_support import free_port
from tests.team_support import MODEL, TeamServer, WebhookReceiver, signature_ok

WEBHOOK_SECRET = "team-webhook-secret-for-tests"


@dataclass
class Team:
    server: TeamServer
    project: KedroProject
    receiver: WebhookReceiver

    def as_user(self, user: str, *args: str) -> CompletedKedro:
        """``kedro <args>`` with ``user``'s credentials (and gate-bot's for the gate)."""
        saved = dict(self.project.env)
        self.project.env.update(self.server.credentials(user))
        try:
            return self.project.kedro(*args)
        finally:
            self.project.env.clear()
            self.project.env.update(saved)

    def history(self) -> list[list[str]]:
        """``kedro model history`` rows as columns (the reason last, may contain spaces)."""
        out = _ok(self.as_user("rita", "model", "history", "-e", "test")).stdout
        rows = [line.split() for line in out.splitlines()]
        return [row for row in rows if row and row[0].isdigit()]


def _ok(result: CompletedKedro) -> CompletedKedro:
    assert result.returncode == 0, result.output[-5000:]
    return result


def _refused(result: CompletedKedro, *words: str) -> str:
    """A refusal: exit 1, one line on stderr that says why, no traceback."""
    assert result.returncode == 1, result.output[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.output
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def wait_for(receiver: WebhookReceiver, predicate, timeout: float = 60) -> list[dict]:
    """The events received once ``predicate(events)`` holds (deliveries are asynchronous)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = receiver.events()
        if predicate(events):
            return events
        time.sleep(0.2)
    raise AssertionError(f"no matching webhook delivery within {timeout} s: {receiver.events()}")


@pytest.fixture(scope="module")
def team(tmp_path_factory, team_server: TeamServer):
    """Users of each permission, the team's webhooks (one endpoint up, one down); version 1
    trained by ann and moved to Staging by gate-bot."""
    team_server.add_user("ann", "MANAGE")
    team_server.add_user("gate-bot", "EDIT")
    team_server.add_user("rita", "READ")
    project = make_kedro_project(tmp_path_factory.mktemp("team"))
    project.synthesize("--n-stores", "10")  # what the lifecycle needs, in less time
    project.env.update(
        MLFLOW_TRACKING_URI=team_server.uri,
        ROSSMANN_ARTIFACT_ROOT="mlflow-artifacts:/rossmann",
        ROSSMANN_GATE_USERNAME="gate-bot",
        ROSSMANN_GATE_PASSWORD=team_server.passwords["gate-bot"],
    )
    receiver = WebhookReceiver()
    team = Team(team_server, project, receiver)
    # The admin sets up the team's webhook from conf; URL and secret only in the environment.
    project.env.update(ROSSMANN_WEBHOOK_URL=receiver.url, ROSSMANN_WEBHOOK_SECRET=WEBHOOK_SECRET)
    refused = team.as_user("rita", "model", "notifications", "-e", "test")
    _refused(refused, "only an MLflow admin")
    configured = _ok(team.as_user("admin", "model", "notifications", "-e", "test"))
    assert "rossmann-team' created" in configured.stdout
    # A second endpoint that is down the whole time: it must not block or fail any change.
    project.env["ROSSMANN_WEBHOOK_URL"] = f"http://127.0.0.1:{free_port()}/down"
    with pytest.MonkeyPatch.context() as patch:
        for key, value in team_server.credentials("admin").items():
            patch.setenv(key, value)
        MlflowClient(tracking_uri=team_server.uri).create_webhook(
            "endpoint-down", project.env["ROSSMANN_WEBHOOK_URL"],
            events=["model_version_alias.created"], secret="x",
        )  # fmt: skip
    trained = _ok(team.as_user("ann", "run", "-e", "test"))
    assert "✓ Model version 1 promoted to Staging" in trained.output
    yield team
    receiver.close()


def test_a_reader_reads_and_predicts_but_may_not_change_the_registry(team: Team, tmp_path):
    # Reading and predicting: allowed
    status = _ok(team.as_user("rita", "model", "status", "-e", "test"))
    assert f"tracking: {team.server.uri}" in status.stdout
    assert "Staging" in status.stdout
    described = _ok(team.as_user("rita", "model", "describe", "1", "-e", "test"))
    assert "version 1: Staging" in described.stdout
    output = tmp_path / "submission.csv"
    predicted = _ok(
        team.as_user("rita", "model", "predict", "--version", "1", "--output", str(output),
                     "-e", "test")
    )  # fmt: skip
    assert "predictions by rossmann-ensemble version 1" in predicted.stdout
    assert output.exists()
    # Her batch is judged for drift; the server keeps the verdict off the version, and says so.
    assert "the tracking server refused the tag (PERMISSION_DENIED" in predicted.output
    before = team.history()

    # Changing: refused in one line naming the user and the permission, nothing written
    promote = team.as_user("rita", "model", "promote", "--reason", "looks good", "-e", "test")
    _refused(promote, "rita may not promote", "needs EDIT", "rita has READ")
    rollback = team.as_user(
        "rita", "model", "promote", "--version", "1", "--reason", "back", "-e", "test"
    )
    _refused(rollback, "rita may not promote or roll back")
    retain = team.as_user("rita", "model", "retain", "--keep", "0", "-e", "test")
    _refused(retain, "rita may not delete versions", "needs MANAGE")
    assert team.history() == before
    client = MlflowClient(tracking_uri=team.server.uri)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in team.server.credentials("rita").items():
            patch.setenv(key, value)
        assert client.get_registered_model(MODEL).aliases == {"staging": "1"}
        assert not [m for m in client.search_registered_models() if m.name.endswith(".lock")]


def test_promote_rollback_and_retention_record_the_authenticated_users(team: Team):
    # --user cannot speak for someone else on an authenticating server
    spoofed = team.as_user(
        "ann", "model", "promote", "--reason", "ok", "--user", "boss", "-e", "test"
    )
    _refused(spoofed, "--user boss does not match", "(ann, MLFLOW_TRACKING_USERNAME)")

    _ok(team.as_user("ann", "model", "promote", "--reason", "first model", "-e", "test"))
    second = _ok(
        team.as_user("ann", "run", "-e", "test", "--params",
                     "training.members.lightgbm.num_rounds=40")
    )  # fmt: skip
    assert "✓ Model version 2 promoted to Staging" in second.output
    _ok(team.as_user("ann", "model", "promote", "--reason", "better", "-e", "test"))
    rollback = _ok(
        team.as_user("ann", "model", "promote", "--version", "1", "--reason", "v2 drifts",
                     "-e", "test")
    )  # fmt: skip
    assert "✓ Model version 1 is now in Production" in rollback.stdout
    assert "by ann" in rollback.stdout
    retained = _ok(team.as_user("ann", "model", "retain", "--keep", "0", "-e", "test"))
    assert "Deleted: version 2" in retained.stdout
    predicted = _ok(team.as_user("rita", "model", "predict", "-e", "test"))
    assert "by rossmann-ensemble version 1 (Production)" in predicted.stdout

    # History: who did each move is the user who logged in
    rows = team.history()
    moves = [(row[2], row[3], row[5], row[6]) for row in rows]  # version, from, to, who
    assert ("1", "None", "Staging", "gate-bot") in moves
    assert ("1", "Staging", "Production", "ann") in moves
    assert ("2", "None", "Staging", "gate-bot") in moves
    assert ("2", "Staging", "Production", "ann") in moves
    assert ("1", "Archived", "Production", "ann") in moves
    assert ("2", "Archived", "Deleted", "ann") in moves
    assert {row[6] for row in rows} == {"gate-bot", "ann"}

    # The team heard of both promotions and the rollback (the endpoint that is down the whole
    # time blocked none of them); deliveries are asynchronous, so in any order.
    def productions(events: list[dict]) -> list[str]:
        return sorted(
            e["data"]["version"]
            for e in events
            if e["entity"] == "model_version_alias" and e["data"]["alias"] == "production"
        )

    events = wait_for(team.receiver, lambda events: len(productions(events)) >= 3)
    assert productions(events) == ["1", "1", "2"]


def test_a_batch_drift_verdict_reaches_the_team_endpoint(team: Team, tmp_path):
    output = tmp_path / "submission.csv"
    _ok(
        team.as_user("ann", "model", "predict", "--version", "1", "--output", str(output),
                     "-e", "test")
    )  # fmt: skip

    events = wait_for(
        team.receiver,
        lambda events: any(
            e["entity"] == "model_version_tag" and e["data"]["key"] == "monitoring.input_drift"
            for e in events
        ),
    )
    verdicts = [
        e["data"] for e in events
        if e["entity"] == "model_version_tag" and e["data"]["key"] == "monitoring.input_drift"
    ]  # fmt: skip
    assert verdicts[-1]["version"] == "1"
    assert verdicts[-1]["value"] == "no_drift"  # test.csv after train.csv: nothing drifted


def test_registry_events_reach_the_team_endpoint_signed(team: Team):
    events = wait_for(
        team.receiver,
        lambda events: any(
            e["entity"] == "model_version_alias" and e["data"]["alias"] == "staging" for e in events
        ),
    )
    # Every delivery is signed with the secret from the environment
    assert team.receiver.received
    for headers, body in team.receiver.received:
        assert signature_ok(WEBHOOK_SECRET, headers, body), headers
        assert not signature_ok("another-secret", headers, body)
    registered = [
        e["data"] for e in events if (e["entity"], e["action"]) == ("model_version", "created")
    ]
    assert (registered[0]["name"], registered[0]["version"]) == (MODEL, "1")
    staged = [e["data"] for e in events if e["entity"] == "model_version_alias"]
    assert {"name": MODEL, "alias": "staging", "version": "1"} in staged
    tags = [
        {k: e["data"][k] for k in ("name", "version", "key", "value")}
        for e in events
        if (e["entity"], e["action"]) == ("model_version_tag", "set")
    ]
    # The gate's verdict and the stage, as the registry's tags say them
    assert {"name": MODEL, "version": "1", "key": "validation.status", "value": "passed"} in tags
    assert {"name": MODEL, "version": "1", "key": "lifecycle.stage", "value": "Staging"} in tags
