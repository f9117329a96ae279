"""Who is acting, and may they: the identity and permissions of a tracking server with auth.

On a server that runs MLflow's authentication app (``mlflow server --app-name basic-auth``,
see ``make server``) the user is whoever ``MLFLOW_TRACKING_USERNAME`` logs in as; the history
records that name and ``--user`` cannot change it. Before a change takes the registry lock, the
server is asked for the user's own permission on the registered model, so that a user who may
only read is refused in one sentence, before anything is written. Without authentication (the
local SQLite registry, a server without the auth app) nothing is checked here.
"""

from __future__ import annotations

import contextlib
import getpass
import os
from collections.abc import Iterator

from mlflow.exceptions import MlflowException
from mlflow.utils.credentials import get_default_host_creds
from mlflow.utils.rest_utils import http_request

from rossmann_forecast.registry.errors import PermissionDenied, RegistryError

USERNAME_ENV = "MLFLOW_TRACKING_USERNAME"
PASSWORD_ENV = "MLFLOW_TRACKING_PASSWORD"
# MLflow's permission names, weakest first; a change needs at least the one named per operation.
PERMISSION_ORDER = ("NO_PERMISSIONS", "READ", "USE", "EDIT", "MANAGE")
REQUIRED = {
    "validate": "EDIT",
    "promote": "EDIT",
    "abandon": "EDIT",
    "repair": "EDIT",
    "retention": "MANAGE",  # deletes versions
}
PERMISSION_ENDPOINT = "/api/3.0/mlflow/users/permissions/get"
USER_ENDPOINT = "/api/2.0/mlflow/users/get"


def authenticated_user(tracking_uri: str | None) -> str | None:
    """The user a tracking server authenticates, or None when there is no such identity."""
    if not tracking_uri or not str(tracking_uri).startswith(("http://", "https://")):
        return None
    name = (os.environ.get(USERNAME_ENV) or "").strip()
    return name or None


def current_user(explicit: str | None = None, tracking_uri: str | None = None) -> str:
    """Who is acting.

    On a tracking server with credentials (``MLFLOW_TRACKING_USERNAME``) the authenticated user,
    and ``explicit`` (``--user``) may only repeat it. Elsewhere ``explicit``, else
    ``MLFLOW_TRACKING_USERNAME``, else the OS user.

    Raises:
        RegistryError: ``explicit`` names someone else than the authenticated user.
    """
    authenticated = authenticated_user(tracking_uri)
    if authenticated is not None:
        if explicit and explicit.strip() and explicit.strip() != authenticated:
            raise RegistryError(
                f"--user {explicit.strip()} does not match the user you are logged in as on "
                f"{tracking_uri} ({authenticated}, MLFLOW_TRACKING_USERNAME): the history "
                "records the authenticated user; drop --user or log in as that user."
            )
        return authenticated
    for candidate in (explicit, os.environ.get(USERNAME_ENV)):
        if candidate and candidate.strip():
            return candidate.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in some containers
        return "unknown"


def server_permission(tracking_uri: str, user: str, model_name: str) -> str | None:
    """``user``'s permission on the registered model, or None if the server has no auth app."""
    try:
        response = http_request(
            get_default_host_creds(tracking_uri),
            PERMISSION_ENDPOINT,
            "GET",
            params={
                "username": user,
                "resource_type": "registered_model",
                "resource_id": model_name,
            },
            max_retries=0,
            timeout=30,
        )
    except MlflowException as exc:
        raise RegistryError(f"Cannot reach the tracking server {tracking_uri}: {exc}") from exc
    if response.status_code == 404:  # no authentication app: everybody may write
        return None
    if response.status_code == 401:
        raise PermissionDenied(
            f"The tracking server {tracking_uri} did not accept the credentials of {user} "
            "(MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD)."
        )
    if response.status_code != 200:
        raise RegistryError(
            f"The tracking server {tracking_uri} answered {response.status_code} when asked for "
            f"{user}'s permission on {model_name}: {response.text[:200]}"
        )
    return str(response.json().get("permission", "NO_PERMISSIONS")).upper()


def check_may(tracking_uri: str | None, model_name: str, operation: str, user: str) -> None:
    """Refuse ``operation`` before any write when the server says ``user`` may not do it.

    Raises:
        PermissionDenied: One sentence: who, what, which permission is needed and held.
    """
    if authenticated_user(tracking_uri) is None:
        return
    permission = server_permission(str(tracking_uri), user, model_name)
    if permission is None:
        return
    needed = REQUIRED.get(operation, "EDIT")
    rank = PERMISSION_ORDER.index
    held = permission if permission in PERMISSION_ORDER else "NO_PERMISSIONS"
    if rank(held) < rank(needed) and not _is_admin(str(tracking_uri), user):
        raise PermissionDenied(
            f"{user} may not {_verb(operation)} {model_name} on {tracking_uri}: that needs "
            f"{needed} on the registered model and {user} has {held}. Ask an MLflow admin to "
            "grant it (scripts/team_server.py add-user)."
        )


def _is_admin(tracking_uri: str, user: str) -> bool:
    """Admins may do everything whatever their per-model permission says."""
    response = http_request(
        get_default_host_creds(tracking_uri), USER_ENDPOINT, "GET",
        params={"username": user}, max_retries=0, timeout=30,
    )  # fmt: skip
    return response.status_code == 200 and bool(response.json().get("user", {}).get("is_admin"))


def _verb(operation: str) -> str:
    return {
        "validate": "record a gate verdict for",
        "promote": "promote or roll back",
        "retention": "delete versions of",
        "abandon": "abandon versions of",
        "repair": "repair",
    }.get(operation, operation)


@contextlib.contextmanager
def acting_as(username: str | None, password: str | None) -> Iterator[None]:
    """MLflow requests inside run as ``username`` (a service user), then as before.

    MLflow reads ``MLFLOW_TRACKING_USERNAME``/``PASSWORD`` for every request; without a
    username this changes nothing.
    """
    if not username:
        yield
        return
    before = {key: os.environ.get(key) for key in (USERNAME_ENV, PASSWORD_ENV)}
    os.environ[USERNAME_ENV] = username
    os.environ[PASSWORD_ENV] = password or ""
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
