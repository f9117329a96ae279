"""The one package that reads and writes the model registry: stages, promotions, history.

* ``stages``: stage, alias and status names and tag keys (the one place they are spelled);
* ``state``: a pure snapshot of the registry and what follows from it (stages, invariants);
* ``rules``: pure plans or refusals for the gate, promotion, rollback, retention, abandon;
* ``journal``: plans journaled as MLflow runs, carried out, rolled forward after a crash;
* ``lock``: the registry lock (a registered model with a unique name);
* ``access``: who is acting and whether a server with authentication lets them;
* ``facade``: ``ModelRegistry``, what the CLI, datasets and nodes use.
"""

from rossmann_forecast.registry.access import acting_as
from rossmann_forecast.registry.errors import (
    LockTimeout,
    NothingInStage,
    PermissionDenied,
    PromotionRefused,
    RegistryError,
    VersionNotFound,
)
from rossmann_forecast.registry.facade import (
    ModelRegistry,
    Move,
    PromotionResult,
    TransitionResult,
    current_user,
    initial_version_tags,
)
from rossmann_forecast.registry.journal import CRASH_ENV, CRASH_POINTS, Plan
from rossmann_forecast.registry.rules import RetentionReport, scoring_choice
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
)
from rossmann_forecast.registry.state import (
    RegistrySnapshot,
    Transition,
    VersionRecord,
    VersionStatus,
)

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
]
