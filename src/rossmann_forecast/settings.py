"""Project settings: hooks, configuration loader, custom resolvers.

See https://docs.kedro.org/en/stable/configure/configuration_basics/
"""

from omegaconf.resolvers import oc

from rossmann_forecast.hooks import (
    FailedRunHook,
    MlflowLocationHook,
    NodeTimingHook,
    ParametersCheckHook,
    PreviousOutputsHook,
    RawFilesCheckHook,
    RunLockHook,
    TrackingRetriesHook,
    UnfinishedRunsHook,
)
from rossmann_forecast.paths import project_root
from rossmann_forecast.startup import import_pipeline_model_quietly

# Before plugin hooks load: keeps MLflow's warning about kedro-mlflow's class out of every
# command's output (startup.py gathers this and the other start-up tricks).
import_pipeline_model_quietly()

# kedro-mlflow registers its own hook through its entry point. Ours stop a copied project
# folder from writing into the original's artifacts, stop a run whose raw files are missing
# or whose parameters are bad before any node, show progress and where the time goes, abandon a version whose
# registering run failed, let one run at a time use data/, and put back the data files a
# failed run had begun to rewrite.
HOOKS = (
    TrackingRetriesHook(),
    UnfinishedRunsHook(),
    MlflowLocationHook(),
    RunLockHook(),
    RawFilesCheckHook(),
    ParametersCheckHook(),
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
