"""``LoggedEnsembleDataset``: the ensemble logged on the run with its lineage (not registered)."""

from __future__ import annotations

import copy
import logging
import tempfile
from pathlib import Path
from typing import Any

import mlflow
from kedro_mlflow.io.models import MlflowModelTrackingDataset

from rossmann_forecast.io.models.packaging import (
    MODEL_ENTRYPOINT,
    model_code_tree,
    model_pip_requirements,
)
from rossmann_forecast.lineage import git_state, lineage_tags
from rossmann_forecast.paths import project_root

logger = logging.getLogger(__name__)


class LoggedEnsembleDataset(MlflowModelTrackingDataset):
    """``MlflowModelTrackingDataset`` that logs the ensemble *with* its lineage.

    The model is logged on the run only (the gate's backtest), its lineage as the logged model's
    tags and ``<name>/lineage.json``; ``RegisteredEnsembleDataset`` also registers it. The
    lineage saved is the node's plus what only the save knows: the MLflow run and the git
    commit (the node's model object is left as it was).

    The model is logged from code (``model/entrypoint.py``) with its boosters, feature state
    and weights as plain artifact files, so no pickled object is stored. Only the
    ``rossmann_forecast.model`` subpackage travels in the model (``code_paths``, see
    ``packaging.model_code_tree``): a version loads with the exact feature code it was trained
    with, where the rest of the project (generator, pipelines, CLI, registry) is not installed.
    """

    def _save(self, model: Any) -> None:
        run = mlflow.active_run()
        model = self._with_run_lineage(model, run)
        if run is not None:
            mlflow.log_dict(model.lineage, f"{self._save_args.get('name')}/lineage.json")
        self._log_model(model, lineage_tags(model.lineage))
        logger.info(
            "✓ Backtest model logged: %s (forecasts from %s)",
            self.model_info.model_uri,
            model.state.origin.date(),
        )

    @staticmethod
    def _with_run_lineage(model: Any, run: Any) -> Any:
        """A shallow copy of ``model`` whose lineage names the run and the git commit."""
        saved = copy.copy(model)
        saved.lineage = {
            **model.lineage,
            "run_id": run.info.run_id if run else None,
            "git": git_state(project_root()),
        }
        return saved

    def _log_model(self, model: Any, tags: dict[str, str]) -> None:
        """Log ``model`` from code through kedro-mlflow, with ``tags`` on the logged model (and
        on the new version when ``save_args`` registers one); ``save_args`` as configured
        are left unchanged."""
        configured = self._save_args
        with tempfile.TemporaryDirectory() as directory:
            self._save_args = {
                **configured,
                "tags": tags,
                "signature": model.signature(),
                "input_example": model.input_example(),
                "pip_requirements": model_pip_requirements(),
                "artifacts": model.save_artifacts(Path(directory) / "artifacts"),
                "code_paths": [str(model_code_tree(Path(directory) / "code"))],
            }
            try:
                super()._save(str(MODEL_ENTRYPOINT))
            finally:
                self._save_args = configured
