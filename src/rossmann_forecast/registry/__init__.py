"""The one package that reads and writes the model registry: stages, promotions, history.

* ``stages``: stage, alias and status names and tag keys (the one place they are spelled);
* ``state``: a pure snapshot of the registry and what follows from it (stages, invariants);
* ``plan``: an operation's moves and writes, as plain values;
* ``rules``: pure plans or refusals for the gate, promotion, rollback, retention, abandon;
* ``journal``: plans journaled as MLflow runs, carried out, rolled forward after a crash;
* ``lock``: the registry lock (a registered model with a unique name);
* ``access``: who is acting and whether a server with authentication lets them;
* ``version``: ``RegisteredVersion``, one version as a node sees it;
* ``facade``: ``ModelRegistry``, what the CLI, the datasets and the hooks use.

``stages``, ``errors``, ``state``, ``plan``, ``rules`` and ``version`` are pure (no MLflow);
``journal``, ``lock``, ``access``, ``notifications`` and ``facade`` read and write MLflow.
"""

from importlib import import_module
from typing import Any

from rossmann_forecast.registry.errors import (
    LockTimeout,
    NothingInStage,
    PermissionDenied,
    PromotionRefused,
    RegistryError,
    VersionNotFound,
)
from rossmann_forecast.registry.plan import Plan
from rossmann_forecast.registry.rules import (
    RetentionReport,
    initial_version_tags,
    scoring_choice,
    version_to_judge,
)
from rossmann_forecast.registry.stages import (
    ABANDONED,
    ALIAS_FOR_STAGE,
    ARCHIVED,
    DELETED,
    GATE_METRIC,
    GATE_METRIC_TAG,
    LINEAGE_COMPLETE_TAG,
    NONE,
    PASSED,
    PENDING,
    PRODUCTION,
    PRODUCTION_ALIAS,
    REJECTED,
    STAGE_TAG,
    STAGES,
    STAGING,
    STAGING_ALIAS,
    STATUS_TAG,
    alias_for,
    stage_for,
    verdict_status,
)
from rossmann_forecast.registry.state import (
    RegistrySnapshot,
    Transition,
    VersionRecord,
    VersionStatus,
)
from rossmann_forecast.registry.version import RegisteredVersion

# The parts that talk to MLflow load when first used, so that importing the pure core
# (``registry.stages``, ``registry.version``...), as the pipelines' nodes do, imports no MLflow.
_STORE = {
    "acting_as": "access",
    "current_user": "access",
    "ModelRegistry": "facade",
    "Move": "facade",
    "PromotionResult": "facade",
    "TransitionResult": "facade",
    "CRASH_ENV": "journal",
    "CRASH_POINTS": "journal",
}


def __getattr__(name: str) -> Any:
    if name in _STORE:
        return getattr(import_module(f"{__name__}.{_STORE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ABANDONED",
    "ALIAS_FOR_STAGE",
    "ARCHIVED",
    "CRASH_ENV",
    "CRASH_POINTS",
    "DELETED",
    "GATE_METRIC",
    "GATE_METRIC_TAG",
    "LINEAGE_COMPLETE_TAG",
    "NONE",
    "PASSED",
    "PENDING",
    "PRODUCTION",
    "PRODUCTION_ALIAS",
    "REJECTED",
    "STAGES",
    "STAGE_TAG",
    "STAGING",
    "STAGING_ALIAS",
    "STATUS_TAG",
    "LockTimeout",
    "ModelRegistry",
    "Move",
    "NothingInStage",
    "PermissionDenied",
    "Plan",
    "PromotionRefused",
    "PromotionResult",
    "RegisteredVersion",
    "RegistryError",
    "RegistrySnapshot",
    "RetentionReport",
    "Transition",
    "TransitionResult",
    "VersionNotFound",
    "VersionRecord",
    "VersionStatus",
    "acting_as",
    "alias_for",
    "current_user",
    "initial_version_tags",
    "scoring_choice",
    "stage_for",
    "verdict_status",
    "version_to_judge",
]
