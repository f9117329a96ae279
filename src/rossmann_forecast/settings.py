"""Project settings: hooks, configuration loader, custom resolvers.

See https://docs.kedro.org/en/stable/configure/configuration_basics/
"""

import warnings

from omegaconf.resolvers import oc

from rossmann_forecast.hooks import (
    FailedRunHook,
    MlflowLocationHook,
    NodeTimingHook,
    PreviousOutputsHook,
    RawFilesCheckHook,
    RunLockHook,
    TrackingRetriesHook,
    UnfinishedRunsHook,
)
from rossmann_forecast.paths import project_root

# kedro-mlflow 2.0.3 defines KedroPipelineModel.predict without type hints, and MLflow warns
# about it ("Add type hints to the `predict` method") when that class is first imported: by
# kedro-mlflow's hook, at the start of every `kedro` command, before the command's answer. It
# is not about our model (whose predict is typed). MLflow raises it inside its own
# `catch_warnings` + `simplefilter("once")`, which overrides any filterwarnings entry, so the
# class is imported here (settings load before plugin hooks) while that one warning is caught;
# any other warning raised by the import is shown as usual.
with warnings.catch_warnings(record=True) as _caught:
    warnings.simplefilter("always")
    import kedro_mlflow.mlflow.kedro_pipeline_model  # noqa: F401
for _warning in _caught:
    if "Add type hints to the `predict` method" not in str(_warning.message):
        warnings.warn_explicit(
            _warning.message, _warning.category, _warning.filename, _warning.lineno
        )

# kedro-mlflow registers its own hook through its entry point. Ours stop a copied project
# folder from writing into the original's artifacts, stop a run whose raw files are missing
# before any node, show progress and where the time goes, abandon a version whose
# registering run failed, let one run at a time use data/, and put back the data files a
# failed run had begun to rewrite.
HOOKS = (
    TrackingRetriesHook(),
    UnfinishedRunsHook(),
    MlflowLocationHook(),
    RunLockHook(),
    RawFilesCheckHook(),
    NodeTimingHook(),
    FailedRunHook(),
    PreviousOutputsHook(),
)

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # Environments override only what differs from base: deep-merge instead of replacing
    # whole top-level groups.
    "merge_strategy": {"parameters": "soft", "mlflow": "soft", "catalog": "soft"},
    "custom_resolvers": {
        # Absolute project path, so that the SQLite registry resolves the same from any cwd.
        "project_root": lambda: project_root().as_posix(),
        # Lets a team point every command at a shared tracking server with MLFLOW_TRACKING_URI.
        "oc.env": oc.env,
    },
}
