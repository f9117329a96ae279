"""The lifecycle rules: a snapshot and a request give a plan, or a refusal (no MLflow calls).

Each ``plan_*`` function checks its precondition against the snapshot read under the lock and
returns the ``Plan`` (moves plus the exact alias and tag writes) that the journal carries out,
or raises a ``RegistryError`` saying why not. Only ``passed`` versions may ever reach Production;
a passed version that a newer one pushed out of Staging goes back to None with
``lifecycle.superseded_by`` set and stays promotable with ``--version``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from rossmann_forecast.registry.errors import (
    NothingInStage,
    PromotionRefused,
    RegistryError,
    VersionNotFound,
)
from rossmann_forecast.registry.plan import Plan
from rossmann_forecast.registry.stages import (
    ABANDONED,
    ALIASES,
    ARCHIVED,
    DELETED,
    EVIDENCE_PREFIX,
    NONE,
    PASSED,
    PENDING,
    PRODUCTION,
    PRODUCTION_ALIAS,
    PROMOTED_AT_TAG,
    PROMOTED_BY_TAG,
    PROMOTION_REASON_TAG,
    REASON_TAG,
    REJECTED,
    STAGE_SEQ_TAG,
    STAGE_TAG,
    STAGING,
    STAGING_ALIAS,
    STATUS_TAG,
    SUPERSEDED_BY_TAG,
    THRESHOLD_TAG,
    VALIDATED_AT_TAG,
    VALIDATED_BY_TAG,
    VALIDATION_PREFIX,
    VALIDATION_RUN_TAG,
    verdict_status,
)
from rossmann_forecast.registry.state import (
    RegistrySnapshot,
    no_version_message,
    nothing_in_stage_message,
    tag_problems,
)


@dataclass(frozen=True)
class Decision:
    """A planned stage change of one version."""

    plan: Plan
    version: int
    from_stage: str
    to_stage: str
    previous: int | None  # the version it displaces (superseded Staging, archived Production)


@dataclass
class RetentionReport:
    """What ``apply_retention`` kept and deleted (or would delete, for a dry run)."""

    keep: int
    dry_run: bool
    production: int | None = None
    staging: int | None = None
    kept_archived: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    untouched: list[int] = field(default_factory=list)
    seq: int | None = None


def _require_version(snapshot: RegistrySnapshot, version: int) -> None:
    if version not in snapshot.versions:
        raise VersionNotFound(no_version_message(snapshot, version))


# ------------------------------------------------------------------------------- gate
def initial_version_tags() -> dict[str, str]:
    """Tags a version is registered with: in no stage, waiting for the gate."""
    return {STAGE_TAG: NONE, STATUS_TAG: PENDING}


def version_to_judge(
    model_name: str,
    *,
    requested: int | None,
    requested_problem: str = "",
    registered_by_this_run: int | None,
    waiting: Callable[[], Iterable[int]],
) -> int:
    """Which version the gate judges: the one asked for, else the one this ``kedro run``
    registered, else the newest version waiting for validation.

    Args:
        model_name: The registered model (for messages).
        requested: A version a person asked for (``--params validation.version=N``).
        requested_problem: Why ``requested`` may not be judged (its registration did not
            complete), or "".
        registered_by_this_run: The version the training of this run registered, if any.
        waiting: The versions waiting for validation (pending, lineage complete, registration
            finished); called only when neither of the above decides.

    Raises:
        RegistryError: When the requested version may not be judged, or nothing waits.
    """
    if requested is not None:
        if requested_problem:
            raise RegistryError(f"The gate does not judge {model_name!r}: {requested_problem}.")
        return requested
    if registered_by_this_run is not None:
        return registered_by_this_run
    newest = max(waiting(), default=None)
    if newest is None:
        raise RegistryError(
            f"No version of {model_name!r} waits for validation. Train one with "
            "`kedro run --pipelines training`, or judge a given one with "
            "`kedro run --pipelines validation --params validation.version=N`."
        )
    return newest


def plan_validation(
    snapshot: RegistrySnapshot,
    version: int,
    *,
    passed: bool,
    metrics: dict[str, float],
    threshold: float,
    reason: str,
    run_id: str | None,
    user: str,
    at: str,
    evidence: dict[str, str] | None = None,
) -> Decision:
    """The gate's verdict: passed -> Staging (superseding the old one), failed -> rejected."""
    _require_version(snapshot, version)
    from_stage = snapshot.stage(version)
    if from_stage in (PRODUCTION, ARCHIVED):
        raise RegistryError(
            f"Version {version} is {from_stage}: it already passed the gate and was "
            "promoted. The gate judges new versions; train a new version instead."
        )
    clean = {str(k): float(v) for k, v in metrics.items()}
    plan = Plan(operation="validate", user=user, reason=reason)
    verdict = {
        STATUS_TAG: verdict_status(passed),
        REASON_TAG: reason,
        THRESHOLD_TAG: repr(float(threshold)),
        VALIDATED_AT_TAG: at,
        VALIDATED_BY_TAG: user,
        **{f"{VALIDATION_PREFIX}{k}": repr(v) for k, v in clean.items()},
    }
    if run_id:
        verdict[VALIDATION_RUN_TAG] = run_id
    for key, value in (evidence or {}).items():
        verdict[f"{EVIDENCE_PREFIX}{key}"] = str(value)
    superseded = None
    if passed:
        to_stage = STAGING
        previous = snapshot.aliases.get(STAGING_ALIAS)
        if previous is not None and previous != version:
            superseded = previous
            plan.add_move(
                snapshot, previous, STAGING, NONE, note=f"superseded by version {version}"
            )
            plan.tag(previous, {STAGE_TAG: NONE, SUPERSEDED_BY_TAG: str(version)})
        plan.add_move(snapshot, version, from_stage, STAGING, note="passed", metrics=clean)
        plan.aliases[STAGING_ALIAS] = version
        plan.tag(version, {**verdict, STAGE_TAG: STAGING})
        if SUPERSEDED_BY_TAG in snapshot.tags(version):
            plan.untag(version, SUPERSEDED_BY_TAG)
    else:
        to_stage = NONE
        plan.add_move(snapshot, version, from_stage, NONE, note="rejected", metrics=clean)
        if snapshot.aliases.get(STAGING_ALIAS) == version:
            plan.aliases[STAGING_ALIAS] = None
        plan.tag(version, {**verdict, STAGE_TAG: NONE})
    return Decision(plan, version, from_stage, to_stage, superseded)


# ------------------------------------------------------------------------------- promotion
def check_reason(reason: str | None) -> str:
    """The stripped reason of a promotion or rollback; refused when empty."""
    if not reason or not reason.strip():
        raise PromotionRefused(
            "A reason is required for every promotion or rollback (--reason TEXT); "
            "it is recorded in the history."
        )
    return reason.strip()


def promotion_target(snapshot: RegistrySnapshot, version: int | None) -> int:
    """The version a promotion moves: ``version``, else the one in Staging (refused if none)."""
    if version is not None:
        return version
    staging = snapshot.aliases.get(STAGING_ALIAS)
    if staging is None:
        raise NothingInStage(nothing_in_stage_message(snapshot, STAGING))
    return staging


def check_promotable(snapshot: RegistrySnapshot, version: int) -> None:
    """Refuse versions that are missing, already in Production, rejected or not validated."""
    _require_version(snapshot, version)
    tags = snapshot.tags(version)
    status = tags.get(STATUS_TAG, PENDING)
    if snapshot.stage(version) == PRODUCTION:
        raise PromotionRefused(
            f"Version {version} is already in Production (promoted by "
            f"{tags.get(PROMOTED_BY_TAG, '?')} at {tags.get(PROMOTED_AT_TAG, '?')}"
            "); nothing to do."
        )
    if status == REJECTED:
        raise PromotionRefused(
            f"Version {version} was rejected by the validation gate "
            f"({tags.get(REASON_TAG, 'no reason recorded')}) and cannot be promoted. "
            "Train a better version, or re-run the gate on it if the threshold changed."
        )
    if status != PASSED:
        raise PromotionRefused(
            f"Version {version} has not passed the validation gate "
            f"({STATUS_TAG}={status}); only validated versions can be promoted. "
            "Run `kedro run --pipelines validation` first."
        )


def plan_promotion(
    snapshot: RegistrySnapshot, *, version: int | None, reason: str, user: str, at: str
) -> Decision:
    """Put a version in Production and archive the previous one (a rollback if it was Archived).

    Without ``version`` the Staging version is promoted. With ``version`` the version must have
    passed the gate: Archived, Staging or superseded versions qualify; pending and rejected
    versions are refused.
    """
    target = promotion_target(snapshot, version)
    check_promotable(snapshot, target)
    from_stage = snapshot.stage(target)
    previous = snapshot.aliases.get(PRODUCTION_ALIAS)
    operation = "rollback" if from_stage == ARCHIVED else "promote"
    plan = Plan(operation=operation, user=user, reason=reason)
    plan.add_move(snapshot, target, from_stage, PRODUCTION)
    plan.aliases[PRODUCTION_ALIAS] = target
    if from_stage == STAGING:
        plan.aliases[STAGING_ALIAS] = None
    plan.tag(
        target,
        {
            STAGE_TAG: PRODUCTION,
            PROMOTED_BY_TAG: user,
            PROMOTED_AT_TAG: at,
            PROMOTION_REASON_TAG: reason,
        },
    )
    if SUPERSEDED_BY_TAG in snapshot.tags(target):
        plan.untag(target, SUPERSEDED_BY_TAG)
    if previous is not None and previous in snapshot.versions:
        plan.add_move(snapshot, previous, PRODUCTION, ARCHIVED, note=f"replaced by {target}")
        plan.tag(previous, {STAGE_TAG: ARCHIVED})
    return Decision(plan, target, from_stage, PRODUCTION, previous)


# ------------------------------------------------------------------------------- retention
def plan_retention(
    snapshot: RegistrySnapshot, keep: int, user: str, *, dry_run: bool = False
) -> tuple[RetentionReport, Plan | None]:
    """Delete Archived versions beyond the ``keep`` most recently archived.

    Production, Staging and versions in None (pending, rejected, superseded) are never touched.
    Returns the report and the plan (None when nothing is to be deleted).
    """
    if keep < 0:
        raise RegistryError(f"keep must be 0 or more, got {keep}")
    report = RetentionReport(
        keep=keep,
        dry_run=dry_run,
        production=snapshot.aliases.get(PRODUCTION_ALIAS),
        staging=snapshot.aliases.get(STAGING_ALIAS),
    )
    archived = snapshot.versions_in(ARCHIVED)
    archived.sort(key=lambda v: (int(snapshot.tags(v).get(STAGE_SEQ_TAG, "0")), v), reverse=True)
    report.kept_archived = sorted(archived[:keep])
    report.deleted = sorted(archived[keep:])
    report.untouched = snapshot.versions_in(NONE)
    if not report.deleted:
        return report, None
    plan = Plan(
        operation="retention",
        user=user,
        reason=f"retention: keep the {keep} most recently archived versions",
    )
    for version in report.deleted:
        plan.add_move(snapshot, version, ARCHIVED, DELETED)
        plan.delete_versions.append(version)
    return report, plan


# ------------------------------------------------------------------------------- abandon
def plan_abandon(snapshot: RegistrySnapshot, version: int, reason: str, user: str) -> Plan | None:
    """Mark a version whose registering run failed, so that nothing picks it up.

    Only a version still waiting for the gate is marked: one the gate already judged keeps its
    verdict (None is returned).
    """
    _require_version(snapshot, version)
    if snapshot.tags(version).get(STATUS_TAG) != PENDING:
        return None
    stage = snapshot.stage(version)
    plan = Plan(operation="abandon", user=user, reason=reason)
    plan.add_move(snapshot, version, stage, stage, note=ABANDONED)
    plan.tag(version, {STATUS_TAG: ABANDONED, REASON_TAG: reason})
    return plan


# ------------------------------------------------------------------------------- repair
def plan_repair(snapshot: RegistrySnapshot, user: str) -> Plan | None:
    """Fix aliases that point nowhere or twice, then tags from the aliases (None if consistent)."""
    problems = tag_problems(snapshot)
    if not problems:
        return None
    plan = Plan(operation="repair", user=user, reason="automatic repair: " + "; ".join(problems))
    aliases = dict(snapshot.aliases)
    for alias, version in snapshot.aliases.items():
        if alias in ALIASES and version not in snapshot.versions:
            plan.aliases[alias] = None
    production, staging = aliases.get(PRODUCTION_ALIAS), aliases.get(STAGING_ALIAS)
    if production is not None and production == staging:
        plan.aliases[STAGING_ALIAS] = None
        aliases.pop(STAGING_ALIAS)
    fixed = RegistrySnapshot(snapshot.model_name, snapshot.versions, aliases, snapshot.history)
    for version in sorted(fixed.versions):
        tagged = fixed.tags(version).get(STAGE_TAG) or NONE
        expected = fixed.stage(version)
        if tagged != expected:
            plan.add_move(fixed, version, tagged, expected, note="tag repaired from aliases")
            plan.tag(version, {STAGE_TAG: expected})
    return plan


def scoring_choice(
    model_name: str, version: int, tags: dict[str, str], first_date: Any
) -> dict[str, str]:
    """The model of ``version`` that may be scored on rows from ``first_date`` on.

    A version is the *served* model (fit on every row of its train.csv, forecasting from
    ``lineage.training_window.origin``) and names the *backtest* the gate judged
    (``lineage.backtest.*``: the same procedure fit on the rows before its holdout). A
    comparison is honest only with a model that was not fit on the rows it scores: the
    served model when its origin is on or before ``first_date``, else the backtest when
    its origin is; never a model scored on rows it was fit on.

    Returns:
        ``{"version", "kind": "served"|"backtest", "model_uri", "origin"}``.

    Raises:
        RegistryError: When neither model forecasts from on or before ``first_date``.
    """
    first = str(first_date)[:10]
    served_origin = tags.get("lineage.training_window.origin")
    backtest_origin = tags.get("lineage.backtest.origin")
    if served_origin and served_origin <= first:
        return {
            "version": str(version),
            "kind": "served",
            "model_uri": f"models:/{model_name}/{int(version)}",
            "origin": served_origin,
        }
    if backtest_origin and backtest_origin <= first and tags.get("lineage.backtest.model_uri"):
        return {
            "version": str(version),
            "kind": "backtest",
            "model_uri": tags["lineage.backtest.model_uri"],
            "origin": backtest_origin,
        }
    raise RegistryError(
        f"Version {version} of {model_name} has no model that forecasts from on or "
        f"before {first}: it was fit on those rows (served model from {served_origin}, "
        f"backtest from {backtest_origin or 'none recorded'}). Score it on later rows."
    )
