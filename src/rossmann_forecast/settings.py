"""Project settings: hooks, configuration loader, custom resolvers.

See https://docs.kedro.org/en/stable/configure/configuration_basics/
"""

from omegaconf.resolvers import oc

from rossmann_forecast.hooks import FailedRunHook, NodeTimingHook, RawDataHook
from rossmann_forecast.paths import project_root

# kedro-mlflow registers its own hook through its entry point. Ours make sure raw data exist,
# show progress and where the time goes, and abandon a version whose registering run failed.
HOOKS = (RawDataHook(), NodeTimingHook(), FailedRunHook())

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
