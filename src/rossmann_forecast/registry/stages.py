"""Stage, alias and status names and tag keys: the one place where they are spelled.

MLflow's stage API is deprecated, so the stages are the ``@production`` and ``@staging``
registered-model aliases (the source of truth for who is in Production and Staging) mirrored
by a ``lifecycle.stage`` version tag, which adds what an alias cannot say (Archived, None).
"""

from __future__ import annotations

from rossmann_forecast.registry.errors import RegistryError

# Stage names as shown to users and stored in the ``lifecycle.stage`` tag.
NONE = "None"
STAGING = "Staging"
PRODUCTION = "Production"
ARCHIVED = "Archived"
DELETED = "Deleted"  # only in the history: retention removed the version
STAGES = (NONE, STAGING, PRODUCTION, ARCHIVED)

# The registered-model aliases that carry Production and Staging (``models:/<name>@production``).
PRODUCTION_ALIAS = "production"
STAGING_ALIAS = "staging"
ALIAS_FOR_STAGE = {PRODUCTION: PRODUCTION_ALIAS, STAGING: STAGING_ALIAS}
STAGE_FOR_ALIAS = {alias: stage for stage, alias in ALIAS_FOR_STAGE.items()}
# Production first: moving that alias is an operation's commit point.
ALIASES = (PRODUCTION_ALIAS, STAGING_ALIAS)

# The gate's verdict: one vocabulary for the ``validation.status`` tag and the ``status`` of the
# verdict the gate writes (gate_status.json). A verdict file written before they were one says
# "staging" for passed; only the version tag is read back, so nothing needs to read that word.
PENDING = "pending"
PASSED = "passed"
REJECTED = "rejected"
# Registered by a `kedro run` that then failed: never judged or promoted unless a person asks
# for exactly that version (`--params validation.version=N`).
ABANDONED = "abandoned"

# Version tags.
STAGE_TAG = "lifecycle.stage"
STAGE_SEQ_TAG = "lifecycle.stage_seq"
STAGE_SINCE_TAG = "lifecycle.stage_since"
PROMOTED_BY_TAG = "lifecycle.promoted_by"
PROMOTED_AT_TAG = "lifecycle.promoted_at"
PROMOTION_REASON_TAG = "lifecycle.promotion_reason"
SUPERSEDED_BY_TAG = "lifecycle.superseded_by"
STATUS_TAG = "validation.status"
VALIDATION_PREFIX = "validation."
EVIDENCE_PREFIX = "validation.evidence."
REASON_TAG = "validation.reason"
THRESHOLD_TAG = "validation.threshold"
VALIDATION_RUN_TAG = "validation.run_id"
VALIDATED_AT_TAG = "validation.at"
VALIDATED_BY_TAG = "validation.by"
LINEAGE_COMPLETE_TAG = "lineage.complete"

# The gate's number: one name as a metric key (JSON, history), a version tag and an MLflow metric
# (``validation.holdout_rmspe`` through the validation metrics dataset's prefix).
GATE_METRIC = "holdout_rmspe"
GATE_METRIC_TAG = VALIDATION_PREFIX + GATE_METRIC
# Versions validated before the name was unified carry it as ``validation.rmspe``: read only.
LEGACY_GATE_METRIC_TAG = "validation.rmspe"

# What inference and monitoring learn about a version after it serves (not lifecycle state):
# the latest batch's drift verdict, and its live accuracy beside the version it shadowed.
INPUT_DRIFT_TAG = "monitoring.input_drift"
SHADOW_PREFIX = "monitoring.shadow."


def verdict_status(passed: bool) -> str:
    """The gate's verdict as stored and reported: ``passed`` or ``rejected``."""
    return PASSED if passed else REJECTED


def alias_for(stage: str) -> str:
    """The alias of a stage given as "production"/"Production"/"staging"/"Staging".

    Raises:
        RegistryError: For any other stage (Archived and None have no alias).
    """
    alias = stage.strip().lower()
    if alias not in ALIASES:
        raise RegistryError(
            f"Unknown stage {stage!r}: use {PRODUCTION_ALIAS!r} or {STAGING_ALIAS!r} "
            "(or a version number)."
        )
    return alias


def stage_for(stage_or_alias: str) -> str:
    """The stage name ("Production", "Staging") of a stage or alias in any case."""
    return STAGE_FOR_ALIAS[alias_for(stage_or_alias)]
