"""Kedro datasets that add this project's lineage to kedro-mlflow's MLflow datasets."""

from __future__ import annotations

import logging
import tempfile
import warnings
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import mlflow
from kedro.io import AbstractDataset
from kedro_datasets.json import JSONDataset
from kedro_mlflow.io.models import MlflowModelTrackingDataset

import rossmann_forecast
from rossmann_forecast import registry
from rossmann_forecast.ensemble import SIGNATURE
from rossmann_forecast.lineage import git_state, lineage_tags, version_description
from rossmann_forecast.paths import project_root

logger = logging.getLogger(__name__)

# What the pyfunc imports when it loads; pinned to what trained it. Listed explicitly because
# MLflow's inference of requirements costs seconds per save and guesses.
MODEL_REQUIREMENTS = (
    "mlflow",
    "pandas",
    "numpy",
    "pyarrow",
    "lightgbm",
    "xgboost-cpu",
    "catboost",
)
# MLflow "models from code": the file MLflow runs to build the model on load.
MODEL_ENTRYPOINT = Path(rossmann_forecast.__file__).with_name("model_entrypoint.py")


def model_pip_requirements() -> list[str]:
    """Exact versions of the libraries the registered model needs to load and predict."""
    return [f"{name}=={installed_version(name)}" for name in MODEL_REQUIREMENTS]


class RegisteredEnsembleDataset(MlflowModelTrackingDataset):
    """``MlflowModelTrackingDataset`` that registers a new version *with* its lineage.

    The model's lineage (data hashes, window, features, hyperparameters, CV metrics, weights)
    plus the run id and git commit become tags of the new model version at the moment
    MLflow creates it, so no version exists without them; they are also set on the run.
    The model is logged from code (``model_entrypoint.py``) with its boosters, feature state
    and weights as plain artifact files, so no pickled object is stored; the project package
    travels in the model (``code_paths``) so that it loads with the exact feature code it was
    trained with.
    """

    def _save(self, model: Any) -> None:
        run = mlflow.active_run()
        lineage = {
            **model.lineage,
            "run_id": run.info.run_id if run else None,
            "git": git_state(project_root()),
        }
        model.lineage = lineage
        tags = {**registry.initial_version_tags(), **lineage_tags(lineage)}
        self._save_args.update(
            tags=tags,
            signature=SIGNATURE,
            input_example=model.input_example(),
            pip_requirements=model_pip_requirements(),
            code_paths=[str(Path(rossmann_forecast.__file__).parent)],
        )
        if run is not None:
            mlflow.set_tags({k: v for k, v in tags.items() if k.startswith(("lineage.", "cv."))})
            mlflow.log_dict(lineage, "lineage.json")
        with tempfile.TemporaryDirectory() as directory:
            self._save_args["artifacts"] = model.save_artifacts(Path(directory))
            super()._save(str(MODEL_ENTRYPOINT))
        self._save_args.pop("artifacts")
        name = self._save_args.get("registered_model_name")
        version = getattr(self.model_info, "registered_model_version", None)
        if name and version is not None:
            registry.ModelRegistry(name).set_description(
                int(version), version_description(name, lineage)
            )
            logger.info("✓ Model registered: %s version %s", name, version)


class OptionalJSONDataset(JSONDataset):
    """A JSON file that may not exist yet: loads as None instead of failing."""

    def load(self) -> Any:
        return super().load() if self._exists() else None


class MlflowInputDataset(AbstractDataset):
    """Wraps a pandas dataset and records each load as an MLflow dataset input of the run.

    MLflow's own ``log_input`` stores the table's name, digest, schema and row count (not the
    data), so the run page lists exactly which training or holdout table it used.
    """

    def __init__(
        self,
        dataset: dict[str, Any],
        name: str,
        context: str,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._dataset = AbstractDataset.from_config(name, dict(dataset))
        self._name = name
        self._context = context
        self.metadata = metadata

    def load(self) -> Any:
        data = self._dataset.load()
        if mlflow.active_run() is not None:
            source = Path(str(getattr(self._dataset, "_filepath", ""))).resolve().as_uri()
            with warnings.catch_warnings():
                # Two MLflow notices that do not apply here. (1) MLflow registers its local
                # dataset source twice (for "" and "file" URIs) and says a local path "can be
                # interpreted in multiple ways"; both are the same class. (2) It hints that
                # integer columns cannot hold missing values in a *model signature*; this is a
                # data record, and the model's signature is declared (ensemble.SIGNATURE).
                warnings.filterwarnings("ignore", message="The specified dataset source can be")
                warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
                record = mlflow.data.from_pandas(data, source=source, name=self._name)
                mlflow.log_input(record, context=self._context)
        return data

    def save(self, data: Any) -> None:
        self._dataset.save(data)

    def _exists(self) -> bool:
        return self._dataset.exists()

    def _describe(self) -> dict[str, Any]:
        return {"dataset": self._dataset._describe(), "name": self._name, "context": self._context}
