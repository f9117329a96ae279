"""``ModelRegistry``: the lifecycle of one registered model, as a thin facade.

Reads take a snapshot (``state``) and never write. Changes follow one write protocol: take the
lock (``lock``), roll forward any operation a killed process left journaled as an intent and
repair tags that disagree with the aliases (``journal``), read the snapshot *now*, ask the rules
for a plan or a refusal (``rules``), then journal and carry out the plan (``journal``), release
the lock. A process killed at any step leaves the aliases at the old or the new state; reads
already show the state a journaled intent commits to, and the next locked command (or
``repair``) writes it. Once a waiter holds the lock it re-checks its precondition, so the loser
of a race gets a clear refusal (e.g. "No version is in Staging: version 7 was promoted to
Production by alice ...") rather than silently overwriting the winner.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow.artifacts import list_artifacts
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from rossmann_forecast.registry import rules
from rossmann_forecast.registry.access import check_may, current_user
from rossmann_forecast.registry.errors import (
    DOES_NOT_EXIST,
    NothingInStage,
    PermissionDenied,
    PromotionRefused,
    RegistryError,
    VersionNotFound,
)
from rossmann_forecast.registry.journal import INTENT, Journal, crash_point, model_checked_once
from rossmann_forecast.registry.lock import RegistryLock
from rossmann_forecast.registry.notifications import (
    WebhookSetting,
    configure_webhook,
    webhook_from_conf,
)
from rossmann_forecast.registry.plan import JournalEntry, Plan, next_seq, now_iso
from rossmann_forecast.registry.rules import RetentionReport
from rossmann_forecast.registry.stages import (
    LINEAGE_COMPLETE_TAG,
    PENDING,
    PRODUCTION_ALIAS,
    SHADOW_PREFIX,
    STATUS_TAG,
    VALIDATION_RUN_TAG,
    alias_for,
    stage_for,
)
from rossmann_forecast.registry.state import (
    RegistrySnapshot,
    Transition,
    VersionRecord,
    VersionStatus,
    grouped_tags,
    holdout_rmspe,
    live_comparison,
    ms_to_iso,
    no_version_message,
    nothing_in_stage_message,
    tag_problems,
    version_status,
)

logger = logging.getLogger(__name__)


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


def _is_version(stage_or_version: str | int) -> bool:
    return isinstance(stage_or_version, int) or str(stage_or_version).strip().isdigit()


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
        self._journal = Journal(self.client, model_name)
        self._next_seq: int | None = None  # while the lock is held: the journal's next number
        self._lock = RegistryLock(self.client, model_name, lock_ttl_seconds, lock_wait_seconds)
        self.lock_name = self._lock.name
        self.journal_experiment = self._journal.experiment_name

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

    # ---------------------------------------------------------------- reading (never writes)
    def _read_registry(
        self,
        *,
        history: bool = False,
        entries: list[JournalEntry] | None = None,
        version: int | None = None,
    ) -> RegistrySnapshot:
        """The registry exactly as stored (``history``: with the journal's moves; ``entries``:
        the journal as the caller just read it, which implies ``history``; ``version``: that
        version alone, if it exists)."""
        versions: dict[int, VersionRecord] = {}
        aliases: dict[str, int] = {}
        try:
            model = self.client.get_registered_model(self.model_name)
        except MlflowException as exc:
            if exc.error_code != DOES_NOT_EXIST:
                raise
            model = None
        if model is not None:
            # Aliases come from get_registered_model: search results may omit them (mlflow#9783).
            aliases = {alias: int(number) for alias, number in (model.aliases or {}).items()}
            for mv in self._model_versions(version):
                versions[int(mv.version)] = VersionRecord(
                    version=int(mv.version),
                    tags=dict(mv.tags or {}),
                    run_id=mv.run_id,
                    creation_timestamp=mv.creation_timestamp,
                    source=mv.source,
                    description=mv.description or "",
                )
        if entries is None and history:
            entries = self._journal.entries()
        transitions = tuple(t for entry in entries or () for t in entry.transitions())
        return RegistrySnapshot(self.model_name, versions, aliases, transitions)

    def _model_versions(self, version: int | None = None) -> Iterator[Any]:
        """Every version of the model, or only ``version`` (nothing if it does not exist)."""
        if version is not None:
            try:
                yield self.client.get_model_version(self.model_name, str(version))
            except MlflowException as exc:
                if exc.error_code != DOES_NOT_EXIST:
                    raise
            return
        token = None
        while True:
            page = self.client.search_model_versions(
                f"name='{self.model_name}'", max_results=1000, page_token=token
            )
            yield from page
            token = page.token
            if not token:
                return

    def snapshot(self, *, history: bool = False, version: int | None = None) -> RegistrySnapshot:
        """The registry as its journal commits it to be: what is stored, plus any operation
        that a killed process journaled but did not finish (which the next locked command or
        ``repair`` completes). Reads nothing but writes nothing either.

        With ``version`` only that version is read (a search over every version costs time in
        proportion to their number); when it does not exist, every version is, so that the
        refusal can name them.
        """
        if history:  # one read of the journal gives the history and the pending operations
            entries: list[JournalEntry] | None = self._journal.entries()
            pending = [entry for entry in entries if entry.state == INTENT]
        else:
            entries = None
            pending = self._journal.entries(state=INTENT)

        def committed(snapshot: RegistrySnapshot) -> RegistrySnapshot:
            # Only operations past their commit point (the alias MLflow serves has moved):
            # one killed before it shows nothing of itself, as MLflow shows nothing of it.
            stored = dict(snapshot.aliases)
            for entry in pending:
                if entry.plan.committed(stored):
                    snapshot = entry.plan.applied_to(snapshot)
            return snapshot

        if version is not None:
            one = committed(self._read_registry(entries=entries, version=version))
            if version in one.versions:
                return one
        return committed(self._read_registry(entries=entries))

    def version_for_stage(self, stage: str) -> int | None:
        """The version holding ``stage`` ("production" or "staging", any case), or None."""
        alias = alias_for(stage)
        # The alias is the commit point: what MLflow serves is the answer, journal or not.
        try:
            return int(self.client.get_model_version_by_alias(self.model_name, alias).version)
        except MlflowException as exc:
            if exc.error_code in (DOES_NOT_EXIST, "INVALID_PARAMETER_VALUE"):
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
        if _is_version(stage_or_version):
            return f"models:/{self.model_name}/{int(stage_or_version)}"
        return f"models:/{self.model_name}@{alias_for(str(stage_or_version))}"

    def resolve(self, stage_or_version: str | int) -> tuple[int, str]:
        """The version and URI for a stage or version, raising if there is none."""
        if _is_version(stage_or_version):
            version = int(stage_or_version)
            snapshot = self.snapshot(version=version)
            if version not in snapshot.versions:
                raise VersionNotFound(no_version_message(snapshot, version))
            return version, self.model_uri(version)
        found = self.version_for_stage(str(stage_or_version))
        if found is None:
            stage = stage_for(str(stage_or_version))
            raise NothingInStage(nothing_in_stage_message(self.snapshot(history=True), stage))
        return found, self.model_uri(stage_or_version)

    def _version(self, snapshot: RegistrySnapshot, version: int) -> dict[str, str]:
        if version not in snapshot.versions:
            raise VersionNotFound(no_version_message(snapshot, version))
        return snapshot.tags(version)

    def version_summary(self, version: int) -> dict[str, Any]:
        """A light read of one version (no history): stage, training and validation runs.

        Returns:
            ``{"version", "stage", "training_run_id", "validation_run_id", "validation_status",
            "holdout_rmspe"}``; run ids are None when unknown.

        Raises:
            VersionNotFound: When the model has no such version.
        """
        snapshot = self.snapshot(version=version)
        tags = self._version(snapshot, version)
        return {
            "version": version,
            "stage": snapshot.stage(version),
            "training_run_id": snapshot.versions[version].run_id or tags.get("lineage.run_id"),
            "validation_run_id": tags.get(VALIDATION_RUN_TAG),
            "validation_status": tags.get(STATUS_TAG),
            "holdout_rmspe": holdout_rmspe(tags),
        }

    def versions_to_validate(self) -> list[int]:
        """Versions whose lineage is complete, whose registration finished and that the gate
        has not judged yet, oldest first."""
        snapshot = self.snapshot()
        return sorted(
            version
            for version in snapshot.versions
            if snapshot.tags(version).get(STATUS_TAG) == PENDING
            and snapshot.tags(version).get(LINEAGE_COMPLETE_TAG, "").lower() == "true"
            and not self.registration_problem(version, snapshot.versions[version].run_id)
        )

    def registration_problem(self, version: int, run_id: str | None = None) -> str:
        """Why ``version`` may not be gated yet because of the run that registered it, or "".

        A version is gated in the run that registered it, or after that run finished: one
        whose run is still RUNNING in another process may be half-registered (its server was
        lost, or it is still being saved), and one whose run FAILED or was KILLED never
        completed. The next command on the failed run's machine marks such a version
        abandoned (``tracking_server.settle``).
        """
        if run_id is None:
            run_id = self.version_summary(version)["training_run_id"]
        if not run_id:
            return ""
        import mlflow  # noqa: PLC0415

        active = mlflow.active_run()
        if active is not None and active.info.run_id == run_id:
            return ""
        try:
            status = self.client.get_run(run_id).info.status
        except MlflowException as exc:
            if exc.error_code == DOES_NOT_EXIST:
                return ""
            raise
        if status == "FINISHED":
            return ""
        return (
            f"version {version}'s training run {run_id} is {status}: its registration did not "
            "complete (a run that lost its tracking server or was killed), so it is never gated "
            "or promoted; the next kedro command on that run's machine marks it abandoned"
            if status != "RUNNING"
            else f"version {version}'s training run {run_id} is still RUNNING in another "
            "process: it is gated by that run, or once it finished; if that run was lost, the "
            "next kedro command on its machine marks it FAILED and the version abandoned"
        )

    def next_version_to_validate(self) -> int | None:
        """The newest version whose lineage is complete and that the gate has not judged yet."""
        return max(self.versions_to_validate(), default=None)

    def status(self) -> list[VersionStatus]:
        """Every version, newest first, with stage, holdout RMSPE, lineage and who promoted it."""
        snapshot = self.snapshot()
        return [version_status(snapshot, v) for v in sorted(snapshot.versions, reverse=True)]

    def describe(self, version: int) -> dict[str, Any]:
        """Everything known about one version, tags grouped by prefix, with its own history."""
        snapshot = self.snapshot(history=True, version=version)
        tags = self._version(snapshot, version)
        record = snapshot.versions[version]
        return {
            "model": self.model_name,
            "version": version,
            "stage": snapshot.stage(version),
            "aliases": sorted(a for a, v in snapshot.aliases.items() if v == version),
            "uri": self.model_uri(version),
            "registered_at": ms_to_iso(record.creation_timestamp),
            "run_id": record.run_id,
            "source": record.source,
            "description": record.description,
            **grouped_tags(tags),
            "history": [t for t in snapshot.history if t.version == version],
        }

    def history(self) -> list[Transition]:
        """Every recorded move, in the order the operations happened (interrupted ones too)."""
        return [t for entry in self._journal.entries() for t in entry.transitions()]

    def open_operations(self) -> list[str]:
        """One line per interrupted operation still open in the journal, saying whether it
        passed its commit point and which version serves Production now; empty if none."""
        pending = self._journal.entries(state=INTENT)
        if not pending:
            return []
        stored = self._read_registry()
        serving = stored.aliases.get(PRODUCTION_ALIAS)
        lines = []
        for entry in pending:
            alias = entry.plan.commit_alias()
            if entry.plan.committed(stored.aliases):
                fate = (
                    f"past its commit point (@{alias} moved); the next writing command completes it"
                    if alias
                    else "the next writing command completes it"
                )
            else:
                fate = (
                    f"killed before its commit point (@{alias} did not move): none of it "
                    "happened; the next writing command aborts it"
                )
            lines.append(
                f"journal entry #{entry.seq} ({entry.plan.operation}: {entry.summary}, by "
                f"{entry.plan.user} at {entry.at}) was interrupted and is not complete: {fate}; "
                f"version {serving if serving is not None else '(none)'} serves Production"
            )
        return lines

    def check_invariants(self) -> list[str]:
        """Problems that break the lifecycle rules; empty when the registry is consistent."""
        snapshot = self._read_registry()
        return (
            self.open_operations()
            + tag_problems(snapshot)
            + self._unfinished_registrations(snapshot)
        )

    def _unfinished_registrations(self, snapshot: RegistrySnapshot) -> list[str]:
        """Versions waiting for the gate whose training run ended without finishing (FAILED or
        KILLED) and that nothing marked abandoned: ``repair`` marks them."""
        return [
            f"{problem} (not marked abandoned yet)"
            for problem in self._failed_registrations(snapshot).values()
        ]

    def _failed_registrations(self, snapshot: RegistrySnapshot) -> dict[int, str]:
        """Pending versions whose training run ended without finishing, with why. A run still
        RUNNING elsewhere may yet finish: its version is not counted."""
        found = {}
        for version in sorted(snapshot.versions):
            if snapshot.tags(version).get(STATUS_TAG) != PENDING:
                continue
            run_id = snapshot.versions[version].run_id
            problem = self.registration_problem(version, run_id)
            if problem and self.client.get_run(run_id).info.status != "RUNNING":
                found[version] = problem
        return found

    def model_files_problem(self, version: int) -> str:
        """Why ``version``'s model cannot load, or '' when its ``MLmodel`` file is there.

        Lists the version's artifact folder (one request) instead of loading the model, so it
        is cheap enough for ``check`` over every version and before every promotion.
        """
        try:
            location = self.client.get_model_version_download_uri(self.model_name, str(version))
            files = list_artifacts(artifact_uri=location, tracking_uri=self.client.tracking_uri)
        except (MlflowException, OSError) as exc:
            return f"its artifacts cannot be listed ({exc})"
        if not any(Path(f.path).name == "MLmodel" for f in files):
            return f"its artifacts are missing (no MLmodel file at {location})"
        return ""

    def broken_versions(self) -> list[str]:
        """One line per version whose model does not load (artifacts missing); empty if none."""
        problems = []
        for version in sorted(self._read_registry().versions):
            problem = self.model_files_problem(version)
            if problem:
                problems.append(f"version {version} is broken: its model does not load: {problem}")
        return problems

    def record_live_metrics(
        self,
        version: int,
        *,
        rmspe: float,
        drift: bool,
        threshold: float,
        window: str,
        run_id: str | None,
        interval: str | None = None,
        coverage: float | None = None,
        interval_width: float | None = None,
        quantile_loss: float | None = None,
    ) -> None:
        """Tag a version with its latest live RMSPE (monitoring) and, when its forecasts carry
        quantiles, the same window's coverage of the ``interval`` ("P10-P90"), its mean
        relative width and quantile loss (``monitoring.live_coverage``, ...);
        ``monitoring.live_interval`` is ``none`` for a version without quantiles.

        ``monitoring.*`` tags describe how the version does on actual sales; they are not
        lifecycle state (no alias moves, no journal entry), so no lock is taken: the newest
        monitoring run wins. A version has quantiles or not for good, so no figure goes stale.
        """
        tags = {
            "monitoring.live_rmspe": repr(float(rmspe)),
            "monitoring.drift": "true" if drift else "false",
            "monitoring.threshold": repr(float(threshold)),
            "monitoring.window": window,
            "monitoring.live_interval": interval if coverage is not None and interval else "none",
            "monitoring.at": now_iso(),
        }
        for key, value in (
            ("monitoring.live_coverage", coverage),
            ("monitoring.live_interval_width", interval_width),
            ("monitoring.live_quantile_loss", quantile_loss),
        ):
            if value is not None:
                tags[key] = repr(float(value))
        if run_id:
            tags["monitoring.run_id"] = run_id
        for key, value in tags.items():
            self.client.set_model_version_tag(self.model_name, str(version), key, value)

    def record_input_drift(
        self,
        version: int,
        *,
        status: str,
        drifted: list[str],
        batch: dict[str, Any],
        reason: str,
        run_id: str | None,
    ) -> None:
        """Tag a version with the drift verdict of the latest batch it forecast (inference).

        ``monitoring.input_drift`` is ``drift``, ``no_drift``, ``too_few_rows`` or ``skipped``;
        ``monitoring.input_drift.checks`` names what drifted. Like the live metrics these are
        not lifecycle state: no lock, the newest batch wins; the team server's webhooks
        (``model_version_tag.set``) tell subscribers.
        """
        span = f"{batch.get('first_date')}..{batch.get('last_date')}"
        tags = {
            "monitoring.input_drift": status,
            "monitoring.input_drift.checks": ", ".join(drifted) if drifted else "none",
            "monitoring.input_drift.batch": (
                f"{span} ({int(batch.get('rows', 0)):,} rows, {int(batch.get('stores', 0)):,} stores)"
            ),
            "monitoring.input_drift.at": now_iso(),
        }
        if reason:
            tags["monitoring.input_drift.reason"] = reason[:5000]
        if run_id:
            tags["monitoring.input_drift.run_id"] = run_id
        for key, value in tags.items():
            self.client.set_model_version_tag(self.model_name, str(version), key, value)

    def record_shadow_comparison(
        self,
        version: int,
        *,
        champion: int,
        rmspe: float,
        champion_rmspe: float,
        store_days: int,
        since: str,
        until: str,
        run_id: str | None,
    ) -> None:
        """Tag a version with its live RMSPE in the shadow of ``champion`` on the same
        store-days (monitoring); read by ``kedro model promote`` and the review. Not
        lifecycle state: no lock, the newest monitoring run wins."""
        tags = {
            "vs_version": str(int(champion)),
            "rmspe": repr(float(rmspe)),
            "champion_rmspe": repr(float(champion_rmspe)),
            "store_days": str(int(store_days)),
            "since": since,
            "until": until,
            "at": now_iso(),
        }
        if run_id:
            tags["run_id"] = run_id
        for key, value in tags.items():
            self.client.set_model_version_tag(
                self.model_name, str(version), SHADOW_PREFIX + key, value
            )

    def live_comparison(self, version: int) -> str | None:
        """``state.live_comparison`` of the version as the registry holds it now."""
        tags = self.client.get_model_version(self.model_name, str(version)).tags
        return live_comparison(tags, version)

    # ---------------------------------------------------------------- changing (lock + journal)
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

        ``metrics`` should hold the holdout RMSPE under ``holdout_rmspe``; every metric is
        stored as a ``validation.<name>`` tag on the version and in the history. ``evidence``
        says which model was scored (``kind``, ``model_uri``, ``origin``, holdout window),
        stored as ``validation.evidence.<key>`` tags.
        """
        who = self._who(user)
        problem = self.registration_problem(version)
        if problem:
            raise RegistryError(f"The gate does not judge {self.model_name}: {problem}.")
        with self._locked("validate", who) as snapshot:
            decision = rules.plan_validation(
                snapshot, version, passed=passed, metrics=metrics, threshold=threshold,
                reason=reason, run_id=run_id, user=who, at=now_iso(), evidence=evidence,
            )  # fmt: skip
            seq = self._execute(decision.plan)
        logger.info(
            "Version %d %s the gate (%s); now %s", version, "passed" if passed else "failed",
            reason, decision.to_stage,
        )  # fmt: skip
        return TransitionResult(
            version=version,
            passed=passed,
            from_stage=decision.from_stage,
            to_stage=decision.to_stage,
            seq=seq,
            superseded=decision.previous,
            moves=[Move(m["version"], m["from"], m["to"], m["note"]) for m in decision.plan.moves],
        )

    def promote(
        self, *, reason: str, version: int | None = None, user: str | None = None
    ) -> PromotionResult:
        """Put a version in Production and archive the previous Production version.

        Without ``version`` the Staging version is promoted. With ``version`` (rollback or explicit
        promotion) the version must have passed the gate: Archived, Staging or superseded versions
        qualify; pending and rejected versions are refused.
        """
        reason = rules.check_reason(reason)
        who = self._who(user)
        with self._locked("promote", who) as snapshot:
            crash_point("after_lock")
            at = now_iso()
            decision = rules.plan_promotion(
                snapshot, version=version, reason=reason, user=who, at=at
            )
            problem = self.model_files_problem(decision.version)
            if problem:
                raise PromotionRefused(
                    f"Version {decision.version} of {self.model_name} cannot be promoted: its "
                    f"model does not load: {problem}. Promote another version, or train again."
                )
            seq = self._execute(decision.plan)
        logger.info(
            "Version %d is now in Production (was %s); previous Production: %s",
            decision.version,
            decision.from_stage,
            decision.previous,
        )
        return PromotionResult(
            version=decision.version,
            from_stage=decision.from_stage,
            previous_production=decision.previous,
            operation=decision.plan.operation,
            seq=seq,
            user=who,
            reason=reason,
            at=at,
            model_uri=self.model_uri(PRODUCTION_ALIAS),
        )

    def apply_retention(
        self, keep: int, dry_run: bool = False, user: str | None = None
    ) -> RetentionReport:
        """Delete Archived versions beyond the ``keep`` most recently archived.

        Production, Staging and versions in None (pending, rejected, superseded) are never touched.
        The versions' runs and artifacts stay in the tracking store; only registry entries go.
        A dry run reads only.
        """
        who = self._who(user)
        if dry_run:
            report, _ = rules.plan_retention(self.snapshot(), keep, who, dry_run=True)
        else:
            with self._locked("retention", who) as snapshot:
                report, plan = rules.plan_retention(snapshot, keep, who)
                if plan is not None:
                    report.seq = self._execute(plan)
        logger.info(
            "Retention (keep %d archived%s): deleted %s, kept archived %s",
            keep,
            ", dry run" if dry_run else "",
            report.deleted,
            report.kept_archived,
        )
        return report

    def abandon(self, version: int, reason: str, user: str | None = None) -> bool:
        """Mark a version whose registering run failed, so that nothing picks it up.

        Only a version still waiting for the gate is marked (one the gate already judged keeps
        its verdict), checked and written under the lock, so a concurrent gate's verdict is
        never overwritten. Returns whether it was marked.
        """
        who = self._who(user)
        with self._locked("abandon", who) as snapshot:
            plan = rules.plan_abandon(snapshot, version, reason, who)
            if plan is None:
                return False
            self._execute(plan)
        logger.warning("Version %d abandoned: %s", version, reason)
        return True

    def repair(self, user: str | None = None) -> list[str]:
        """Complete interrupted operations and fix tags from the aliases; returns what was found."""
        found = self.check_invariants()
        with self._locked("repair", self._who(user)):
            pass  # _locked rolls forward and repairs before yielding
        for version, problem in self._failed_registrations(self.snapshot()).items():
            self.abandon(version, problem, user)
        return found

    def configure_notifications(
        self, conf: dict[str, Any], *, enabled: bool = True
    ) -> WebhookSetting:
        """Create or update the team's webhook (``registry.notifications``; URL and secret
        from the environment). Needs an MLflow admin on a server with authentication."""
        name, url, secret, events = webhook_from_conf(conf)
        try:
            return configure_webhook(self.client, name, url, secret, events, enabled=enabled)
        except MlflowException as exc:
            if exc.error_code == "PERMISSION_DENIED":
                raise PermissionDenied(
                    f"{self._who(None)} may not set up webhooks on {self.client.tracking_uri}: "
                    "only an MLflow admin may."
                ) from exc
            raise RegistryError(f"The webhook {name!r} was not set up: {exc.message}") from exc

    # ---------------------------------------------------------------- write protocol
    def _who(self, user: str | None) -> str:
        """The acting user: the authenticated one on a server with auth (see ``access``)."""
        return current_user(user, self.client.tracking_uri)

    @contextlib.contextmanager
    def _locked(self, operation: str, user: str) -> Iterator[RegistrySnapshot]:
        """Hold the registry lock; yields the snapshot after rolling forward and repairing.

        A user the server does not allow to make the change is refused before the lock is
        taken, so nothing is written; a refusal the check did not foresee (a 403 on the
        journal's experiment, say) still ends as one sentence, the lock released.
        """
        check_may(self.client.tracking_uri, self.model_name, operation, user)
        token = self._lock.acquire(operation, user)
        try:
            with model_checked_once(self.client, self.model_name):
                yield self._recover(user)
        except MlflowException as exc:
            if exc.error_code != "PERMISSION_DENIED":
                raise
            raise PermissionDenied(
                f"The tracking server refused a write by {user} while trying to {operation} "
                f"{self.model_name} ({exc.message.splitlines()[0][:200]}); ask an MLflow admin "
                "for EDIT on the registered model and on the experiments the lifecycle writes "
                f"to ({self.journal_experiment})."
            ) from exc
        finally:
            self._next_seq = None
            self._lock.release(token)

    def _recover(self, user: str) -> RegistrySnapshot:
        """Under the lock: roll forward interrupted operations, then repair tags from aliases.

        Returns the snapshot as the caller's operation must see it. The journal is read once
        here (the history, the pending operations, the next sequence number): while the lock
        is held nobody else writes to it.
        """
        entries = self._journal.entries()
        pending = [entry for entry in entries if entry.state == INTENT]
        if pending:
            self._journal.roll_forward(user, pending, self._read_registry().aliases)
            entries = self._journal.entries()
        self._next_seq = next_seq(entries)
        snapshot = self._read_registry(entries=entries)
        plan = rules.plan_repair(snapshot, user)
        if plan is None:
            return snapshot
        logger.warning("Repairing the registry: %s", "; ".join(tag_problems(snapshot)))
        self._execute(plan)
        return self._read_registry(history=True)

    def _execute(self, plan: Plan) -> int:
        """Journal and carry out ``plan`` (lock held); returns its sequence number."""
        seq = self._journal.execute(plan, self._lock.assert_held, seq=self._next_seq)
        self._next_seq = seq + 1
        return seq


__all__ = [
    "ModelRegistry",
    "Move",
    "PromotionResult",
    "RetentionReport",
    "TransitionResult",
    "current_user",
]
