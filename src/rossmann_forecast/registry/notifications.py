"""Registry events to a team endpoint, through MLflow's own webhooks (OSS, SQL backends).

The lifecycle's moves are aliases and version tags, so MLflow's registry events cover them:
``model_version.created`` (a version registered), ``model_version_alias.created`` /
``.deleted`` (a version moved into or out of Staging or Production, a rollback),
``model_version_tag.set`` (``validation.status`` = ``passed``/``rejected``, the gate's
verdict; ``lifecycle.stage`` = ``Staging``/``Production``/``Archived``/``None``, every move). The server delivers them, signed with HMAC-SHA256
(``X-MLflow-Signature``), in the background: an endpoint that is down never blocks or fails a
change. The URL and secret come from the environment (names in conf), never from git;
creating a webhook needs an MLflow admin on a server with authentication.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from mlflow.tracking import MlflowClient

from rossmann_forecast.registry.errors import RegistryError

DEFAULT_EVENTS = (
    "model_version.created",
    "model_version_alias.created",
    "model_version_alias.deleted",
    "model_version_tag.set",
)


@dataclass(frozen=True)
class WebhookSetting:
    """What ``configure_webhook`` did: ``created``, ``updated`` or ``disabled``."""

    name: str
    url: str
    events: tuple[str, ...]
    action: str
    webhook_id: str


def webhook_from_conf(conf: dict[str, Any]) -> tuple[str, str, str | None, tuple[str, ...]]:
    """Name, URL, secret and events from ``registry.notifications`` and the environment.

    Raises:
        RegistryError: The URL variable is unset or empty.
    """
    url_env = conf.get("url_env", "ROSSMANN_WEBHOOK_URL")
    secret_env = conf.get("secret_env", "ROSSMANN_WEBHOOK_SECRET")
    url = (os.environ.get(url_env) or "").strip()
    if not url:
        raise RegistryError(
            f"No webhook URL: set {url_env} (registry.notifications.url_env in "
            "conf/base/parameters_registry.yml) to the team's endpoint, and "
            f"{secret_env} to the secret it checks signatures with."
        )
    secret = os.environ.get(secret_env) or None
    events = tuple(conf.get("events") or DEFAULT_EVENTS)
    return str(conf.get("name", "rossmann-team")), url, secret, events


def configure_webhook(
    client: MlflowClient,
    name: str,
    url: str,
    secret: str | None,
    events: tuple[str, ...],
    *,
    enabled: bool = True,
) -> WebhookSetting:
    """Create the webhook ``name``, or update the one that exists (one per name)."""
    existing = None
    token = None
    while existing is None:
        page = client.list_webhooks(max_results=100, page_token=token)
        existing = next((hook for hook in page if hook.name == name), None)
        token = page.token
        if not token:
            break
    status = "ACTIVE" if enabled else "DISABLED"
    if existing is None:
        hook = client.create_webhook(
            name=name, url=url, events=list(events), secret=secret, status=status,
            description="Registry events of the Rossmann model lifecycle",
        )  # fmt: skip
        action = "created"
    else:
        hook = client.update_webhook(
            existing.webhook_id, url=url, events=list(events), secret=secret, status=status
        )
        action = "updated" if enabled else "disabled"
    return WebhookSetting(name, url, events, action, hook.webhook_id)
