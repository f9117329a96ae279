"""``RegisteredVersion``: one version of the registered model as a node sees it (no MLflow).

The registry datasets (``io.models``) read it from MLflow and give it MLflow's pyfunc
loader; the gate and the review receive it as a plain input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rossmann_forecast.registry.errors import RegistryError
from rossmann_forecast.registry.rules import scoring_choice


@dataclass(frozen=True)
class RegisteredVersion:
    """One version of the registered model, as a node sees it: what it is and how to load it.

    Models load on demand (like the partitions of Kedro's ``PartitionedDataset``): a node asks
    for the model it may score on given rows, and only that one is loaded.

    Attributes:
        model_name: The registered model.
        version: The version number.
        stage: Its stage when the dataset resolved it.
        tags: Its version tags (lineage, validation, lifecycle).
        holdout_rmspe: The gate's score of this version, if it has been judged.
        loader: Loads a model URI as a pyfunc; the registry datasets pass MLflow's, a test
            may pass its own. Without one the version is described but cannot load models.
    """

    model_name: str
    version: int
    stage: str
    tags: dict[str, str] = field(default_factory=dict)
    holdout_rmspe: float | None = None
    loader: Callable[[str], Any] | None = field(default=None, repr=False, compare=False)

    @property
    def model_uri(self) -> str:
        """``models:/<name>/<version>``: the served model, pinned to this version."""
        return f"models:/{self.model_name}/{self.version}"

    @property
    def training_run_id(self) -> str | None:
        return self.tags.get("lineage.run_id")

    @property
    def validation_run_id(self) -> str | None:
        return self.tags.get("validation.run_id")

    def _load(self, model_uri: str) -> Any:
        if self.loader is None:
            raise RegistryError(
                f"Version {self.version} of {self.model_name} was built without a model loader: "
                "load it through the catalog (its registry datasets pass MLflow's)."
            )
        return self.loader(model_uri)

    def load_model(self) -> Any:
        """The served pyfunc (fit on every row of its train.csv)."""
        return self._load(self.model_uri)

    def scoring_choice(self, first_date: Any) -> dict[str, str]:
        """Which of this version's models may be scored on rows from ``first_date`` on.

        The served model when it forecasts from on or before ``first_date``, else the backtest
        the gate judged (``lineage.backtest.*``) when it does: never a model scored on rows it
        was fit on. See ``registry.scoring_choice``.
        """
        return scoring_choice(self.model_name, self.version, self.tags, first_date)

    def scoring_model(self, first_date: Any) -> dict[str, Any]:
        """``scoring_choice`` with the chosen pyfunc loaded under ``"model"``."""
        choice = self.scoring_choice(first_date)
        return {**choice, "model": self._load(choice["model_uri"])}

    def summary(self) -> dict[str, Any]:
        """Plain, JSON-ready facts about the version (for reports)."""
        return {
            "version": self.version,
            "stage": self.stage,
            "model_uri": self.model_uri,
            "training_run_id": self.training_run_id,
            "validation_run_id": self.validation_run_id,
            "holdout_rmspe": self.holdout_rmspe,
        }
