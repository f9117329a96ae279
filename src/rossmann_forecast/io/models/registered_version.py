"""``RegisteredVersionDataset``: ``models:/<name>@<alias>``, resolved to one registered version."""

from __future__ import annotations

import logging
from typing import Any

from kedro.io import AbstractDataset, DatasetError
from kedro_mlflow.io.models import MlflowModelRegistryDataset

from rossmann_forecast.io.models.read_version import read_version
from rossmann_forecast.registry.errors import NothingInStage
from rossmann_forecast.registry.facade import ModelRegistry
from rossmann_forecast.registry.stages import ALIAS_FOR_STAGE, PRODUCTION_ALIAS, stage_for
from rossmann_forecast.registry.version import RegisteredVersion

logger = logging.getLogger(__name__)


class RegisteredVersionDataset(AbstractDataset[None, RegisteredVersion | None]):
    """A registered model's stage (or one version), resolved to one ``RegisteredVersion``.

    Declared as ``models:/<name>@<alias>`` (``alias: production`` or ``staging``) or as one
    ``model_version`` (which wins), so that kedro-viz shows the registered model feeding the
    nodes that use it. It wraps kedro-mlflow's ``MlflowModelRegistryDataset`` for that address
    (``model_uri``, and loading a pinned version in ``RegisteredModelDataset``) rather than
    subclassing it: where kedro-mlflow loads the model, this loads the version's description.
    The alias is resolved to its version *once*, through the registry facade (which owns stage
    semantics and their messages), so everything downstream refers to the version that was in
    the stage when the run read it, even if the alias moves meanwhile.

    Args:
        registry: ``model_name`` (and the lock settings): the registry, as ``params:registry``.
        alias: ``production`` or ``staging``.
        model_version: A version number; overrides ``alias`` (e.g. from ``--params``).
        optional: Load as ``None`` when no version is in the stage (e.g. no Production before
            the first promotion) instead of failing.
        hint: Appended to the "nothing in stage" message (how to ask for a given version).
        load_args: kedro-mlflow's, for loading the model (``RegisteredModelDataset``).
    """

    def __init__(
        self,
        registry: dict[str, Any],
        alias: str | None = None,
        model_version: int | str | None = None,
        optional: bool = False,
        hint: str | None = None,
        load_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._registry = dict(registry)
        self.model_name: str = self._registry["model_name"]
        # Not `version`: Kedro reserves that key for its own file versioning.
        self.requested_version = int(model_version) if model_version not in (None, "") else None
        self.requested_stage = stage_for(alias or PRODUCTION_ALIAS)
        self.optional = optional
        self.hint = hint
        self._load_args = dict(load_args or {})
        self.metadata = metadata
        if self.requested_version is not None:
            address = {"stage_or_version": self.requested_version}
        else:
            address = {"alias": ALIAS_FOR_STAGE[self.requested_stage]}
        self._registry_dataset = MlflowModelRegistryDataset(
            model_name=self.model_name, load_args=self._load_args, **address
        )

    @property
    def model_uri(self) -> str:
        """What the catalog declares: ``models:/<name>@<alias>`` or ``models:/<name>/<version>``."""
        return self._registry_dataset.model_uri

    @property
    def requested(self) -> str:
        """What the catalog asked for, as people say it: ``Production`` or ``version 7``."""
        if self.requested_version is not None:
            return f"version {self.requested_version}"
        return self.requested_stage

    def _resolve(self) -> RegisteredVersion | None:
        models = ModelRegistry.from_params(self._registry)
        if self.requested_version is not None:
            version, _ = models.resolve(self.requested_version)
            return read_version(models, version)
        for line in models.open_operations():  # the alias serves; say what is still open
            logger.warning("%s; `kedro model check --repair` settles it", line)
        try:
            version, _ = models.resolve(self.requested_stage)
        except NothingInStage as exc:
            if self.optional:
                return None
            if self.hint:
                raise NothingInStage(f"{exc} {self.hint}") from exc
            raise
        return read_version(models, version)

    def load(self) -> RegisteredVersion | None:
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

    def save(self, data: Any) -> None:
        raise DatasetError(
            f"{self.model_uri} is read-only: versions are registered by the training pipeline "
            "and move between stages through `kedro model ...` and the validation gate"
        )

    def _describe(self) -> dict[str, Any]:
        return {**self._registry_dataset._describe(), "optional": self.optional}
