"""Who is acting: the authenticated user on a server with credentials, else as before."""

import pytest

from rossmann_forecast.registry import RegistryError, access, acting_as, current_user
from rossmann_forecast.registry.access import check_may
from rossmann_forecast.registry.errors import PermissionDenied

SERVER = "http://127.0.0.1:5000"


def test_on_an_authenticating_server_the_logged_in_user_acts(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ann")
    assert current_user(None, SERVER) == "ann"
    assert current_user("ann", SERVER) == "ann"


def test_user_flag_cannot_speak_for_someone_else_on_such_a_server(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ann")
    with pytest.raises(RegistryError, match=r"--user boss does not match .*\(ann, "):
        current_user("boss", SERVER)


def test_without_a_server_the_flag_still_names_who_acts(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ann")
    assert current_user("boss", "sqlite:///tmp/mlflow.db") == "boss"
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    assert current_user("boss", SERVER) == "boss"


def test_no_permission_check_without_authentication(monkeypatch):
    asked = []
    monkeypatch.setattr(access, "server_permission", lambda *args: asked.append(args) or "READ")
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)

    check_may("sqlite:///tmp/mlflow.db", "m", "promote", "ann")  # nothing to ask, no error
    check_may(SERVER, "m", "promote", "ann")  # no credentials: nothing to check either

    assert asked == []  # READ would have refused the promotion, had the server been asked
    monkeypatch.setattr(access, "_is_admin", lambda *args: False)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ann")
    with pytest.raises(PermissionDenied, match=r"ann may not .* m on http.* ann has READ"):
        check_may(SERVER, "m", "promote", "ann")
    assert asked == [(SERVER, "ann", "m")]


def test_current_user_precedence_without_authentication(monkeypatch):
    monkeypatch.setattr(access.getpass, "getuser", lambda: "os-user")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "tracking-user")
    assert current_user("explicit") == "explicit"
    assert current_user(None) == "tracking-user"
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    assert current_user(None) == "os-user"


def test_acting_as_a_service_user_restores_the_caller(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ann")
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    with acting_as("gate-bot", "pw"):
        assert current_user(None, SERVER) == "gate-bot"
    assert current_user(None, SERVER) == "ann"
    with acting_as(None, None):
        assert current_user(None, SERVER) == "ann"
