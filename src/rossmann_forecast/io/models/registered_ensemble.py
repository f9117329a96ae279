"""``RegisteredEnsembleDataset``: the served ensemble, registered by training, judged by the gate."""

from __future__ import annotations

import logging
from typing import Any

import mlflow
from kedro.io import DatasetError

from rossmann_forecast.io.models.logged_ensemble import LoggedEnsembleDataset
from rossmann_forecast.io.models.read_version import read_version
from rossmann_forecast.lineage import lineage_tags, version_description
from rossmann_forecast.registry.facade import ModelRegistry
from rossmann_forecast.registry.rules import initial_version_tags, version_to_judge
from rossmann_forecast.registry.version import RegisteredVersion

logger = logging.getLogger(__name__)


class RegisteredEnsembleDataset(LoggedEnsembleDataset):
    """The served ensemble as a version of the registered model: saved by training, loaded by
    the gate.

    Saving logs it and registers it as a new version of ``registry.model_name``: its lineage
    (data hashes, window, features, hyperparameters, CV metrics, weights, the backtest that
    validates it) plus the run id and git commit become tags of the new version at the moment
    MLflow creates it, so no version exists without them; they are also set on the run.

    Loading returns the ``RegisteredVersion`` the gate judges, as ``registry.version_to_judge``
    chooses it: ``model_version`` if given (e.g. ``--params validation.version=7``); else the
    version this dataset registered earlier in the same ``kedro run``; else the newest version
    waiting for validation. So in kedro-viz the registered ensemble is what links training to
    the gate, and the gate can also run alone.

    Args:
        registry: ``model_name`` (and the lock settings): the registry, as ``params:registry``.
        model_version: The version to load, overriding the choice above.
        save_args: kedro-mlflow's; ``registered_model_name`` is ``registry.model_name``.
    """

    def __init__(
        self,
        *,
        registry: dict[str, Any],
        model_version: int | str | None = None,
        save_args: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._registry = dict(registry)
        name = self._registry.get("model_name")
        if not name:
            raise DatasetError(
                "RegisteredEnsembleDataset needs registry.model_name "
                "(use LoggedEnsembleDataset to log a model without registering it)"
            )
        save_args = dict(save_args or {})
        if save_args.setdefault("registered_model_name", name) != name:
            raise DatasetError(
                f"RegisteredEnsembleDataset registers {name!r} (registry.model_name), not "
                f"save_args.registered_model_name {save_args['registered_model_name']!r}"
            )
        super().__init__(save_args=save_args, **kwargs)
        self.requested_version = int(model_version) if model_version not in (None, "") else None
        self.registered_version: int | None = None

    @property
    def model_name(self) -> str:
        return self._registry["model_name"]

    def _save(self, model: Any) -> None:
        run = mlflow.active_run()
        model = self._with_run_lineage(model, run)
        tags = {**initial_version_tags(), **lineage_tags(model.lineage)}
        if run is not None:
            mlflow.set_tags({k: v for k, v in tags.items() if k.startswith(("lineage.", "cv."))})
            mlflow.log_dict(model.lineage, "lineage.json")
        self._log_model(model, tags)
        version = getattr(self.model_info, "registered_model_version", None)
        self.registered_version = int(version) if version is not None else None
        if self.registered_version is not None:
            ModelRegistry.from_params(self._registry).set_description(
                self.registered_version, version_description(self.model_name, model.lineage)
            )
            logger.info("✓ Model registered: %s version %s", self.model_name, version)

    def _load(self) -> RegisteredVersion:
        models = ModelRegistry.from_params(self._registry)
        requested = problem = None
        if self.requested_version is not None:
            requested, _ = models.resolve(self.requested_version)
            problem = models.registration_problem(requested)
        version = version_to_judge(
            self.model_name,
            requested=requested,
            requested_problem=problem or "",
            registered_by_this_run=self.registered_version,
            waiting=models.versions_to_validate,
        )
        found = read_version(models, version)
        logger.info("Candidate: %s version %d (%s)", self.model_name, version, found.stage)
        return found
