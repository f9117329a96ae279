"""``GateVerdictDataset``: the gate's verdict, recorded in the registry, then as a JSON file."""

from __future__ import annotations

import logging
import os
from typing import Any

import mlflow
from kedro.io import AbstractDataset
from kedro_datasets.json import JSONDataset

from rossmann_forecast.registry.access import acting_as
from rossmann_forecast.registry.facade import ModelRegistry
from rossmann_forecast.registry.stages import STAGING

logger = logging.getLogger(__name__)


class GateVerdictDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    """Saves the gate's verdict into the registry, then as the gate status JSON file.

    Saving hands the verdict to the registry facade (``record_validation``: under the
    registry lock with ``registry``'s timeouts, through the journal), with the run of this
    ``kedro run`` as its evidence; only once the registry holds it is the status file written,
    so a refused or interrupted move leaves no file saying otherwise. Loading reads the file.

    On a team server with authentication the verdict is recorded as the team's service user
    when its credentials are in the environment variables ``service_user_env`` names (never in
    conf); without them, as whoever runs ``kedro run``.

    Args:
        filepath: The gate status JSON (what scripts read after the gate).
        registry: ``model_name``, ``lock_ttl_seconds``, ``lock_wait_seconds``.
        service_user_env: ``{"username": <variable>, "password": <variable>}``.
    """

    def __init__(
        self,
        filepath: str,
        registry: dict[str, Any],
        service_user_env: dict[str, str] | None = None,
        save_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._file = JSONDataset(filepath=filepath, save_args=save_args)
        self._registry = dict(registry)
        self._service_user_env = dict(service_user_env or {})
        self.metadata = metadata

    def _service_user(self) -> tuple[str | None, str | None]:
        names = self._service_user_env
        username = os.environ.get(names["username"]) if names.get("username") else None
        password = os.environ.get(names["password"]) if names.get("password") else None
        return (username or None), password

    def save(self, data: dict[str, Any]) -> None:
        run = mlflow.active_run()
        with acting_as(*self._service_user()):
            models = ModelRegistry.from_params(self._registry)
            models.record_validation(
                int(data["version"]),
                passed=bool(data["passed"]),
                metrics=data["recorded_metrics"],
                # No absolute threshold (null in conf) is recorded as inf: nothing is above it.
                threshold=float("inf") if data["threshold"] is None else float(data["threshold"]),
                reason=data["reason"],
                run_id=run.info.run_id if run else None,
                evidence=data["evidence"],
            )
        if data["passed"]:
            logger.info("✓ Model version %d promoted to %s", data["version"], STAGING)
        else:
            logger.warning("✗ Model version %d rejected: %s", data["version"], data["reason"])
        # The file keeps the verdict; what the registry records with it is in the version tags.
        self._file.save(
            {k: v for k, v in data.items() if k not in ("recorded_metrics", "evidence")}
        )

    def load(self) -> dict[str, Any]:
        return self._file.load()

    def _exists(self) -> bool:
        return self._file.exists()

    def _describe(self) -> dict[str, Any]:
        return {"file": self._file._describe(), "model_name": self._registry.get("model_name")}
