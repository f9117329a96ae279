"""Kedro datasets that add this project's lineage to kedro-mlflow's MLflow datasets."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import warnings
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from kedro_mlflow.io.models import MlflowModelTrackingDataset
from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.data.meta_dataset import MetaDataset
from mlflow.types import ColSpec, Schema

import rossmann_forecast.model
from rossmann_forecast import registry
from rossmann_forecast.lineage import git_state, lineage_tags, version_description
from rossmann_forecast.model.boosters import BOOSTERS
from rossmann_forecast.model.ensemble import SIGNATURE, InvalidInputError
from rossmann_forecast.paths import project_root
from rossmann_forecast.raw import files as raw_data
from rossmann_forecast.registry_datasets import RegisteredVersion, read_version

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


class LoggedEnsembleDataset(MlflowModelTrackingDataset):
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


class RegisteredEnsembleDataset(LoggedEnsembleDataset):
    """The served ensemble as a version of the registered model: saved by training, loaded by
    the gate.

    Saving logs and registers it (``registered_model_name`` in ``save_args`` is required).
    Loading returns the ``RegisteredVersion`` the gate judges: ``model_version`` if given (e.g.
    ``--params validation.version=7``); else the version this dataset registered earlier in the
    same ``kedro run``; else the newest version waiting for validation. So in kedro-viz the
    registered ensemble is what links training to the gate, and the gate can also run alone.
    """

    def __init__(
        self,
        *,
        model_version: int | str | None = None,
        save_args: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not (save_args or {}).get("registered_model_name"):
            raise DatasetError(
                "RegisteredEnsembleDataset needs save_args.registered_model_name "
                "(use LoggedEnsembleDataset to log a model without registering it)"
            )
        super().__init__(save_args=save_args, **kwargs)
        self.requested_version = int(model_version) if model_version not in (None, "") else None
        self.registered_version: int | None = None

    def _save(self, model: Any) -> None:
        super()._save(model)
        version = getattr(self.model_info, "registered_model_version", None)
        self.registered_version = int(version) if version is not None else None

    def _load(self) -> RegisteredVersion:
        name = self._save_args["registered_model_name"]
        models = registry.ModelRegistry(name)
        if self.requested_version is not None:
            version, _ = models.resolve(self.requested_version)
            problem = models.registration_problem(version)
            if problem:
                raise registry.RegistryError(f"The gate does not judge {name!r}: {problem}.")
        elif self.registered_version is not None:
            version = self.registered_version
        else:
            version = max(models.versions_to_validate(), default=None)
            if version is None:
                raise registry.RegistryError(
                    f"No version of {name!r} waits for validation. Train one with "
                    "`kedro run --pipelines training`, or judge a given one with "
                    "`kedro run --pipelines validation --params validation.version=N`."
                )
        found = read_version(models, version)
        logger.info("Candidate: %s version %d (%s)", name, version, found.stage)
        return found


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
    schema and row count (not the data). Recorded once per run however many nodes load it, and
    on save when the run that builds the table uses it from memory.
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
        path = Path(str(getattr(self._dataset, "_filepath", ""))).resolve()
        try:
            data = self._dataset.load()
        except DatasetError as exc:
            # pandas says "No columns to parse from file" 300 lines down a traceback.
            if isinstance(exc.__cause__, pd.errors.EmptyDataError):
                size = path.stat().st_size if path.is_file() else 0
                raise InvalidInputError(
                    f"{path.name} is empty ({size} bytes): {path} has no header and no rows"
                ) from None
            raise
        self._record(data, path)
        return data

    def _record(self, data: Any, path: Path) -> None:
        """Log ``data`` as the active run's input, once per run."""
        run = mlflow.active_run()
        if run is not None and run.info.run_id != self._recorded_for_run:
            with warnings.catch_warnings():
                # MLflow registers its local dataset source twice (for "" and "file" URIs) and
                # says a local path "can be interpreted in multiple ways"; both are one class.
                warnings.filterwarnings("ignore", message="The specified dataset source can be")
                source = resolve_dataset_source(path.as_uri())
            mlflow.log_input(TableRecord(data, source, self._name), context=self._context)
            self._recorded_for_run = run.info.run_id

    def save(self, data: Any) -> None:
        """Write the table; a run that builds it and uses it from memory (the catalog's
        ``CachedDataset``) records it here, since that run never loads it from the file."""
        self._dataset.save(data)
        self._record(data, Path(str(getattr(self._dataset, "_filepath", ""))).resolve())

    def _exists(self) -> bool:
        return self._dataset.exists()

    def _describe(self) -> dict[str, Any]:
        return {"dataset": self._dataset._describe(), "name": self._name, "context": self._context}


class RawFilesFingerprintDataset(AbstractDataset):
    """The identity of the three raw Kaggle files: loading it fingerprints them.

    Loads ``{"source": "synthetic"|"real", "synthetic": {"seed", "n_stores"}|None, "files":
    {name: {"path", "sha256", "dvc_md5"}}}`` (see ``rossmann_forecast.raw.files``), which the
    ``build_raw_data_lineage`` node turns into the run's raw-data lineage. Read-only: nothing in
    a run writes raw files (``kedro data synthesize`` does, on request).
    """

    def __init__(self, path: str, metadata: dict[str, Any] | None = None) -> None:
        """
        Args:
            path: The folder of ``train.csv``, ``store.csv`` and ``test.csv`` (Kedro makes a
                relative ``path`` absolute from the project root).
            metadata: Kedro-Viz and other plugins' metadata.
        """
        self.path = Path(path)
        self.metadata = metadata

    def check(self) -> None:
        """Refuse a folder a run cannot use (files missing, partial set, empty file).

        Raises:
            RawDataError: One line naming the file and what to do.
        """
        raw_data.check_raw_files(self.path)

    def load(self) -> dict[str, Any]:
        return raw_data.fingerprint_raw_files(self.path, project_root())

    def save(self, data: Any) -> None:
        raise DatasetError(
            f"{type(self).__name__} is read-only: raw files are the user's, or written by "
            "`kedro data synthesize`."
        )

    def _exists(self) -> bool:
        return all(path.exists() for path in raw_data.raw_paths(self.path).values())

    def _describe(self) -> dict[str, Any]:
        return {"path": self.path.as_posix()}
