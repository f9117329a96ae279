"""The one module that reads and writes the model registry: stages, promotions, history.

Stages on supported MLflow primitives
    MLflow's stage API is deprecated, so the four stages of the workflow are built on registered-model
    **aliases** and **version tags**:

    * ``@production`` and ``@staging`` aliases: one version each, moved by a single atomic write, so
      ``models:/rossmann-ensemble@production`` resolves for any MLflow tool. The aliases are the
      source of truth for "which version is in Production/Staging".
    * ``lifecycle.stage`` tag (``None`` | ``Staging`` | ``Production`` | ``Archived``) mirrors the
      aliases and adds what an alias cannot say (Archived, None). It is repaired from the aliases
      whenever the two disagree. ``lifecycle.stage_seq``/``lifecycle.stage_since`` say which journal
      entry put the version in its stage and when; ``lifecycle.promoted_by|promoted_at|
      promotion_reason`` (kept after archiving) and ``lifecycle.superseded_by`` complete the
      picture. Few tags mean few writes: each tag is one request (about 0.1 s on a server).
    * ``validation.status`` (``pending`` | ``passed`` | ``rejected``) is the gate's verdict, with
      ``validation.reason``, ``validation.threshold``, ``validation.run_id``, ``validation.at``,
      ``validation.by`` and one ``validation.<metric>`` tag per metric (``validation.rmspe`` is the
      holdout RMSPE). Only ``passed`` versions may ever reach Production. A passed version that a
      newer one pushed out of Staging goes back to None with ``lifecycle.superseded_by`` set and stays
      promotable with ``--version``.

History: one MLflow run per operation in the experiment ``<model>-lifecycle``
    MLflow keeps no record of who moved an alias when (mlflow/mlflow#2169). Every change is therefore
    an *operation* journaled as one run in a dedicated experiment of the same tracking backend, so the
    history is shared wherever the registry is, survives the project checkout and is visible in the
    MLflow UI. Runs rather than registered-model tags because a run is created together with all its
    tags in one write (an atomic journal record), has no practical count limit and can be searched.
    Each run carries ``journal.seq`` (a gap-free sequence number allocated under the lock, the order
    of the history), ``journal.operation``, ``journal.user``, ``journal.at`` (UTC ISO),
    ``journal.reason``, ``journal.state`` (``intent`` -> ``complete``) and ``journal.plan``: the JSON
    list of moves (version, from-stage, to-stage, metrics at that time) with the exact alias and tag
    writes that carry them out.

Write protocol (crash safety)
    Every change runs under the registry lock and follows the same steps: roll forward any
    incomplete journal entry left by a killed process, repair tags that disagree with the aliases,
    check the caller's precondition against the registry as it is *now*, write the journal entry as
    ``intent`` (one atomic ``create_run``), move the aliases (production first: that write is the
    commit point), write the version tags, delete versions (retention only), mark the entry
    ``complete``, release the lock. A process killed at any step leaves the aliases at the old or the
    new state, and the next command (reads included) completes the intent before doing anything else,
    because every step is idempotent. ``ROSSMANN_REGISTRY_CRASH_AT=<step>`` (see ``CRASH_POINTS``)
    SIGKILLs the process at that step so tests can prove it.

Concurrency: a lock on a unique registered-model name
    MLflow has no compare-and-set, but creating a registered model whose name already exists fails
    with ``RESOURCE_ALREADY_EXISTS`` for all but one caller. The lock is the registered model
    ``<model>.lock``, created together with its owner, host, pid, token and expiry tags. A holder that
    died (its pid is gone on this host) or whose lock expired (``lock_ttl_seconds``) is broken by
    whoever first creates ``<model>.lock.broken.<token>`` (again a one-winner write), so only one
    process can break a given lock. Waiters retry with jitter for at most ``lock_wait_seconds`` and
    then raise ``LockTimeout`` naming the holder. Once they hold the lock they re-check their
    precondition, so a loser of a race gets a clear refusal (e.g. "No version is in Staging: version 7
    was promoted to Production by alice ...") rather than silently overwriting the winner.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import logging
import math
import os
import random
import signal
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

logger = logging.getLogger(__name__)

# Stage names as shown to users and stored in the ``lifecycle.stage`` tag.
NONE = "None"
STAGING = "Staging"
PRODUCTION = "Production"
ARCHIVED = "Archived"
DELETED = "Deleted"
STAGES = (NONE, STAGING, PRODUCTION, ARCHIVED)
ALIAS_FOR_STAGE = {PRODUCTION: "production", STAGING: "staging"}

PENDING = "pending"
PASSED = "passed"
REJECTED = "rejected"
# Registered by a `kedro run` that then failed: never judged or promoted unless a person asks
# for exactly that version (`--params validation.version=N`).
ABANDONED = "abandoned"

STAGE_TAG = "lifecycle.stage"
STATUS_TAG = "validation.status"
LINEAGE_COMPLETE_TAG = "lineage.complete"

CRASH_ENV = "ROSSMANN_REGISTRY_CRASH_AT"
CRASH_POINTS = (
    "after_lock",  # lock held, nothing written
    "after_intent",  # journal entry written as intent, no alias moved
    "after_alias_production",  # production alias moved (commit point)
    "after_alias_staging",  # staging alias moved
    "after_version_tags",  # tags of the first version written
    "after_complete",  # journal entry complete, lock not released
)

_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
_TAG_CHUNK = 5000  # MLflow run tags hold at most 8000 characters


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------
class RegistryError(Exception):
    """A registry operation could not be done; the message says why and what to do."""


class PromotionRefused(RegistryError):
    """The requested promotion breaks a lifecycle rule (not validated, rejected, no reason...)."""


class NothingInStage(RegistryError):
    """No version holds the requested stage."""


class VersionNotFound(RegistryError):
    """The model has no such version."""


class LockTimeout(RegistryError):
    """Another process held the registry lock for longer than we were willing to wait."""


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Move:
    """One version changing stage inside an operation."""

    version: int
    from_stage: str
    to_stage: str
    note: str = ""


@dataclass(frozen=True)
class TransitionResult:
    """What ``record_validation`` did."""

    version: int
    passed: bool
    from_stage: str
    to_stage: str
    seq: int
    superseded: int | None
    moves: list[Move]


@dataclass(frozen=True)
class PromotionResult:
    """What ``promote`` did."""

    version: int
    from_stage: str
    previous_production: int | None
    operation: str
    seq: int
    user: str
    reason: str
    at: str
    model_uri: str


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


# --------------------------------------------------------------------------------------------
# Module-level helpers
# --------------------------------------------------------------------------------------------
def initial_version_tags() -> dict[str, str]:
    """Tags the training code sets when it registers a new version."""
    return {STAGE_TAG: NONE, STATUS_TAG: PENDING}


def current_user(explicit: str | None = None) -> str:
    """Who is acting: ``explicit``, else ``MLFLOW_TRACKING_USERNAME``, else the OS user."""
    for candidate in (explicit, os.environ.get("MLFLOW_TRACKING_USERNAME")):
        if candidate and candidate.strip():
            return candidate.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in some containers
        return "unknown"


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _ms_to_iso(ms: int | None) -> str:
    if not ms:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def _crash_point(step: str) -> None:
    """Fault injection: SIGKILL this process at ``step`` when ROSSMANN_REGISTRY_CRASH_AT says so."""
    if os.environ.get(CRASH_ENV) == step:
        logger.warning("Fault injection: killing process %d at step %s", os.getpid(), step)
        os.kill(os.getpid(), signal.SIGKILL)


def _float_or_none(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------------------------------------
# Internal state
# --------------------------------------------------------------------------------------------
@dataclass
class _State:
    """The registry as read at one moment: versions with their tags, and the aliases."""

    versions: dict[int, ModelVersion]
    aliases: dict[str, int]

    def tags(self, version: int) -> dict[str, str]:
        return dict(self.versions[version].tags or {})

    def stage_from_aliases(self, version: int) -> str:
        if self.aliases.get("production") == version:
            return PRODUCTION
        if self.aliases.get("staging") == version:
            return STAGING
        tagged = self.tags(version).get(STAGE_TAG, NONE)
        if tagged == PRODUCTION:
            return ARCHIVED  # was Production, the alias moved on
        if tagged in (STAGING, ""):
            return NONE
        return tagged if tagged in STAGES else NONE

    def stage(self, version: int) -> str:
        """The version's stage, with the aliases deciding Production and Staging."""
        return self.stage_from_aliases(version)


@dataclass
class _Plan:
    """An operation: the moves it makes and the exact writes that carry them out."""

    operation: str
    user: str
    reason: str
    moves: list[dict[str, Any]] = field(default_factory=list)
    aliases: dict[str, int | None] = field(default_factory=dict)
    set_tags: dict[str, dict[str, str]] = field(default_factory=dict)
    delete_tags: dict[str, list[str]] = field(default_factory=dict)
    delete_versions: list[int] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(
            {
                "moves": self.moves,
                "aliases": self.aliases,
                "set_tags": self.set_tags,
                "delete_tags": self.delete_tags,
                "delete_versions": self.delete_versions,
            },
            sort_keys=True,
        )

    @classmethod
    def from_tags(cls, tags: dict[str, str]) -> _Plan:
        chunks = int(tags.get("journal.plan_chunks", "0"))
        raw = json.loads("".join(tags.get(f"journal.plan.{i}", "") for i in range(chunks)) or "{}")
        return cls(
            operation=tags.get("journal.operation", ""),
            user=tags.get("journal.user", ""),
            reason=tags.get("journal.reason", ""),
            moves=raw.get("moves", []),
            aliases=raw.get("aliases", {}),
            set_tags=raw.get("set_tags", {}),
            delete_tags=raw.get("delete_tags", {}),
            delete_versions=raw.get("delete_versions", []),
        )

    def add_move(
        self,
        state: _State,
        version: int,
        from_stage: str,
        to_stage: str,
        *,
        note: str = "",
        metrics: dict[str, float] | None = None,
    ) -> None:
        if metrics is None:
            metrics = _validation_metrics(state.tags(version)) if version in state.versions else {}
        self.moves.append(
            {
                "version": version,
                "from": from_stage,
                "to": to_stage,
                "note": note,
                "metrics": metrics,
            }
        )

    def tag(self, version: int, tags: dict[str, str]) -> None:
        self.set_tags.setdefault(str(version), {}).update(tags)

    def untag(self, version: int, *keys: str) -> None:
        self.delete_tags.setdefault(str(version), []).extend(keys)


def _validation_metrics(tags: dict[str, str]) -> dict[str, float]:
    """Numeric ``validation.<metric>`` tags of a version, without the prefix."""
    skip = {"threshold"}
    metrics: dict[str, float] = {}
    for key, value in tags.items():
        if key.startswith("validation.") and not key.startswith("validation.evidence."):
            name = key.removeprefix("validation.")
            number = _float_or_none(value)
            if name not in skip and number is not None and math.isfinite(number):
                metrics[name] = number
    return metrics


# --------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------
class ModelRegistry:
    """Lifecycle of one registered model: gate, promotion, rollback, history, retention.

    Args:
        model_name: The registered model, e.g. ``rossmann-ensemble``.
        client: An ``MlflowClient``; by default one for the current tracking URI.
        lock_ttl_seconds: After this long a lock is considered abandoned and may be broken.
        lock_wait_seconds: How long to wait for another process's lock before ``LockTimeout``.
    """

    def __init__(
        self,
        model_name: str,
        client: MlflowClient | None = None,
        *,
        lock_ttl_seconds: float = 120.0,
        lock_wait_seconds: float = 60.0,
    ) -> None:
        self.model_name = model_name
        self.client = client or MlflowClient()
        self.lock_ttl_seconds = lock_ttl_seconds
        self.lock_wait_seconds = lock_wait_seconds
        self.lock_name = f"{model_name}.lock"
        self.journal_experiment = f"{model_name}-lifecycle"
        self._journal_experiment_id: str | None = None
        self._lock_token: str | None = None

    @classmethod
    def from_params(
        cls, registry: dict[str, Any], client: MlflowClient | None = None
    ) -> ModelRegistry:
        """The registry as ``params:registry`` configures it: model name and lock settings.

        Every writer (the CLI, the gate, monitoring) builds it this way, so that the lock
        timeouts in conf apply to all of them.
        """
        return cls(
            registry["model_name"],
            client,
            lock_ttl_seconds=float(registry.get("lock_ttl_seconds", 120)),
            lock_wait_seconds=float(registry.get("lock_wait_seconds", 60)),
        )

    # ---------------------------------------------------------------- reading
    def _read_state(self) -> _State:
        try:
            model = self.client.get_registered_model(self.model_name)
        except MlflowException as exc:
            if exc.error_code == _DOES_NOT_EXIST:
                return _State(versions={}, aliases={})
            raise
        # Aliases come from get_registered_model: search results may omit them (mlflow#9783).
        aliases = {alias: int(version) for alias, version in (model.aliases or {}).items()}
        versions: dict[int, ModelVersion] = {}
        token = None
        while True:
            page = self.client.search_model_versions(
                f"name='{self.model_name}'", max_results=1000, page_token=token
            )
            versions.update({int(mv.version): mv for mv in page})
            token = page.token
            if not token:
                break
        return _State(versions=versions, aliases=aliases)

    def version_for_stage(self, stage: str) -> int | None:
        """The version holding ``stage`` ("production" or "staging", any case), or None."""
        alias = self._alias(stage)
        try:
            return int(self.client.get_model_version_by_alias(self.model_name, alias).version)
        except MlflowException as exc:
            if exc.error_code in (_DOES_NOT_EXIST, "INVALID_PARAMETER_VALUE"):
                return None
            raise

    def version_for_run(self, run_id: str) -> int:
        """The version registered by the run ``run_id``.

        Raises:
            RegistryError: When the run registered no version, or more than one.
        """
        found = self.client.search_model_versions(f"name='{self.model_name}' and run_id='{run_id}'")
        if len(found) != 1:
            raise RegistryError(
                f"Run {run_id} registered {len(found)} versions of {self.model_name!r}; "
                "expected one"
            )
        return int(found[0].version)

    def set_description(self, version: int, description: str) -> None:
        """Set the human-readable description of a version (shown in the MLflow UI)."""
        self.client.update_model_version(
            name=self.model_name, version=str(version), description=description
        )

    def model_uri(self, stage_or_version: str | int) -> str:
        """``models:/<name>@production`` for a stage, ``models:/<name>/7`` for a version."""
        if isinstance(stage_or_version, int) or str(stage_or_version).strip().isdigit():
            return f"models:/{self.model_name}/{int(stage_or_version)}"
        return f"models:/{self.model_name}@{self._alias(str(stage_or_version))}"

    def resolve(self, stage_or_version: str | int) -> tuple[int, str]:
        """The version and URI for a stage or version, raising if there is none."""
        if isinstance(stage_or_version, int) or str(stage_or_version).strip().isdigit():
            version = int(stage_or_version)
            if version not in self._read_state().versions:
                raise VersionNotFound(self._no_version_message(version))
            return version, self.model_uri(version)
        found = self.version_for_stage(str(stage_or_version))
        if found is None:
            stage = str(stage_or_version).strip().capitalize()
            raise NothingInStage(self._nothing_in_stage_message(stage))
        return found, self.model_uri(stage_or_version)

    def version_summary(self, version: int) -> dict[str, Any]:
        """A light read of one version (no history): stage, training and validation runs.

        Returns:
            ``{"version", "stage", "training_run_id", "validation_run_id", "validation_status",
            "holdout_rmspe"}``; run ids are None when unknown.

        Raises:
            VersionNotFound: When the model has no such version.
        """
        state = self._read_state()
        if version not in state.versions:
            raise VersionNotFound(self._no_version_message(version))
        tags = state.tags(version)
        return {
            "version": version,
            "stage": state.stage(version),
            "training_run_id": state.versions[version].run_id or tags.get("lineage.run_id"),
            "validation_run_id": tags.get("validation.run_id"),
            "validation_status": tags.get(STATUS_TAG),
            "holdout_rmspe": _float_or_none(
                tags.get("validation.rmspe", tags.get("validation.holdout_rmspe"))
            ),
        }

    def scoring_model(self, version: int, first_date: Any) -> dict[str, str]:
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
            VersionNotFound: When the model has no such version.
            RegistryError: When neither model forecasts from on or before ``first_date``.
        """
        state = self._read_state()
        if version not in state.versions:
            raise VersionNotFound(self._no_version_message(version))
        tags = state.tags(version)
        first = str(first_date)[:10]
        served_origin = tags.get("lineage.training_window.origin")
        backtest_origin = tags.get("lineage.backtest.origin")
        if served_origin and served_origin <= first:
            return {
                "version": str(version),
                "kind": "served",
                "model_uri": self.model_uri(version),
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
            f"Version {version} of {self.model_name} has no model that forecasts from on or "
            f"before {first}: it was fit on those rows (served model from {served_origin}, "
            f"backtest from {backtest_origin or 'none recorded'}). Score it on later rows."
        )

    def record_live_metrics(
        self,
        version: int,
        *,
        rmspe: float,
        drift: bool,
        threshold: float,
        window: str,
        run_id: str | None,
    ) -> None:
        """Tag a version with its latest live RMSPE (monitoring).

        ``monitoring.*`` tags describe how the version does on actual sales; they are not
        lifecycle state (no alias moves, no journal entry), so no lock is taken: the newest
        monitoring run wins.
        """
        tags = {
            "monitoring.live_rmspe": repr(float(rmspe)),
            "monitoring.drift": "true" if drift else "false",
            "monitoring.threshold": repr(float(threshold)),
            "monitoring.window": window,
            "monitoring.at": _now_iso(),
        }
        if run_id:
            tags["monitoring.run_id"] = run_id
        for key, value in tags.items():
            self.client.set_model_version_tag(self.model_name, str(version), key, value)

    def versions_to_validate(self) -> list[int]:
        """Versions whose lineage is complete and that the gate has not judged yet, oldest first."""
        state = self._read_state()
        return sorted(
            version
            for version in state.versions
            if state.tags(version).get(STATUS_TAG) == PENDING
            and state.tags(version).get(LINEAGE_COMPLETE_TAG, "").lower() == "true"
        )

    def next_version_to_validate(self) -> int | None:
        """The newest version whose lineage is complete and that the gate has not judged yet."""
        return max(self.versions_to_validate(), default=None)

    def status(self) -> list[VersionStatus]:
        """Every version, newest first, with stage, holdout RMSPE, lineage and who promoted it."""
        state = self._recover_if_needed()
        rows = []
        for version in sorted(state.versions, reverse=True):
            tags = state.tags(version)
            rows.append(
                VersionStatus(
                    version=version,
                    stage=state.stage(version),
                    validation_status=tags.get(STATUS_TAG, "unknown"),
                    holdout_rmspe=_float_or_none(
                        tags.get("validation.rmspe", tags.get("validation.holdout_rmspe"))
                    ),
                    registered_at=_ms_to_iso(state.versions[version].creation_timestamp),
                    data_version=_data_version(tags),
                    data_source=_data_source(tags),
                    promoted_by=tags.get("lifecycle.promoted_by"),
                    promoted_at=tags.get("lifecycle.promoted_at"),
                    note=_status_note(tags),
                )
            )
        return rows

    def describe(self, version: int) -> dict[str, Any]:
        """Everything known about one version, tags grouped by prefix, with its own history."""
        state = self._recover_if_needed()
        if version not in state.versions:
            raise VersionNotFound(self._no_version_message(version))
        mv = state.versions[version]
        groups: dict[str, dict[str, str]] = {
            "lifecycle": {},
            "validation": {},
            "lineage": {},
            "cv": {},
            "other": {},
        }
        for key, value in sorted(state.tags(version).items()):
            prefix, _, rest = key.partition(".")
            if prefix in groups and rest:
                groups[prefix][rest] = value
            else:
                groups["other"][key] = value
        return {
            "model": self.model_name,
            "version": version,
            "stage": state.stage(version),
            "aliases": sorted(a for a, v in state.aliases.items() if v == version),
            "uri": self.model_uri(version),
            "registered_at": _ms_to_iso(mv.creation_timestamp),
            "run_id": mv.run_id,
            "source": mv.source,
            "description": mv.description or "",
            **groups,
            "history": [t for t in self._transitions() if t.version == version],
        }

    def history(self) -> list[Transition]:
        """Every recorded move, in the order the operations happened."""
        self._recover_if_needed()
        return self._transitions()

    def _transitions(self) -> list[Transition]:
        transitions = []
        for run in self._journal_runs():
            tags = run.data.tags
            plan = _Plan.from_tags(tags)
            for move in plan.moves:
                transitions.append(
                    Transition(
                        seq=int(tags["journal.seq"]),
                        operation=plan.operation,
                        version=int(move["version"]),
                        from_stage=move["from"],
                        to_stage=move["to"],
                        user=plan.user,
                        at=tags.get("journal.at", ""),
                        reason=plan.reason,
                        metrics=dict(move.get("metrics", {})),
                        note=move.get("note", ""),
                        state=tags.get("journal.state", ""),
                        run_id=run.info.run_id,
                    )
                )
        return transitions

    def check_invariants(self) -> list[str]:
        """Problems that break the lifecycle rules; empty when the registry is consistent."""
        problems = [
            f"journal entry #{run.data.tags.get('journal.seq')} "
            f"({run.data.tags.get('journal.operation')}) was interrupted and is not complete"
            for run in self._journal_runs(state="intent")
        ]
        return problems + self._tag_problems(self._read_state())

    def _tag_problems(self, state: _State) -> list[str]:
        problems = []
        for alias, version in state.aliases.items():
            if alias in ("production", "staging") and version not in state.versions:
                problems.append(f"alias @{alias} points at missing version {version}")
        production, staging = state.aliases.get("production"), state.aliases.get("staging")
        if production is not None and production == staging:
            problems.append(f"version {production} holds both @production and @staging")
        for version in sorted(state.versions):
            tagged = state.tags(version).get(STAGE_TAG)
            expected = state.stage(version)
            if tagged != expected and not (tagged is None and expected == NONE):
                problems.append(
                    f"version {version} is tagged {STAGE_TAG}={tagged} but the aliases "
                    f"make it {expected}"
                )
        return problems

    # ---------------------------------------------------------------- changing
    def record_validation(
        self,
        version: int,
        *,
        passed: bool,
        metrics: dict[str, float],
        threshold: float,
        reason: str,
        run_id: str | None,
        user: str | None = None,
        evidence: dict[str, str] | None = None,
    ) -> TransitionResult:
        """Record the gate's verdict: passed -> Staging (superseding the old one), failed -> rejected.

        ``metrics`` should hold the holdout RMSPE under ``rmspe``; every metric is stored as a
        ``validation.<name>`` tag on the version and in the history. ``evidence`` says which
        model was scored (``kind``, ``model_uri``, ``origin``, holdout window), stored as
        ``validation.evidence.<key>`` tags.
        """
        who = current_user(user)
        with self._locked("validate", who) as state:
            if version not in state.versions:
                raise VersionNotFound(self._no_version_message(version))
            from_stage = state.stage(version)
            if from_stage in (PRODUCTION, ARCHIVED):
                raise RegistryError(
                    f"Version {version} is {from_stage}: it already passed the gate and was "
                    "promoted. The gate judges new versions; train a new version instead."
                )
            clean = {str(k): float(v) for k, v in metrics.items()}
            plan = _Plan(operation="validate", user=who, reason=reason)
            verdict = {
                STATUS_TAG: PASSED if passed else REJECTED,
                "validation.reason": reason,
                "validation.threshold": repr(float(threshold)),
                "validation.at": _now_iso(),
                "validation.by": who,
                **{f"validation.{k}": repr(v) for k, v in clean.items()},
            }
            if run_id:
                verdict["validation.run_id"] = run_id
            for key, value in (evidence or {}).items():
                verdict[f"validation.evidence.{key}"] = str(value)
            superseded = None
            if passed:
                to_stage = STAGING
                previous = state.aliases.get("staging")
                if previous is not None and previous != version:
                    superseded = previous
                    plan.add_move(
                        state, previous, STAGING, NONE, note=f"superseded by version {version}"
                    )
                    plan.tag(
                        previous,
                        {STAGE_TAG: NONE, "lifecycle.superseded_by": str(version)},
                    )
                plan.add_move(state, version, from_stage, STAGING, note="passed", metrics=clean)
                plan.aliases["staging"] = version
                plan.tag(version, {**verdict, STAGE_TAG: STAGING})
                if "lifecycle.superseded_by" in state.tags(version):
                    plan.untag(version, "lifecycle.superseded_by")
            else:
                to_stage = NONE
                plan.add_move(state, version, from_stage, NONE, note="rejected", metrics=clean)
                if state.aliases.get("staging") == version:
                    plan.aliases["staging"] = None
                plan.tag(version, {**verdict, STAGE_TAG: NONE})
            seq = self._execute(plan)
        logger.info(
            "Version %d %s the gate (%s); now %s", version, "passed" if passed else "failed",
            reason, to_stage,
        )  # fmt: skip
        return TransitionResult(
            version=version,
            passed=passed,
            from_stage=from_stage,
            to_stage=to_stage,
            seq=seq,
            superseded=superseded,
            moves=[Move(m["version"], m["from"], m["to"], m["note"]) for m in plan.moves],
        )

    def promote(
        self, *, reason: str, version: int | None = None, user: str | None = None
    ) -> PromotionResult:
        """Put a version in Production and archive the previous Production version.

        Without ``version`` the Staging version is promoted. With ``version`` (rollback or explicit
        promotion) the version must have passed the gate: Archived, Staging or superseded versions
        qualify; pending and rejected versions are refused.
        """
        if not reason or not reason.strip():
            raise PromotionRefused(
                "A reason is required for every promotion or rollback (--reason TEXT); "
                "it is recorded in the history."
            )
        reason = reason.strip()
        who = current_user(user)
        with self._locked("promote", who) as state:
            _crash_point("after_lock")
            target = version if version is not None else self._staging_or_refuse(state)
            self._check_promotable(state, target)
            from_stage = state.stage(target)
            previous = state.aliases.get("production")
            operation = "rollback" if from_stage == ARCHIVED else "promote"
            at = _now_iso()
            plan = _Plan(operation=operation, user=who, reason=reason)
            plan.add_move(state, target, from_stage, PRODUCTION)
            plan.aliases["production"] = target
            if from_stage == STAGING:
                plan.aliases["staging"] = None
            plan.tag(
                target,
                {
                    STAGE_TAG: PRODUCTION,
                    "lifecycle.promoted_by": who,
                    "lifecycle.promoted_at": at,
                    "lifecycle.promotion_reason": reason,
                },
            )
            if "lifecycle.superseded_by" in state.tags(target):
                plan.untag(target, "lifecycle.superseded_by")
            if previous is not None and previous in state.versions:
                plan.add_move(state, previous, PRODUCTION, ARCHIVED, note=f"replaced by {target}")
                plan.tag(previous, {STAGE_TAG: ARCHIVED})
            seq = self._execute(plan)
        logger.info(
            "Version %d is now in Production (was %s); previous Production: %s",
            target,
            from_stage,
            previous,
        )
        return PromotionResult(
            version=target,
            from_stage=from_stage,
            previous_production=previous,
            operation=operation,
            seq=seq,
            user=who,
            reason=reason,
            at=at,
            model_uri=self.model_uri("production"),
        )

    def apply_retention(
        self, keep: int, dry_run: bool = False, user: str | None = None
    ) -> RetentionReport:
        """Delete Archived versions beyond the ``keep`` most recently archived.

        Production, Staging and versions in None (pending, rejected, superseded) are never touched.
        The versions' runs and artifacts stay in the tracking store; only registry entries go.
        """
        if keep < 0:
            raise RegistryError(f"keep must be 0 or more, got {keep}")
        who = current_user(user)
        if dry_run:
            lock: contextlib.AbstractContextManager[_State] = contextlib.nullcontext(
                self._recover_if_needed()
            )
        else:
            lock = self._locked("retention", who)
        with lock as state:
            report = RetentionReport(
                keep=keep,
                dry_run=dry_run,
                production=state.aliases.get("production"),
                staging=state.aliases.get("staging"),
            )
            archived = [v for v in state.versions if state.stage(v) == ARCHIVED]
            archived.sort(
                key=lambda v: (int(state.tags(v).get("lifecycle.stage_seq", "0")), v), reverse=True
            )
            report.kept_archived = sorted(archived[:keep])
            report.deleted = sorted(archived[keep:])
            report.untouched = sorted(v for v in state.versions if state.stage(v) == NONE)
            if report.deleted and not dry_run:
                plan = _Plan(
                    operation="retention",
                    user=who,
                    reason=f"retention: keep the {keep} most recently archived versions",
                )
                for version in report.deleted:
                    plan.add_move(state, version, ARCHIVED, DELETED)
                    plan.delete_versions.append(version)
                report.seq = self._execute(plan)
        logger.info(
            "Retention (keep %d archived%s): deleted %s, kept archived %s",
            keep,
            ", dry run" if dry_run else "",
            report.deleted,
            report.kept_archived,
        )
        return report

    def abandon(self, version: int, reason: str) -> bool:
        """Mark a version whose registering run failed, so that nothing picks it up.

        Only a version still waiting for the gate is marked (one the gate already judged keeps
        its verdict). Returns whether it was marked.
        """
        tags = self.client.get_model_version(self.model_name, str(version)).tags
        if tags.get(STATUS_TAG) != PENDING:
            return False
        self.client.set_model_version_tag(self.model_name, str(version), STATUS_TAG, ABANDONED)
        self.client.set_model_version_tag(
            self.model_name, str(version), "validation.reason", reason
        )
        logger.warning("Version %d abandoned: %s", version, reason)
        return True

    def repair(self, user: str | None = None) -> list[str]:
        """Complete interrupted operations and fix tags from the aliases; returns what was found."""
        found = self.check_invariants()
        with self._locked("repair", current_user(user)):
            pass  # _locked rolls forward and repairs before yielding
        return found

    # ---------------------------------------------------------------- rules
    def _staging_or_refuse(self, state: _State) -> int:
        staging = state.aliases.get("staging")
        if staging is None:
            raise NothingInStage(self._nothing_in_stage_message(STAGING))
        return staging

    def _check_promotable(self, state: _State, version: int) -> None:
        if version not in state.versions:
            raise VersionNotFound(self._no_version_message(version))
        tags = state.tags(version)
        stage = state.stage(version)
        status = tags.get(STATUS_TAG, PENDING)
        if stage == PRODUCTION:
            raise PromotionRefused(
                f"Version {version} is already in Production (promoted by "
                f"{tags.get('lifecycle.promoted_by', '?')} at {tags.get('lifecycle.promoted_at', '?')}"
                "); nothing to do."
            )
        if status == REJECTED:
            raise PromotionRefused(
                f"Version {version} was rejected by the validation gate "
                f"({tags.get('validation.reason', 'no reason recorded')}) and cannot be promoted. "
                "Train a better version, or re-run the gate on it if the threshold changed."
            )
        if status != PASSED:
            raise PromotionRefused(
                f"Version {version} has not passed the validation gate "
                f"({STATUS_TAG}={status}); only validated versions can be promoted. "
                "Run `kedro run --pipelines validation` first."
            )

    def _nothing_in_stage_message(self, stage: str) -> str:
        last = self._last_entry_for_stage(stage)
        hint = (
            "Run the validation gate (`kedro run --pipelines validation`) to put a version in "
            "Staging, or name a validated version with --version N."
            if stage == STAGING
            else "Promote a validated version first: `kedro model promote --reason TEXT`."
        )
        if last:
            return f"No version of {self.model_name} is in {stage} ({last}). {hint}"
        return f"No version of {self.model_name} is in {stage}. {hint}"

    def _last_entry_for_stage(self, stage: str) -> str:
        for transition in reversed(self._transitions()):
            if transition.from_stage == stage:
                return (
                    f"version {transition.version} left {stage} for {transition.to_stage} in "
                    f"#{transition.seq} by {transition.user} at {transition.at}"
                )
        return ""

    def _no_version_message(self, version: int) -> str:
        existing = sorted(self._read_state().versions)
        return (
            f"{self.model_name} has no version {version} "
            f"(existing versions: {', '.join(map(str, existing)) or 'none'})."
        )

    @staticmethod
    def _alias(stage: str) -> str:
        alias = stage.strip().lower()
        if alias not in ("production", "staging"):
            raise RegistryError(
                f"Unknown stage {stage!r}: use 'production' or 'staging' (or a version number)."
            )
        return alias

    # ---------------------------------------------------------------- journal
    def _journal_experiment_id_get(self) -> str:
        if self._journal_experiment_id is None:
            experiment = self.client.get_experiment_by_name(self.journal_experiment)
            if experiment is None:
                try:
                    experiment_id = self.client.create_experiment(
                        self.journal_experiment,
                        tags={"rossmann.purpose": f"lifecycle journal of {self.model_name}"},
                    )
                except MlflowException as exc:
                    if exc.error_code != _ALREADY_EXISTS:
                        raise
                    experiment_id = self.client.get_experiment_by_name(
                        self.journal_experiment
                    ).experiment_id
            else:
                experiment_id = experiment.experiment_id
                if experiment.lifecycle_stage == "deleted":
                    self.client.restore_experiment(experiment_id)
            self._journal_experiment_id = experiment_id
        return self._journal_experiment_id

    def _journal_runs(self, state: str | None = None) -> list[Any]:
        if self._journal_experiment_id is None:
            experiment = self.client.get_experiment_by_name(self.journal_experiment)
            if experiment is None:
                return []
            self._journal_experiment_id = experiment.experiment_id
        query = f"tags.`journal.model` = '{self.model_name}'"
        if state:
            query += f" and tags.`journal.state` = '{state}'"
        runs, token = [], None
        while True:
            page = self.client.search_runs(
                [self._journal_experiment_id], query, max_results=1000, page_token=token
            )
            runs.extend(page)
            token = page.token
            if not token:
                break
        return sorted(runs, key=lambda run: int(run.data.tags.get("journal.seq", "0")))

    def _execute(self, plan: _Plan) -> int:
        """Journal ``plan`` as an intent, apply it, mark it complete. Caller holds the lock."""
        self._assert_lock_held()
        runs = self._journal_runs()
        seq = int(runs[-1].data.tags["journal.seq"]) + 1 if runs else 1
        stamp = _now_iso()
        for move in plan.moves:
            if move["version"] not in plan.delete_versions:
                plan.tag(
                    move["version"],
                    {"lifecycle.stage_seq": str(seq), "lifecycle.stage_since": stamp},
                )
        body = plan.to_json()
        chunks = [body[i : i + _TAG_CHUNK] for i in range(0, len(body), _TAG_CHUNK)] or [""]
        summary = ", ".join(f"v{m['version']} {m['from']}->{m['to']}" for m in plan.moves)
        tags = {
            "journal.model": self.model_name,
            "journal.seq": str(seq),
            "journal.operation": plan.operation,
            "journal.state": "intent",
            "journal.user": plan.user,
            "journal.at": stamp,
            "journal.reason": plan.reason[:5000],
            "journal.summary": summary[:5000],
            "journal.pid": f"{socket.gethostname()}:{os.getpid()}",
            "journal.plan_chunks": str(len(chunks)),
            **{f"journal.plan.{i}": chunk for i, chunk in enumerate(chunks)},
        }
        # One create_run carries the whole plan: the journal record is written atomically.
        run = self.client.create_run(
            self._journal_experiment_id_get(),
            tags=tags,
            run_name=f"#{seq:05d} {plan.operation}: {summary}"[:250],
        )
        _crash_point("after_intent")
        self._apply(plan)
        self._complete(run.info.run_id)
        _crash_point("after_complete")
        return seq

    def _apply(self, plan: _Plan) -> None:
        """Carry out a plan. Every write is idempotent, so an interrupted plan can be re-applied."""
        for alias in ("production", "staging"):  # production first: the commit point
            if alias not in plan.aliases:
                continue
            target = plan.aliases[alias]
            if target is None:
                self.client.delete_registered_model_alias(self.model_name, alias)
            else:
                self.client.set_registered_model_alias(self.model_name, alias, str(target))
            _crash_point(f"after_alias_{alias}")
        for version in sorted(set(plan.set_tags) | set(plan.delete_tags), key=int):
            if int(version) in plan.delete_versions:
                continue
            for key, value in plan.set_tags.get(version, {}).items():
                self.client.set_model_version_tag(self.model_name, version, key, value)
            for key in plan.delete_tags.get(version, []):
                self.client.delete_model_version_tag(self.model_name, version, key)
            _crash_point("after_version_tags")
        for version in plan.delete_versions:
            try:
                self.client.delete_model_version(self.model_name, str(version))
            except MlflowException as exc:
                if exc.error_code != _DOES_NOT_EXIST:
                    raise

    def _complete(self, run_id: str) -> None:
        self.client.set_tag(run_id, "journal.state", "complete")
        self.client.set_terminated(run_id, "FINISHED")

    # ---------------------------------------------------------------- consistency
    def _recover_if_needed(self) -> _State:
        """Used by reads: if an operation was interrupted or tags drifted, fix it under the lock.

        Returns the registry state, re-read after any repair.
        """
        state = self._read_state()
        if not self._journal_runs(state="intent") and not self._tag_problems(state):
            return state
        try:
            with self._locked("recover", current_user(None)) as repaired:
                return repaired
        except LockTimeout as exc:
            logger.warning("Could not repair the registry now: %s", exc)
            return self._read_state()

    def _ensure_consistent(self, user: str) -> _State:
        """Under the lock: roll forward interrupted operations, then repair tags from aliases.

        Returns the registry state as the caller's operation must see it.
        """
        for run in self._journal_runs(state="intent"):
            tags = run.data.tags
            plan = _Plan.from_tags(tags)
            logger.warning(
                "Completing interrupted operation #%s (%s: %s) left by %s",
                tags.get("journal.seq"),
                plan.operation,
                tags.get("journal.summary"),
                tags.get("journal.pid"),
            )
            self._apply(plan)
            self.client.set_tag(run.info.run_id, "journal.recovered_by", user)
            self.client.set_tag(run.info.run_id, "journal.recovered_at", _now_iso())
            self._complete(run.info.run_id)
        state = self._read_state()
        problems = self._tag_problems(state)
        if not problems:
            return state
        logger.warning("Repairing the registry: %s", "; ".join(problems))
        plan = _Plan(
            operation="repair", user=user, reason="automatic repair: " + "; ".join(problems)
        )
        production, staging = state.aliases.get("production"), state.aliases.get("staging")
        for alias, version in state.aliases.items():
            if alias in ("production", "staging") and version not in state.versions:
                plan.aliases[alias] = None
        if production is not None and production == staging:
            plan.aliases["staging"] = None
            state.aliases.pop("staging")
        for version in sorted(state.versions):
            tagged = state.tags(version).get(STAGE_TAG) or NONE
            expected = state.stage(version)
            if tagged != expected:
                plan.add_move(state, version, tagged, expected, note="tag repaired from aliases")
                plan.tag(version, {STAGE_TAG: expected})
        self._execute(plan)
        return self._read_state()

    # ---------------------------------------------------------------- lock
    @contextlib.contextmanager
    def _locked(self, operation: str, user: str) -> Iterator[_State]:
        """Hold the registry lock; yields the state after rolling forward and repairing."""
        token = self._acquire_lock(operation, user)
        try:
            yield self._ensure_consistent(user)
        finally:
            self._release_lock(token)

    def _read_lock(self) -> dict[str, str] | None:
        try:
            model = self.client.get_registered_model(self.lock_name)
        except MlflowException as exc:
            if exc.error_code == _DOES_NOT_EXIST:
                return None
            raise
        tags = dict(model.tags or {})
        tags.setdefault("lock.created_ms", str(model.creation_timestamp or 0))
        return tags

    def _lock_is_stale(self, tags: dict[str, str]) -> str:
        """Why the lock may be broken, or '' if its holder should be waited for."""
        expires = _float_or_none(tags.get("lock.expires_at"))
        if expires is None:  # not one of ours: give it one TTL from creation
            expires = float(tags.get("lock.created_ms", "0")) / 1000 + self.lock_ttl_seconds
        if time.time() > expires:
            return "it expired"
        pid = tags.get("lock.pid", "")
        same_host = tags.get("lock.host") == socket.gethostname()
        if same_host and pid.isdigit() and not _pid_alive(int(pid)):
            return f"its process {pid} is gone"
        return ""

    def _acquire_lock(self, operation: str, user: str) -> str:
        token = uuid.uuid4().hex
        deadline = time.monotonic() + self.lock_wait_seconds
        waited = False
        while True:
            lock_tags = {
                "lock.token": token,
                "lock.owner": user,
                "lock.operation": operation,
                "lock.host": socket.gethostname(),
                "lock.pid": str(os.getpid()),
                "lock.acquired_at": _now_iso(),
                "lock.expires_at": repr(time.time() + self.lock_ttl_seconds),
            }
            try:
                self.client.create_registered_model(
                    self.lock_name,
                    tags=lock_tags,
                    description=f"Lock for lifecycle changes of {self.model_name}. Broken "
                    "automatically once expired or when its process is gone.",
                )
                if waited:
                    logger.info("Got the registry lock after waiting")
                self._lock_token = token
                return token
            except MlflowException as exc:
                if exc.error_code == _DOES_NOT_EXIST:
                    # The insert collided with a held lock, and MLflow's SQL store then reads
                    # that lock back to report it; the holder released it in between, so the
                    # read says "not found". The lock is free now: try again.
                    continue
                if exc.error_code != _ALREADY_EXISTS:
                    raise
            holder = self._read_lock()
            if holder is None:
                continue  # released between our attempt and the read
            why = self._lock_is_stale(holder)
            if why:
                self._break_lock(holder, why)
                continue
            if time.monotonic() > deadline:
                raise LockTimeout(
                    f"The registry of {self.model_name} is locked by {holder.get('lock.owner')} "
                    f"({holder.get('lock.operation')}, pid {holder.get('lock.pid')} on "
                    f"{holder.get('lock.host')}, since {holder.get('lock.acquired_at')}); waited "
                    f"{self.lock_wait_seconds:.0f} s. Nothing was changed; retry later. The lock "
                    "is broken automatically when it expires or its process is gone."
                )
            if not waited:
                logger.info(
                    "Registry locked by %s (%s); waiting up to %.0f s",
                    holder.get("lock.owner"),
                    holder.get("lock.operation"),
                    self.lock_wait_seconds,
                )
                waited = True
            time.sleep(random.uniform(0.05, 0.25))

    def _break_lock(self, holder: dict[str, str], why: str) -> None:
        stale_token = holder.get("lock.token") or holder.get("lock.created_ms", "unknown")
        marker = f"{self.lock_name}.broken.{stale_token}"
        try:
            # One winner per stale lock: only the creator of the marker may delete that lock.
            self.client.create_registered_model(marker, tags={"lock.broken_at": _now_iso()})
        except MlflowException as exc:
            if exc.error_code == _ALREADY_EXISTS:
                return
            raise
        current = self._read_lock()
        current_token = current and (current.get("lock.token") or current.get("lock.created_ms"))
        if current_token == stale_token:
            logger.warning(
                "Breaking the registry lock of %s (pid %s on %s, %s) because %s",
                holder.get("lock.owner"),
                holder.get("lock.pid"),
                holder.get("lock.host"),
                holder.get("lock.operation"),
                why,
            )
            with contextlib.suppress(MlflowException):
                self.client.delete_registered_model(self.lock_name)
        self._clean_broken_markers()

    def _assert_lock_held(self) -> None:
        # A holder that stalled past its TTL may have been broken: never write without the lock.
        holder = self._read_lock()
        if holder is None or holder.get("lock.token") != self._lock_token:
            raise RegistryError(
                f"Lost the registry lock of {self.model_name} (held longer than "
                f"{self.lock_ttl_seconds:.0f} s?); nothing was changed by this step. Retry."
            )

    def _release_lock(self, token: str) -> None:
        self._lock_token = None
        holder = self._read_lock()
        if holder is not None and holder.get("lock.token") == token:
            with contextlib.suppress(MlflowException):
                self.client.delete_registered_model(self.lock_name)
        else:
            logger.warning("The registry lock was no longer ours when releasing it")

    def _clean_broken_markers(self) -> None:
        """Markers of broken locks are kept for a while so a lock is never broken twice."""
        horizon_ms = (time.time() - 10 * self.lock_ttl_seconds) * 1000
        with contextlib.suppress(MlflowException):
            for model in self.client.search_registered_models(
                filter_string=f"name LIKE '{self.lock_name}.broken.%'"
            ):
                if (model.creation_timestamp or 0) < horizon_ms:
                    self.client.delete_registered_model(model.name)


def _first(tags: dict[str, str], *keys: str) -> str | None:
    for key in keys:
        if tags.get(key):
            return tags[key]
    return None


def _status_note(tags: dict[str, str]) -> str:
    if tags.get(STATUS_TAG) == REJECTED:
        return f"rejected: {tags.get('validation.reason', '')}"
    if tags.get(STATUS_TAG) == ABANDONED:
        return f"abandoned: {tags.get('validation.reason', '')}"
    if tags.get("lifecycle.superseded_by"):
        return f"superseded by version {tags['lifecycle.superseded_by']}"
    if tags.get(STATUS_TAG) == PENDING:
        return "awaiting validation"
    return ""


def _data_version(tags: dict[str, str]) -> str | None:
    """The training data's identity: DVC md5 of train.csv if tracked, else its content hash."""
    found = _first(
        tags,
        "lineage.data.train.dvc_md5",
        "lineage.data.train.sha256",
        "lineage.data_version",
    )
    return found[:12] if found else None


def _data_source(tags: dict[str, str]) -> str | None:
    source = _first(tags, "lineage.data_source.source", "lineage.data_source")
    seed = tags.get("lineage.data_source.seed")
    return f"{source} (seed {seed})" if source and seed else source


# --------------------------------------------------------------------------------------------
# Aliases and scoring rules (pure)
# --------------------------------------------------------------------------------------------
PRODUCTION_ALIAS = ALIAS_FOR_STAGE[PRODUCTION]
STAGING_ALIAS = ALIAS_FOR_STAGE[STAGING]


def stage_for_alias(alias: str) -> str:
    """``production`` -> ``Production``; refuses anything that is not a stage's alias."""
    for stage, name in ALIAS_FOR_STAGE.items():
        if name == str(alias).strip().lower():
            return stage
    raise RegistryError(
        f"Unknown alias {alias!r}: use one of {', '.join(sorted(ALIAS_FOR_STAGE.values()))}"
    )


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
