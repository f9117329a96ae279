"""Kedro datasets that add this project's lineage to kedro-mlflow's MLflow datasets."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import time
import warnings
from datetime import UTC, datetime
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from kedro_datasets.json import JSONDataset
from kedro_mlflow.io.models import MlflowModelRegistryDataset, MlflowModelTrackingDataset
from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.data.meta_dataset import MetaDataset
from mlflow.types import ColSpec, Schema

import rossmann_forecast.model
from rossmann_forecast import registry
from rossmann_forecast.lineage import git_state, lineage_tags, version_description
from rossmann_forecast.model.boosters import BOOSTERS
from rossmann_forecast.model.ensemble import SIGNATURE
from rossmann_forecast.paths import project_root
from rossmann_forecast.registry.stages import PRODUCTION_ALIAS, stage_for

logger = logging.getLogger(__name__)

# What the pyfunc imports when it loads; pinned to what trained it. Listed explicitly because
# MLflow's inference of requirements costs seconds per save and guesses.
MODEL_REQUIREMENTS = (
    "mlflow",
    "pandas",
    "numpy",
    "pyarrow",
    *(b.requirement for b in BOOSTERS.values()),
)
# The code logged with the model: this subpackage only (see its docstring).
MODEL_PACKAGE = Path(rossmann_forecast.model.__file__).parent
# MLflow "models from code": the file MLflow runs to build the model on load.
MODEL_ENTRYPOINT = MODEL_PACKAGE / "entrypoint.py"
# The package's __init__.py in the code logged with the model.
_SLICE_INIT = '''"""The model-only slice of rossmann_forecast, logged with a registered model.

It holds ``rossmann_forecast.model`` and nothing else of the project.
"""
'''


def model_pip_requirements() -> list[str]:
    """Exact versions of the libraries the registered model needs to load and predict."""
    return [f"{name}=={installed_version(name)}" for name in MODEL_REQUIREMENTS]


def model_code_tree(directory: Path) -> Path:
    """Write the code logged with the model in ``directory``; return the ``code_paths`` entry.

    MLflow copies each ``code_paths`` entry to ``<model>/code/<basename>`` and puts ``code/``
    first on ``sys.path`` when it loads the model. The entry is a ``rossmann_forecast`` folder
    holding a bare ``__init__.py`` and ``model/*.py``, so the model's code imports under its real
    name, ``rossmann_forecast.model``, and nothing else of the project is shipped.
    """
    package = directory / "rossmann_forecast"
    (package / "model").mkdir(parents=True)
    (package / "__init__.py").write_text(_SLICE_INIT)
    for source in sorted(MODEL_PACKAGE.glob("*.py")):
        shutil.copy2(source, package / "model" / source.name)
    return package


class RegisteredEnsembleDataset(MlflowModelTrackingDataset):
    """``MlflowModelTrackingDataset`` that logs the ensemble *with* its lineage.

    With ``registered_model_name`` in ``save_args`` it registers a new version: the model's
    lineage (data hashes, window, features, hyperparameters, CV metrics, weights, the backtest
    that validates it) plus the run id and git commit become tags of the new version at the
    moment MLflow creates it, so no version exists without them; they are also set on the run.
    Without it (the gate's backtest) the model is only logged on the run, its lineage as the
    logged model's tags and ``<name>/lineage.json``.

    The model is logged from code (``model/entrypoint.py``) with its boosters, feature state
    and weights as plain artifact files, so no pickled object is stored. Only the
    ``rossmann_forecast.model`` subpackage travels in the model (``code_paths``, see
    ``model_code_tree``): a version loads with the exact feature code it was trained with, where
    the rest of the project (generator, pipelines, CLI, registry) is not installed.
    """

    def _save(self, model: Any) -> None:
        run = mlflow.active_run()
        lineage = {
            **model.lineage,
            "run_id": run.info.run_id if run else None,
            "git": git_state(project_root()),
        }
        model.lineage = lineage
        name = self._save_args.get("registered_model_name")
        tags = lineage_tags(lineage)
        if name:
            tags = {**registry.initial_version_tags(), **tags}
        self._save_args.update(
            tags=tags,
            signature=SIGNATURE,
            input_example=model.input_example(),
            pip_requirements=model_pip_requirements(),
        )
        if run is not None:
            if name:
                mlflow.set_tags(
                    {k: v for k, v in tags.items() if k.startswith(("lineage.", "cv."))}
                )
                mlflow.log_dict(lineage, "lineage.json")
            else:
                mlflow.log_dict(lineage, f"{self._save_args.get('name')}/lineage.json")
        with tempfile.TemporaryDirectory() as directory:
            self._save_args["artifacts"] = model.save_artifacts(Path(directory) / "artifacts")
            self._save_args["code_paths"] = [str(model_code_tree(Path(directory) / "code"))]
            super()._save(str(MODEL_ENTRYPOINT))
        self._save_args.pop("artifacts")
        self._save_args.pop("code_paths")
        version = getattr(self.model_info, "registered_model_version", None)
        if name and version is not None:
            registry.ModelRegistry(name).set_description(
                int(version), version_description(name, lineage)
            )
            logger.info("✓ Model registered: %s version %s", name, version)
        elif not name:
            logger.info(
                "✓ Backtest model logged: %s (forecasts from %s)",
                self.model_info.model_uri,
                model.state.origin.date(),
            )


class RegisteredModelDataset(MlflowModelRegistryDataset):
    """kedro-mlflow's registry dataset, pinned to a version number when it loads.

    Declared in the catalog as ``models:/<name>@<alias>`` (``alias: production`` or
    ``staging``) or as one ``model_version``, so that kedro-viz shows the registered model feeding
    the nodes that use it. Loading resolves the alias to its version *once*, through the
    project's registry (the module that owns stage semantics and their error messages), and
    loads that version's URI, so the version recorded is the one that predicted even if the
    alias moves during the run.

    Returns:
        ``{"model": <pyfunc>, "model_name", "version", "stage", "requested", "model_uri",
        "training_run_id", "run_id", "predicted_at", "load_seconds"}``; ``run_id`` is the
        MLflow run that loads it (kedro-mlflow's run of this ``kedro run``), if any.
    """

    def __init__(
        self,
        model_name: str,
        alias: str | None = None,
        model_version: int | str | None = None,
        load_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        # Not `version`: Kedro reserves that key for its own file versioning.
        self.requested_version = int(model_version) if model_version not in (None, "") else None
        stage = str(alias or PRODUCTION_ALIAS).strip().lower()
        if self.requested_version is not None:
            super().__init__(
                model_name=model_name,
                stage_or_version=self.requested_version,
                load_args=load_args,
                metadata=metadata,
            )
        else:
            super().__init__(
                model_name=model_name, alias=stage, load_args=load_args, metadata=metadata
            )
        self.requested_stage = stage

    def _load(self) -> dict[str, Any]:
        started = time.perf_counter()
        models = registry.ModelRegistry(self.model_name)
        if self.requested_version is not None:
            version, _ = models.resolve(self.requested_version)
            requested = f"version {version}"
        else:
            try:
                version, _ = models.resolve(self.requested_stage)
            except registry.NothingInStage as exc:
                raise registry.NothingInStage(
                    f"{exc} Or predict with a given version: --params inference.version=N "
                    "(`kedro model status` lists them)."
                ) from exc
            requested = stage_for(self.requested_stage)
        summary = models.version_summary(version)
        model_uri = models.model_uri(version)
        model = mlflow.pyfunc.load_model(model_uri, **self._load_args)
        run = mlflow.active_run()
        reference = {
            "model": model,
            "model_name": self.model_name,
            "version": version,
            "stage": summary["stage"],
            "requested": requested,
            "model_uri": model_uri,
            "training_run_id": summary["training_run_id"],
            "run_id": run.info.run_id if run else None,
            "predicted_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "load_seconds": time.perf_counter() - started,
        }
        logger.info(
            "Predicting with %s version %d (%s; requested: %s), loaded in %.2f s",
            self.model_name,
            version,
            summary["stage"],
            requested,
            reference["load_seconds"],
        )
        return reference

    def _save(self, model: Any) -> None:
        raise DatasetError(
            f"{self.model_uri} is read-only: versions are registered by the training pipeline"
        )


class OptionalJSONDataset(JSONDataset):
    """A JSON file that may not exist yet: loads as None instead of failing."""

    def load(self) -> Any:
        return super().load() if self._exists() else None


# MLflow column types of the pandas dtypes in the project's tables.
_MLFLOW_TYPES = {"f": "double", "i": "long", "u": "long", "b": "boolean", "M": "datetime"}


class TableRecord(MetaDataset):
    """MLflow's metadata-only dataset record, plus the row count MLflow shows as the profile.

    ``mlflow.data.from_pandas`` infers a schema by visiting every cell in Python (about 20 s for
    the 700,000-row training table); this record is built from the dtypes and a vectorised
    missing-value check in well under a second, with a content hash of the whole table.
    """

    def __init__(self, data: pd.DataFrame, source: Any, name: str) -> None:
        schema = Schema(
            [
                ColSpec(
                    "float" if dtype == "float32" else _MLFLOW_TYPES.get(dtype.kind, "string"),
                    str(column),
                    required=not bool(data[column].isna().any()),
                )
                for column, dtype in data.dtypes.items()
            ]
        )
        hashed = pd.util.hash_pandas_object(data, index=False).to_numpy()
        self._profile = {"num_rows": len(data), "num_elements": int(data.size)}
        super().__init__(
            source=source, name=name, digest=hashlib.sha256(hashed.tobytes()).hexdigest()[:8],
            schema=schema,
        )  # fmt: skip

    @property
    def profile(self) -> dict[str, int]:
        """Row and cell counts, as MLflow's pandas datasets report them."""
        return self._profile

    def to_dict(self) -> dict[str, str]:
        config = super().to_dict()
        config["profile"] = json.dumps(self._profile)
        return config


class MlflowInputDataset(AbstractDataset):
    """Wraps a pandas dataset and records its load as an MLflow dataset input of the run.

    The run page then lists exactly which training or holdout table it used: name, content hash,
    schema and row count (not the data). Recorded once per run however many nodes load it.
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
        self._recorded_for_run: str | None = None
        self.metadata = metadata

    def load(self) -> Any:
        data = self._dataset.load()
        run = mlflow.active_run()
        if run is not None and run.info.run_id != self._recorded_for_run:
            path = Path(str(getattr(self._dataset, "_filepath", ""))).resolve().as_uri()
            with warnings.catch_warnings():
                # MLflow registers its local dataset source twice (for "" and "file" URIs) and
                # says a local path "can be interpreted in multiple ways"; both are one class.
                warnings.filterwarnings("ignore", message="The specified dataset source can be")
                source = resolve_dataset_source(path)
            mlflow.log_input(TableRecord(data, source, self._name), context=self._context)
            self._recorded_for_run = run.info.run_id
        return data

    def save(self, data: Any) -> None:
        self._dataset.save(data)

    def _exists(self) -> bool:
        return self._dataset.exists()

    def _describe(self) -> dict[str, Any]:
        return {"dataset": self._dataset._describe(), "name": self._name, "context": self._context}
