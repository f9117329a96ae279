"""The registry as read at one moment, and what follows from it alone (no MLflow calls).

A ``RegistrySnapshot`` holds the versions with their tags, the aliases and the journal's moves.
The aliases decide who is in Production and Staging; ``lifecycle.stage`` tags mirror them, and
``tag_problems`` says where they do not.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rossmann_forecast.registry.stages import (
    ABANDONED,
    ALIASES,
    ARCHIVED,
    EVIDENCE_PREFIX,
    GATE_METRIC_TAG,
    INPUT_DRIFT_TAG,
    LEGACY_GATE_METRIC_TAG,
    NONE,
    PENDING,
    PRODUCTION,
    PRODUCTION_ALIAS,
    PROMOTED_AT_TAG,
    PROMOTED_BY_TAG,
    REASON_TAG,
    REJECTED,
    SHADOW_PREFIX,
    STAGE_TAG,
    STAGES,
    STAGING,
    STAGING_ALIAS,
    STATUS_TAG,
    SUPERSEDED_BY_TAG,
    THRESHOLD_TAG,
    VALIDATION_PREFIX,
)


@dataclass(frozen=True)
class VersionRecord:
    """One model version as the registry holds it."""

    version: int
    tags: Mapping[str, str] = field(default_factory=dict)
    run_id: str | None = None
    creation_timestamp: int | None = None
    source: str | None = None
    description: str = ""


@dataclass(frozen=True)
class Transition:
    """One move of one version, as recorded in the history."""

    seq: int
    operation: str
    version: int
    from_stage: str
    to_stage: str
    user: str
    at: str
    reason: str
    metrics: dict[str, float]
    note: str
    state: str
    run_id: str


@dataclass(frozen=True)
class VersionStatus:
    """One row of ``status``."""

    version: int
    stage: str
    validation_status: str
    holdout_rmspe: float | None
    registered_at: str
    data_version: str | None
    data_source: str | None
    promoted_by: str | None
    promoted_at: str | None
    note: str
    input_drift: str = "-"


@dataclass(frozen=True)
class RegistrySnapshot:
    """The registry of one model as read at one moment.

    ``history`` holds the journal's moves when the reader asked for them (empty otherwise).
    """

    model_name: str
    versions: dict[int, VersionRecord]
    aliases: dict[str, int]
    history: tuple[Transition, ...] = ()

    def tags(self, version: int) -> dict[str, str]:
        return dict(self.versions[version].tags or {})

    def stage(self, version: int) -> str:
        """The version's stage, with the aliases deciding Production and Staging."""
        if self.aliases.get(PRODUCTION_ALIAS) == version:
            return PRODUCTION
        if self.aliases.get(STAGING_ALIAS) == version:
            return STAGING
        tagged = self.tags(version).get(STAGE_TAG, NONE)
        if tagged == PRODUCTION:
            return ARCHIVED  # was Production, the alias moved on
        if tagged in (STAGING, ""):
            return NONE
        return tagged if tagged in STAGES else NONE

    def versions_in(self, stage: str) -> list[int]:
        return sorted(v for v in self.versions if self.stage(v) == stage)


# ------------------------------------------------------------------------------- invariants
def tag_problems(snapshot: RegistrySnapshot) -> list[str]:
    """Where aliases and ``lifecycle.stage`` tags break the rules; empty when consistent."""
    problems = []
    for alias, version in snapshot.aliases.items():
        if alias in ALIASES and version not in snapshot.versions:
            problems.append(f"alias @{alias} points at missing version {version}")
    production = snapshot.aliases.get(PRODUCTION_ALIAS)
    staging = snapshot.aliases.get(STAGING_ALIAS)
    if production is not None and production == staging:
        problems.append(f"version {production} holds both @{PRODUCTION_ALIAS} and @{STAGING_ALIAS}")
    for version in sorted(snapshot.versions):
        tagged = snapshot.tags(version).get(STAGE_TAG)
        expected = snapshot.stage(version)
        if tagged != expected and not (tagged is None and expected == NONE):
            problems.append(
                f"version {version} is tagged {STAGE_TAG}={tagged} but the aliases "
                f"make it {expected}"
            )
    return problems


# ------------------------------------------------------------------------------- messages
def no_version_message(snapshot: RegistrySnapshot, version: int) -> str:
    existing = sorted(snapshot.versions)
    return (
        f"{snapshot.model_name} has no version {version} "
        f"(existing versions: {', '.join(map(str, existing)) or 'none'})."
    )


def nothing_in_stage_message(snapshot: RegistrySnapshot, stage: str) -> str:
    """Why no version is in ``stage``: the last move out of it, if the history has one."""
    last = ""
    for transition in reversed(snapshot.history):
        if transition.from_stage == stage:
            last = (
                f"version {transition.version} left {stage} for {transition.to_stage} in "
                f"#{transition.seq} by {transition.user} at {transition.at}"
            )
            break
    hint = (
        "Run the validation gate (`kedro run --pipelines validation`) to put a version in "
        f"{STAGING}, or name a validated version with --version N."
        if stage == STAGING
        else "Promote a validated version first: `kedro model promote --reason TEXT`."
    )
    if last:
        return f"No version of {snapshot.model_name} is in {stage} ({last}). {hint}"
    return f"No version of {snapshot.model_name} is in {stage}. {hint}"


# ------------------------------------------------------------------------------- tag readings
def float_or_none(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def holdout_rmspe(tags: Mapping[str, str]) -> float | None:
    """The gate's holdout RMSPE of a version (None before the gate judged it)."""
    return float_or_none(tags.get(GATE_METRIC_TAG, tags.get(LEGACY_GATE_METRIC_TAG)))


def validation_metrics(tags: Mapping[str, str]) -> dict[str, float]:
    """Numeric ``validation.<metric>`` tags of a version, without the prefix."""
    skip = {THRESHOLD_TAG.removeprefix(VALIDATION_PREFIX)}
    metrics: dict[str, float] = {}
    for key, value in tags.items():
        if key.startswith(VALIDATION_PREFIX) and not key.startswith(EVIDENCE_PREFIX):
            name = key.removeprefix(VALIDATION_PREFIX)
            number = float_or_none(value)
            if name not in skip and number is not None and math.isfinite(number):
                metrics[name] = number
    return metrics


def ms_to_iso(ms: int | None) -> str:
    if not ms:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def _first(tags: Mapping[str, str], *keys: str) -> str | None:
    for key in keys:
        if tags.get(key):
            return tags[key]
    return None


def status_note(tags: Mapping[str, str]) -> str:
    if tags.get(STATUS_TAG) == REJECTED:
        return f"rejected: {tags.get(REASON_TAG, '')}"
    if tags.get(STATUS_TAG) == ABANDONED:
        return f"abandoned: {tags.get(REASON_TAG, '')}"
    if tags.get(SUPERSEDED_BY_TAG):
        return f"superseded by version {tags[SUPERSEDED_BY_TAG]}"
    if tags.get(STATUS_TAG) == PENDING:
        return "awaiting validation"
    return ""


def data_version(tags: Mapping[str, str]) -> str | None:
    """The training data's identity: DVC md5 of train.csv if tracked, else its content hash."""
    found = _first(
        tags,
        "lineage.data.train.dvc_md5",
        "lineage.data.train.sha256",
        "lineage.data_version",
    )
    return found[:12] if found else None


def data_source(tags: Mapping[str, str]) -> str | None:
    source = _first(tags, "lineage.data_source.source", "lineage.data_source")
    seed = tags.get("lineage.data_source.seed")
    return f"{source} (seed {seed})" if source and seed else source


def version_status(snapshot: RegistrySnapshot, version: int) -> VersionStatus:
    """One row of ``status`` for ``version``."""
    tags = snapshot.tags(version)
    return VersionStatus(
        version=version,
        stage=snapshot.stage(version),
        validation_status=tags.get(STATUS_TAG, "unknown"),
        holdout_rmspe=holdout_rmspe(tags),
        registered_at=ms_to_iso(snapshot.versions[version].creation_timestamp),
        data_version=data_version(tags),
        data_source=data_source(tags),
        promoted_by=tags.get(PROMOTED_BY_TAG),
        promoted_at=tags.get(PROMOTED_AT_TAG),
        note=status_note(tags),
        input_drift=input_drift_text(tags),
    )


def input_drift_text(tags: Mapping[str, str]) -> str:
    """The latest batch's drift verdict in a few words: ``-`` before any batch was judged."""
    status = tags.get(INPUT_DRIFT_TAG)
    if not status:
        return "-"
    if status == "drift":
        return f"drift: {tags.get(INPUT_DRIFT_TAG + '.checks', '?')}"
    return status.replace("_", " ")


def shadow_record(tags: Mapping[str, str]) -> dict[str, Any] | None:
    """A version's live comparison in another's shadow (``monitoring.shadow.*``, written by
    monitoring once sales arrived): champion, both RMSPEs, store-days, since; None without."""
    try:
        return {
            "champion": int(tags[SHADOW_PREFIX + "vs_version"]),
            "rmspe": float(tags[SHADOW_PREFIX + "rmspe"]),
            "champion_rmspe": float(tags[SHADOW_PREFIX + "champion_rmspe"]),
            "store_days": int(tags[SHADOW_PREFIX + "store_days"]),
            "since": tags.get(SHADOW_PREFIX + "since", "?"),
        }
    except (KeyError, ValueError):
        return None


def gate_estimate(tags: Mapping[str, str]) -> dict[str, float] | None:
    """What the gate said a version would score over the six weeks it forecasts: ``rmspe``
    (``validation.estimate_rmspe``) and, where conf gave a range (``validation.estimate_range``),
    ``low`` and ``high``; None for a version the gate has not judged with an estimate."""
    try:
        found = {"rmspe": float(tags[VALIDATION_PREFIX + "estimate_rmspe"])}
    except (KeyError, ValueError):
        return None
    for end in ("low", "high"):
        with contextlib.suppress(KeyError, ValueError):
            found[end] = float(tags[f"{VALIDATION_PREFIX}estimate_rmspe_{end}"])
    return found


def likely_text(likely: Mapping[str, Any] | None) -> str:
    """`` (likely 0.0698-0.1048)``: where the gate said the next weeks' RMSPE will likely land
    (``low`` and ``high``), as the verdict and the review say it; '' without a range."""
    if not likely or "low" not in likely or "high" not in likely:
        return ""
    return f" (likely {likely['low']:.4f}-{likely['high']:.4f})"


def live_comparison(tags: Mapping[str, str], version: int) -> str | None:
    """``shadow_record`` in one line, e.g. "live since 2015-08-03, 4,212 store-days: version 3
    0.0910 vs version 2 0.1040 (the version that served them)"; None without one."""
    record = shadow_record(tags)
    if record is None:
        return None
    return (
        f"live since {record['since']}, {record['store_days']:,} store-days: version {version} "
        f"{record['rmspe']:.4f} vs version {record['champion']} {record['champion_rmspe']:.4f} "
        "(the version that served them)"
    )


def grouped_tags(tags: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Tags grouped by prefix (lifecycle, validation, lineage, cv; the rest under other)."""
    groups: dict[str, dict[str, Any]] = {
        "lifecycle": {},
        "validation": {},
        "lineage": {},
        "cv": {},
        "other": {},
    }
    for key, value in sorted(tags.items()):
        prefix, _, rest = key.partition(".")
        if prefix in groups and rest:
            groups[prefix][rest] = value
        else:
            groups["other"][key] = value
    return groups
