"""Catalog datasets over the model registry: versions in, verdicts and live metrics out.

Nodes never open the registry themselves. What they read is a dataset that resolves a stage
(kedro-mlflow's ``MlflowModelRegistryDataset`` with ``alias``) or a version to a
``RegisteredVersion``; what the gate and monitoring decide is saved through a dataset that
hands it to the registry facade (``rossmann_forecast.registry.ModelRegistry``, built from conf,
lock settings included), which alone moves stages, under its lock and journal. kedro-viz then
shows ``rossmann-ensemble@production`` and ``@staging`` feeding the gate, review and inference.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime
from typing import Any

import mlflow
from kedro.io import AbstractDataset, DatasetError
from kedro_datasets.json import JSONDataset
from kedro_mlflow.io.models import MlflowModelRegistryDataset

from rossmann_forecast import registry
from rossmann_forecast.registry.version import RegisteredVersion

logger = logging.getLogger(__name__)


def _load_pyfunc(model_uri: str) -> Any:
    return mlflow.pyfunc.load_model(model_uri)


def read_version(models: registry.ModelRegistry, version: int) -> RegisteredVersion:
    """The ``RegisteredVersion`` of ``version`` as the registry holds it now."""
    summary = models.version_summary(version)
    tags = dict(models.client.get_model_version(models.model_name, str(version)).tags)
    return RegisteredVersion(
        models.model_name, version, summary["stage"], tags, summary["holdout_rmspe"],
        loader=_load_pyfunc,
    )  # fmt: skip


class RegisteredVersionDataset(MlflowModelRegistryDataset):
    """kedro-mlflow's registry dataset, resolved to one ``RegisteredVersion`` when it loads.

    Declared as ``models:/<name>@<alias>`` (``alias: production`` or ``staging``) or as one
    ``model_version`` (which wins), so that kedro-viz shows the registered model feeding the
    nodes that use it. The alias is resolved to its version *once*, through the registry facade
    (which owns stage semantics and their messages), so everything downstream refers to the
    version that was in the stage when the run read it, even if the alias moves meanwhile.

    Args:
        model_name: The registered model.
        alias: ``production`` or ``staging``.
        model_version: A version number; overrides ``alias`` (e.g. from ``--params``).
        optional: Load as ``None`` when no version is in the stage (e.g. no Production before
            the first promotion) instead of failing.
        hint: Appended to the "nothing in stage" message (how to ask for a given version).
    """

    def __init__(
        self,
        model_name: str,
        alias: str | None = None,
        model_version: int | str | None = None,
        optional: bool = False,
        hint: str | None = None,
        load_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        # Not `version`: Kedro reserves that key for its own file versioning.
        self.requested_version = int(model_version) if model_version not in (None, "") else None
        self.requested_stage = registry.stage_for(alias or registry.PRODUCTION_ALIAS)
        self.optional = optional
        self.hint = hint
        if self.requested_version is not None:
            super().__init__(
                model_name=model_name,
                stage_or_version=self.requested_version,
                load_args=load_args,
                metadata=metadata,
            )
        else:
            super().__init__(
                model_name=model_name,
                alias=registry.ALIAS_FOR_STAGE[self.requested_stage],
                load_args=load_args,
                metadata=metadata,
            )

    @property
    def requested(self) -> str:
        """What the catalog asked for, as people say it: ``Production`` or ``version 7``."""
        if self.requested_version is not None:
            return f"version {self.requested_version}"
        return self.requested_stage

    def _resolve(self) -> RegisteredVersion | None:
        models = registry.ModelRegistry(self.model_name)
        if self.requested_version is not None:
            version, _ = models.resolve(self.requested_version)
            return read_version(models, version)
        for line in models.open_operations():  # the alias serves; say what is still open
            logger.warning("%s; `kedro model check --repair` settles it", line)
        try:
            version, _ = models.resolve(self.requested_stage)
        except registry.NothingInStage as exc:
            if self.optional:
                return None
            if self.hint:
                raise registry.NothingInStage(f"{exc} {self.hint}") from exc
            raise
        return read_version(models, version)

    def _load(self) -> RegisteredVersion | None:
        found = self._resolve()
        if found is None:
            logger.info("No version of %s is in %s", self.model_name, self.requested_stage)
        else:
            logger.info(
                "%s: %s version %d (%s)",
                self.requested,
                self.model_name,
                found.version,
                found.stage,
            )
        return found

    def _save(self, data: Any) -> None:
        raise DatasetError(
            f"{self.model_uri} is read-only: versions are registered by the training pipeline "
            "and move between stages through `kedro model ...` and the validation gate"
        )


class RegisteredModelDataset(RegisteredVersionDataset):
    """``RegisteredVersionDataset`` with the served model loaded: what inference predicts with.

    Returns:
        ``{"model": <pyfunc>, "model_name", "version", "stage", "requested", "model_uri",
        "training_run_id", "run_id", "predicted_at", "load_seconds"}``; ``run_id`` is the
        MLflow run that loads it (kedro-mlflow's run of this ``kedro run``), if any.
    """

    def _load(self) -> dict[str, Any]:  # type: ignore[override]
        started = time.perf_counter()
        found = self._resolve()
        assert found is not None  # not optional: _resolve raised
        problem = registry.ModelRegistry(self.model_name).model_files_problem(found.version)
        if problem:
            raise registry.RegistryError(
                f"Cannot predict with {self.model_name} version {found.version} ({found.stage}; "
                f"requested: {self.requested}): {problem}. `kedro model check` lists broken "
                "versions; promote or roll back to one that loads."
            )
        model = mlflow.pyfunc.load_model(found.model_uri, **self._load_args)
        run = mlflow.active_run()
        reference = {
            "model": model,
            "model_name": self.model_name,
            "version": found.version,
            "stage": found.stage,
            "requested": self.requested,
            "model_uri": found.model_uri,
            "training_run_id": found.training_run_id,
            "run_id": run.info.run_id if run else None,
            "predicted_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "load_seconds": time.perf_counter() - started,
        }
        logger.info(
            "Predicting with %s version %d (%s; requested: %s), loaded in %.2f s",
            self.model_name,
            found.version,
            found.stage,
            self.requested,
            reference["load_seconds"],
        )
        return reference


class ActiveRunDataset(AbstractDataset[None, dict[str, Any]]):
    """The MLflow run of this ``kedro run`` (kedro-mlflow's), for nodes that record its id.

    Loads ``{"run_id", "experiment_id"}`` (both None outside a run), so that a node can say
    which run produced a record without calling MLflow itself.
    """

    def load(self) -> dict[str, Any]:
        run = mlflow.active_run()
        return {
            "run_id": run.info.run_id if run else None,
            "experiment_id": run.info.experiment_id if run else None,
        }

    def save(self, data: None) -> None:
        raise DatasetError("The active MLflow run is read-only")

    def _describe(self) -> dict[str, Any]:
        return {}


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
        with registry.acting_as(*self._service_user()):
            models = registry.ModelRegistry.from_params(self._registry)
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
            logger.info("✓ Model version %d promoted to %s", data["version"], registry.STAGING)
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


class LiveMetricsTagsDataset(AbstractDataset[list[dict[str, Any]], None]):
    """Saves monitoring's judgement of each version as its ``monitoring.*`` version tags.

    Each entry is ``{"version", "rmspe", "drift", "threshold", "window"}``; the run of this
    ``kedro run`` is recorded with it. These tags are not lifecycle state (no alias moves), so
    the facade writes them without its lock: the newest monitoring run wins.
    """

    def __init__(self, model_name: str, metadata: dict[str, Any] | None = None) -> None:
        self._model_name = model_name
        self.metadata = metadata

    def save(self, data: list[dict[str, Any]]) -> None:
        run = mlflow.active_run()
        models = registry.ModelRegistry(self._model_name)
        for entry in data:
            models.record_live_metrics(
                int(entry["version"]),
                rmspe=entry["rmspe"],
                drift=entry["drift"],
                threshold=entry["threshold"],
                window=entry["window"],
                run_id=run.info.run_id if run else None,
            )

    def load(self) -> None:
        raise DatasetError("Live metrics are read from the registry (`kedro model describe N`)")

    def _describe(self) -> dict[str, Any]:
        return {"model_name": self._model_name}
