"""The journal that carries out plans (``plan``): one MLflow run per operation.

MLflow keeps no record of who moved an alias when (mlflow/mlflow#2169). Every change is therefore
an *operation* journaled as one run in the experiment ``<model>-lifecycle`` of the same tracking
backend, so the history is shared wherever the registry is and visible in the MLflow UI. Runs
rather than registered-model tags because a run is created together with all its tags in one
write (an atomic journal record), has no practical count limit and can be searched. Each run
carries ``journal.seq`` (gap-free, allocated under the lock: the order of the history),
``journal.operation``, ``journal.user``, ``journal.at`` (UTC ISO), ``journal.reason``,
``journal.state`` (``intent`` -> ``complete``) and ``journal.plan``: the JSON list of moves
(version, from-stage, to-stage, metrics at that time) with the exact alias and tag writes.

Crash safety: the entry is written as ``intent`` before any alias or tag moves; the operation
commits when its first alias moves (``production`` before ``staging``): that one write is what
MLflow, the UI, ``models:/<name>@production`` and every reading command here see, so they can
never disagree. A process killed after that write leaves a plan that the next locked command
rolls forward (every write is idempotent); killed before it, the intent is ``aborted`` by the
next locked command, and nothing of it was ever visible. A plan that moves no alias (abandon,
retention) commits with its intent and is rolled forward.
``ROSSMANN_REGISTRY_CRASH_AT=<step>`` (see ``CRASH_POINTS``) SIGKILLs the process at that step
so tests can prove it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
from collections.abc import Callable, Iterator

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from rossmann_forecast.registry.errors import ALREADY_EXISTS, DOES_NOT_EXIST
from rossmann_forecast.registry.plan import JournalEntry, Plan, next_seq, now_iso
from rossmann_forecast.registry.stages import ALIASES, STAGE_SEQ_TAG, STAGE_SINCE_TAG

logger = logging.getLogger(__name__)

CRASH_ENV = "ROSSMANN_REGISTRY_CRASH_AT"
CRASH_POINTS = (
    "after_lock",  # lock held, nothing written
    "after_intent",  # journal entry written as intent, no alias moved
    "after_alias_production",  # production alias moved (commit point)
    "after_alias_staging",  # staging alias moved
    "after_version_tags",  # tags of the first version written
    "after_complete",  # journal entry complete, lock not released
)

INTENT = "intent"
COMPLETE = "complete"
ABORTED = "aborted"  # killed before its commit point: none of its writes happened
_TAG_CHUNK = 5000  # MLflow run tags hold at most 8000 characters


def crash_point(step: str) -> None:
    """Fault injection: SIGKILL this process at ``step`` when ROSSMANN_REGISTRY_CRASH_AT says so."""
    if os.environ.get(CRASH_ENV) == step:
        logger.warning("Fault injection: killing process %d at step %s", os.getpid(), step)
        os.kill(os.getpid(), signal.SIGKILL)


@contextlib.contextmanager
def model_checked_once(client: MlflowClient, model_name: str) -> Iterator[None]:
    """MLflow's check that ``model_name`` is not a prompt, made once for a whole operation.

    ``MlflowClient`` makes that check before every alias and version-tag write, and before
    resolving a version's download URI, by reading the registered model with all its versions
    and their tags (``_raise_if_prompt``): with 50 versions a third of a promotion's time, and
    it grows with every version registered. A registered model does not turn into a prompt
    between two writes of one operation, so the check runs once on entry, exactly as MLflow
    makes it, and is skipped for this model's name on ``client`` until the block ends (other
    names are checked as usual; nested blocks share the outer check). Before the model exists,
    or with an MLflow that has no such method, every call is checked as MLflow does.
    """
    check = getattr(client, "_raise_if_prompt", None)
    skip = check is not None and "_raise_if_prompt" not in vars(client)  # else none, or nested
    if skip:
        try:
            check(model_name)
        except MlflowException as exc:
            if exc.error_code != DOES_NOT_EXIST:
                raise
            skip = False  # no model yet: the operation's own reads say so, as without this
    if not skip:
        yield
        return

    def checked(name: str) -> None:
        if name != model_name:
            check(name)

    client._raise_if_prompt = checked  # this client object only, until the block ends
    try:
        yield
    finally:
        del client._raise_if_prompt


class Journal:
    """The lifecycle journal of one registered model, in the experiment ``<model>-lifecycle``."""

    def __init__(self, client: MlflowClient, model_name: str) -> None:
        self.client = client
        self.model_name = model_name
        self.experiment_name = f"{model_name}-lifecycle"
        self._experiment_id: str | None = None

    # ---------------------------------------------------------------- reading
    def entries(self, state: str | None = None) -> list[JournalEntry]:
        """Journaled operations in sequence order (only those in ``state`` if given)."""
        if self._experiment_id is None:
            experiment = self.client.get_experiment_by_name(self.experiment_name)
            if experiment is None:
                return []
            self._experiment_id = experiment.experiment_id
        query = f"tags.`journal.model` = '{self.model_name}'"
        if state:
            query += f" and tags.`journal.state` = '{state}'"
        runs, token = [], None
        while True:
            page = self.client.search_runs(
                [self._experiment_id], query, max_results=1000, page_token=token
            )
            runs.extend(page)
            token = page.token
            if not token:
                break
        entries = [
            JournalEntry(
                seq=int(run.data.tags.get("journal.seq", "0")),
                state=run.data.tags.get("journal.state", ""),
                at=run.data.tags.get("journal.at", ""),
                plan=Plan.from_tags(run.data.tags),
                run_id=run.info.run_id,
                summary=run.data.tags.get("journal.summary", ""),
                pid=run.data.tags.get("journal.pid", ""),
            )
            for run in runs
        ]
        return sorted(entries, key=lambda entry: entry.seq)

    # ---------------------------------------------------------------- writing (lock held)
    def execute(
        self, plan: Plan, assert_lock_held: Callable[[], None], seq: int | None = None
    ) -> int:
        """Journal ``plan`` as an intent, apply it, mark it complete; returns its sequence number.

        The caller holds the lock; ``assert_lock_held`` proves it still does before the intent.
        ``seq`` is the next free number when the caller read the journal since it took the lock
        (nobody else can write while it holds it, and ``assert_lock_held`` checks it still
        does); without it the journal is read here.
        """
        assert_lock_held()
        if seq is None:
            seq = next_seq(self.entries())
        stamp = now_iso()
        for move in plan.moves:
            if move["version"] not in plan.delete_versions:
                plan.tag(move["version"], {STAGE_SEQ_TAG: str(seq), STAGE_SINCE_TAG: stamp})
        body = plan.to_json()
        chunks = [body[i : i + _TAG_CHUNK] for i in range(0, len(body), _TAG_CHUNK)] or [""]
        summary = ", ".join(f"v{m['version']} {m['from']}->{m['to']}" for m in plan.moves)
        tags = {
            "journal.model": self.model_name,
            "journal.seq": str(seq),
            "journal.operation": plan.operation,
            "journal.state": INTENT,
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
            self._experiment_id_or_create(),
            tags=tags,
            run_name=f"#{seq:05d} {plan.operation}: {summary}"[:250],
        )
        crash_point("after_intent")
        self.apply(plan)
        self._complete(run.info.run_id)
        crash_point("after_complete")
        return seq

    def apply(self, plan: Plan) -> None:
        """Carry out a plan. Every write is idempotent, so an interrupted plan can be re-applied.

        Called under the lock only (``execute``, ``roll_forward``), where the facade has made
        MLflow's prompt check once for the whole operation (``model_checked_once``)."""
        for alias in ALIASES:  # production first: the commit point
            if alias not in plan.aliases:
                continue
            target = plan.aliases[alias]
            if target is None:
                self.client.delete_registered_model_alias(self.model_name, alias)
            else:
                self.client.set_registered_model_alias(self.model_name, alias, str(target))
            crash_point(f"after_alias_{alias}")
        for version in sorted(set(plan.set_tags) | set(plan.delete_tags), key=int):
            if int(version) in plan.delete_versions:
                continue
            for key, value in plan.set_tags.get(version, {}).items():
                self.client.set_model_version_tag(self.model_name, version, key, value)
            for key in plan.delete_tags.get(version, []):
                self.client.delete_model_version_tag(self.model_name, version, key)
            crash_point("after_version_tags")
        for version in plan.delete_versions:
            try:
                self.client.delete_model_version(self.model_name, str(version))
            except MlflowException as exc:
                if exc.error_code != DOES_NOT_EXIST:
                    raise

    def roll_forward(
        self, user: str, pending: list[JournalEntry], aliases: dict[str, int]
    ) -> list[JournalEntry]:
        """Complete every interrupted operation past its commit point, abort the others (lock
        held); returns the entries completed.

        Args:
            user: Who recovers (recorded on the entries).
            pending: The entries still in ``intent``, as the caller read them under the lock.
            aliases: The aliases as MLflow has them now.
        """
        completed = []
        for entry in pending:
            if not entry.plan.committed(aliases):
                logger.warning(
                    "Aborting interrupted operation #%s (%s: %s) left by %s: killed before its "
                    "commit point (@%s never moved), none of it was carried out",
                    entry.seq,
                    entry.plan.operation,
                    entry.summary,
                    entry.pid,
                    entry.plan.commit_alias(),
                )
                self.client.set_tag(entry.run_id, "journal.recovered_by", user)
                self.client.set_tag(entry.run_id, "journal.recovered_at", now_iso())
                self.client.set_tag(entry.run_id, "journal.state", ABORTED)
                self.client.set_terminated(entry.run_id, "KILLED")
                continue
            completed.append(entry)
            logger.warning(
                "Completing interrupted operation #%s (%s: %s) left by %s",
                entry.seq,
                entry.plan.operation,
                entry.summary,
                entry.pid,
            )
            self.apply(entry.plan)
            self.client.set_tag(entry.run_id, "journal.recovered_by", user)
            self.client.set_tag(entry.run_id, "journal.recovered_at", now_iso())
            self._complete(entry.run_id)
        return completed

    def _complete(self, run_id: str) -> None:
        self.client.set_tag(run_id, "journal.state", COMPLETE)
        self.client.set_terminated(run_id, "FINISHED")

    def _experiment_id_or_create(self) -> str:
        if self._experiment_id is None:
            experiment = self.client.get_experiment_by_name(self.experiment_name)
            if experiment is None:
                try:
                    experiment_id = self.client.create_experiment(
                        self.experiment_name,
                        tags={"rossmann.purpose": f"lifecycle journal of {self.model_name}"},
                    )
                except MlflowException as exc:
                    if exc.error_code != ALREADY_EXISTS:
                        raise
                    experiment_id = self.client.get_experiment_by_name(
                        self.experiment_name
                    ).experiment_id
            else:
                experiment_id = experiment.experiment_id
                if experiment.lifecycle_stage == "deleted":
                    self.client.restore_experiment(experiment_id)
            self._experiment_id = experiment_id
        return self._experiment_id
