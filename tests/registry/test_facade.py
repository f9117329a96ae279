"""Lifecycle rules of the model registry, against real MLflow: SQLite and a real `mlflow server`."""

from __future__ import annotations

import signal
import socket
import time
import uuid

import mlflow.pyfunc
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from rossmann_forecast.registry import (
    CRASH_POINTS,
    LockTimeout,
    ModelRegistry,
    NothingInStage,
    PromotionRefused,
    RegistryError,
    VersionNotFound,
    initial_version_tags,
)
from tests.registry_support import (
    VersionFactory,
    finish,
    release_barrier,
    start_worker,
    validated,
    worker_result,
)


# ------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="session")
def sqlite_uri(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow_sqlite') / 'mlflow.db'}"


@pytest.fixture(scope="session")
def artifact_root(tmp_path_factory):
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(params=["sqlite", "server"])
def backend(request):
    return request.getfixturevalue("sqlite_uri" if request.param == "sqlite" else "mlflow_server")


# Rules that do not depend on the backend run on SQLite only; invariant tests run on both.
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def model_name():
    # One model per test on a shared backend keeps the tests independent and fast.
    return f"rossmann-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def factory(backend, model_name, artifact_root):
    return VersionFactory(backend, model_name, artifact_root)


@pytest.fixture
def client(backend):
    return MlflowClient(tracking_uri=backend, registry_uri=backend)


@pytest.fixture
def registry(client, model_name):
    return ModelRegistry(model_name, client, lock_ttl_seconds=30, lock_wait_seconds=20)


def assert_consistent(registry: ModelRegistry, client: MlflowClient) -> None:
    """The invariants: one Production (or none), at most one Staging, tags agree with aliases."""
    assert registry.check_invariants() == []
    production = registry.version_for_stage("production")
    staging = registry.version_for_stage("staging")
    assert production is None or production != staging
    for row in registry.status():
        tags = client.get_model_version(registry.model_name, str(row.version)).tags
        assert tags.get("lifecycle.stage", "None") == row.stage, row
        assert (row.stage == "Production") == (row.version == production)
        assert (row.stage == "Staging") == (row.version == staging)
    # Every operation settled: carried out, or aborted before its commit point (issue 20).
    assert all(t.state in ("complete", "aborted") for t in registry.history())


# ------------------------------------------------------------------------------------ gate
def test_initial_tags_mark_version_pending():
    assert initial_version_tags() == {"lifecycle.stage": "None", "validation.status": "pending"}


def test_gate_pass_moves_version_to_staging(registry, factory, client):
    version = factory.register()
    assert registry.next_version_to_validate() == version

    result = registry.record_validation(
        version,
        passed=True,
        metrics={"holdout_rmspe": 0.0978, "holdout_bias": 0.002},
        threshold=0.10,
        reason="holdout RMSPE 0.0978 < 0.10",
        run_id="abc",
        user="gate-bot",
    )

    assert (result.from_stage, result.to_stage, result.superseded) == ("None", "Staging", None)
    assert registry.version_for_stage("Staging") == version
    assert registry.next_version_to_validate() is None
    tags = client.get_model_version(registry.model_name, str(version)).tags
    assert tags["validation.status"] == "passed"
    assert float(tags["validation.holdout_rmspe"]) == pytest.approx(0.0978)
    assert tags["validation.run_id"] == "abc"
    assert_consistent(registry, client)


@sqlite_only
def test_next_version_to_validate_needs_complete_lineage(registry, factory):
    complete = factory.register()
    factory.register(lineage_complete=False)
    assert registry.next_version_to_validate() == complete


def test_newer_pass_supersedes_staging_and_stays_promotable(registry, factory, client):
    first = validated(registry, factory)
    second = factory.register()

    result = registry.record_validation(
        second,
        passed=True,
        metrics={"holdout_rmspe": 0.08},
        threshold=0.1,
        reason="ok",
        run_id=None,
    )

    assert result.superseded == first
    assert registry.version_for_stage("staging") == second
    row = {r.version: r for r in registry.status()}[first]
    assert (row.stage, row.note) == ("None", f"superseded by version {second}")
    promoted = registry.promote(version=first, reason="older one reviewed better", user="ann")
    assert (promoted.version, promoted.from_stage) == (first, "None")
    assert registry.version_for_stage("staging") == second
    assert_consistent(registry, client)


def test_rejected_version_stays_none_and_cannot_be_promoted(registry, factory, client):
    version = validated(registry, factory, passed=False, rmspe=0.25)

    row = {r.version: r for r in registry.status()}[version]
    assert (row.stage, row.validation_status) == ("None", "rejected")
    with pytest.raises(PromotionRefused, match=rf"Version {version} was rejected .*0\.2500"):
        registry.promote(version=version, reason="try anyway")
    with pytest.raises(NothingInStage, match="No version of .* is in Staging"):
        registry.promote(reason="nothing staged")
    assert_consistent(registry, client)


# ------------------------------------------------------------------------------------ promotion
def test_promote_archives_previous_production(registry, factory, client):
    v1 = validated(registry, factory)
    first = registry.promote(reason="first model", user="ann")
    v2 = validated(registry, factory)

    second = registry.promote(reason="better on recent weeks", user="bob")

    assert (first.version, first.previous_production) == (v1, None)
    assert (second.version, second.previous_production, second.from_stage) == (v2, v1, "Staging")
    assert registry.version_for_stage("production") == v2
    assert registry.version_for_stage("staging") is None
    stages = {r.version: r.stage for r in registry.status()}
    assert stages == {v1: "Archived", v2: "Production"}
    assert {r.version: r.promoted_by for r in registry.status()}[v2] == "bob"
    assert_consistent(registry, client)


class PromptCheckCountingClient(MlflowClient):
    """A real client that counts MLflow's is-it-a-prompt checks, per model name."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.prompt_checks: dict[str, int] = {}

    def _raise_if_prompt(self, name):
        self.prompt_checks[name] = self.prompt_checks.get(name, 0) + 1
        super()._raise_if_prompt(name)


@sqlite_only
def test_a_promotion_checks_once_that_the_model_is_not_a_prompt(backend, model_name, factory):
    # MLflow re-reads the registered model with all its versions before every alias and tag
    # write; one operation needs that check once, not once per write (docs/benchmarks.md).
    counting = PromptCheckCountingClient(tracking_uri=backend, registry_uri=backend)
    registry = ModelRegistry(model_name, counting, lock_ttl_seconds=30, lock_wait_seconds=20)
    v1 = validated(registry, factory)
    registry.promote(reason="first model", user="ann")
    v2 = validated(registry, factory)
    counting.prompt_checks.clear()

    registry.promote(reason="better on recent weeks", user="bob")  # 2 aliases, ~10 tags

    assert counting.prompt_checks[model_name] == 1
    assert "_raise_if_prompt" not in vars(counting)  # MLflow's own check is back afterwards
    counting.set_model_version_tag(model_name, str(v2), "after", "1")
    assert counting.prompt_checks[model_name] == 2
    assert {r.version: r.stage for r in registry.status()} == {v1: "Archived", v2: "Production"}
    assert_consistent(registry, counting)


@sqlite_only
def test_a_prompt_named_like_the_model_is_still_refused(backend, model_name, client):
    # The check once per operation is MLflow's own: a prompt under the model's name is no
    # model to it, and the operation stops before it writes anything.
    client.register_prompt(name=model_name, template="Forecast {{store}}")
    registry = ModelRegistry(model_name, client, lock_ttl_seconds=30, lock_wait_seconds=20)

    with pytest.raises(RegistryError, match="has no version 1"):  # a prompt is no model
        registry.promote(reason="should not happen", version=1, user="ann")

    assert "_raise_if_prompt" not in vars(client)
    assert (
        client.search_runs(
            [e.experiment_id for e in client.search_experiments()],
            f"tags.`journal.model` = '{model_name}'",
        )
        == []
    )


def test_rollback_to_archived_version(registry, factory, client):
    v1 = validated(registry, factory)
    registry.promote(reason="first")
    v2 = validated(registry, factory)
    registry.promote(reason="second")

    rollback = registry.promote(version=v1, reason="v2 overforecasts Sundays", user="carol")

    assert (rollback.operation, rollback.version, rollback.previous_production) == (
        "rollback",
        v1,
        v2,
    )
    assert {r.version: r.stage for r in registry.status()} == {v1: "Production", v2: "Archived"}
    assert_consistent(registry, client)


def test_history_lists_every_move_in_order_with_users_and_reasons(registry, factory):
    v1 = validated(registry, factory, user="gate")
    registry.promote(reason="first", user="ann")
    v2 = validated(registry, factory, rmspe=0.08, user="gate")
    registry.promote(reason="second", user="bob")
    registry.promote(version=v1, reason="rollback", user="carol")

    history = registry.history()

    moves = [(t.version, t.from_stage, t.to_stage, t.user, t.reason) for t in history]
    assert moves == [
        (v1, "None", "Staging", "gate", "holdout RMSPE 0.0900 < 0.10"),
        (v1, "Staging", "Production", "ann", "first"),
        (v2, "None", "Staging", "gate", "holdout RMSPE 0.0800 < 0.10"),
        (v2, "Staging", "Production", "bob", "second"),
        (v1, "Production", "Archived", "bob", "second"),
        (v1, "Archived", "Production", "carol", "rollback"),
        (v2, "Production", "Archived", "carol", "rollback"),
    ]
    assert [t.seq for t in history] == [1, 2, 3, 4, 4, 5, 5]
    assert history[3].metrics["holdout_rmspe"] == pytest.approx(0.08)
    assert all(t.at.endswith("+00:00") for t in history)


@sqlite_only
def test_describe_groups_lineage_validation_and_lifecycle(registry, factory):
    version = validated(registry, factory)
    info = registry.describe(version)
    assert info["stage"] == "Staging"
    assert info["aliases"] == ["staging"]
    assert info["lineage"]["git.commit"] == "0123456789abcdef"
    assert info["cv"]["ensemble_rmspe"] == "0.101000"
    assert info["validation"]["status"] == "passed"
    assert info["lifecycle"]["stage"] == "Staging"
    assert [t.to_stage for t in info["history"]] == ["Staging"]
    with pytest.raises(VersionNotFound):
        registry.describe(42)


def test_reads_of_one_version_see_the_others_stages_and_name_them_when_it_is_missing(
    registry, factory
):
    """describe, version_summary and resolve read one version, not all of them."""
    first = validated(registry, factory)
    registry.promote(reason="first")
    second = validated(registry, factory)

    info = registry.describe(first)

    assert (info["stage"], info["aliases"]) == ("Production", ["production"])
    assert [t.to_stage for t in info["history"]] == ["Staging", "Production"]
    assert registry.version_summary(second)["stage"] == "Staging"
    assert registry.resolve(second) == (second, f"models:/{registry.model_name}/{second}")
    missing = rf"no version 99 \(existing versions: {first}, {second}\)"
    for read in (registry.describe, registry.version_summary, registry.resolve):
        with pytest.raises(VersionNotFound, match=missing):
            read(99)


# ------------------------------------------------------------------------------------ retention
def test_retention_keeps_production_staging_and_newest_archived(registry, factory, client):
    versions = []
    for _ in range(5):
        versions.append(validated(registry, factory))
        registry.promote(reason="next")
    staging = validated(registry, factory)
    rejected = validated(registry, factory, passed=False, rmspe=0.3)
    # Archived, most recent first: v4, v3, v2, v1.

    dry = registry.apply_retention(keep=2, dry_run=True)
    assert (dry.deleted, dry.kept_archived) == (versions[:2], versions[2:4])
    assert len(registry.status()) == 7

    report = registry.apply_retention(keep=2, dry_run=False, user="ops")

    assert report.deleted == versions[:2]
    assert (report.production, report.staging) == (versions[4], staging)
    assert report.untouched == [rejected]
    remaining = {r.version for r in registry.status()}
    assert remaining == {*versions[2:], staging, rejected}
    deletions = [t for t in registry.history() if t.to_stage == "Deleted"]
    assert [(t.version, t.user) for t in deletions] == [(versions[0], "ops"), (versions[1], "ops")]
    assert registry.apply_retention(keep=2, dry_run=False).deleted == []
    assert_consistent(registry, client)


@sqlite_only
def test_moves_are_numbered_in_the_order_they_happened_not_by_version(registry, factory, client):
    """The journal numbers each move on the version (``lifecycle.stage_seq``), which is what
    retention counts archive order by (the rule itself: test_rules.py)."""
    v1 = validated(registry, factory)
    registry.promote(reason="1")
    v2 = validated(registry, factory)
    registry.promote(reason="2")
    v3 = validated(registry, factory)
    registry.promote(reason="3")
    registry.promote(version=v1, reason="roll back")  # v3 archived last, v2 before it

    seq = {
        v: int(client.get_model_version(registry.model_name, str(v)).tags["lifecycle.stage_seq"])
        for v in (v2, v3)
    }
    assert seq[v3] > seq[v2]
    assert registry.apply_retention(keep=1, dry_run=True).kept_archived == [v3]
    assert registry.apply_retention(keep=1, dry_run=True).deleted == [v2]


# ------------------------------------------------------------------------------------ loading
def test_production_alias_loads_with_pyfunc(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    factory = VersionFactory(uri, "rossmann-ensemble", tmp_path / "artifacts")
    registry = ModelRegistry("rossmann-ensemble", MlflowClient(tracking_uri=uri))
    version = validated(registry, factory)
    registry.promote(reason="ship it")

    assert registry.model_uri("Production") == "models:/rossmann-ensemble@production"
    assert registry.model_uri(version) == f"models:/rossmann-ensemble/{version}"
    assert registry.resolve("production") == (version, "models:/rossmann-ensemble@production")
    model = mlflow.pyfunc.load_model("models:/rossmann-ensemble@production")
    assert list(model.predict(pd.DataFrame({"Store": [1, 2]}))) == [1.0, 1.0]
    assert model.metadata.run_id == factory.run_id
    with pytest.raises(NothingInStage, match="No version of rossmann-ensemble is in Staging"):
        registry.resolve("staging")
    with pytest.raises(RegistryError, match="Unknown stage 'Archived'"):
        registry.model_uri("Archived")


# ------------------------------------------------------------------------------------ repair
def test_tags_that_contradict_aliases_are_repaired_from_aliases(registry, factory, client):
    v1 = validated(registry, factory)
    registry.promote(reason="first")
    client.set_model_version_tag(registry.model_name, str(v1), "lifecycle.stage", "Staging")

    assert any(f"version {v1} is tagged" in p for p in registry.check_invariants())
    # Reads show the stage the aliases decide and write nothing.
    assert {r.version: r.stage for r in registry.status()} == {v1: "Production"}
    assert client.get_model_version(registry.model_name, str(v1)).tags["lifecycle.stage"] == (
        "Staging"
    )
    assert registry.history()[-1].operation == "promote"

    registry.repair(user="ops")  # repair is explicit (or the next locked command's recovery)

    assert_consistent(registry, client)
    assert registry.history()[-1].operation == "repair"


@sqlite_only
def test_a_repair_and_the_command_that_made_it_get_consecutive_numbers(registry, factory, client):
    """The journal is read once per lock; every operation written under it still gets the
    next number, and a refused one takes none."""
    v1 = validated(registry, factory)
    registry.promote(reason="first")
    v2 = validated(registry, factory)
    client.set_model_version_tag(registry.model_name, str(v1), "lifecycle.stage", "Staging")

    registry.promote(reason="second")  # its recovery repairs v1's tag first
    with pytest.raises(PromotionRefused, match="already in Production"):
        registry.promote(reason="again", version=v2)
    v3 = validated(registry, factory)

    operations = sorted({(t.seq, t.operation) for t in registry.history()})
    assert operations == [
        (1, "validate"),
        (2, "promote"),
        (3, "validate"),
        (4, "repair"),
        (5, "promote"),
        (6, "validate"),
    ]
    assert registry.version_for_stage("staging") == v3
    assert_consistent(registry, client)


# ------------------------------------------------------------------------------------ lock
@sqlite_only
def test_lock_held_by_a_live_process_times_out_with_its_owner(client, model_name, factory):
    client.create_registered_model(
        f"{model_name}.lock",
        tags={
            "lock.token": "t1",
            "lock.owner": "dave",
            "lock.operation": "promote",
            "lock.host": "another-host",
            "lock.pid": "123",
            "lock.acquired_at": "2026-01-01T00:00:00+00:00",
            "lock.expires_at": repr(time.time() + 600),
        },
    )
    registry = ModelRegistry(model_name, client, lock_wait_seconds=0.5)
    factory.register()
    with pytest.raises(LockTimeout, match="locked by dave \\(promote, pid 123 on another-host"):
        registry.promote(version=1, reason="blocked")


@sqlite_only
def test_expired_or_dead_lock_is_broken(client, model_name, factory):
    registry = ModelRegistry(model_name, client, lock_wait_seconds=5)
    version = validated(registry, factory)
    client.create_registered_model(
        f"{model_name}.lock",
        tags={
            "lock.token": "t2",
            "lock.owner": "eve",
            "lock.host": socket.gethostname(),
            "lock.pid": "999999999",  # no such process
            "lock.expires_at": repr(time.time() + 600),
        },
    )
    assert registry.promote(reason="lock holder died").version == version

    client.create_registered_model(
        f"{model_name}.lock",
        tags={"lock.token": "t3", "lock.host": "elsewhere", "lock.expires_at": "0"},
    )
    second = validated(registry, factory)
    assert registry.promote(reason="lock expired").version == second


@sqlite_only
def test_markers_of_broken_locks_are_cleaned_by_the_next_locked_command(
    client, model_name, factory
):
    """Issue 10: markers of broken locks piled up in the model list after crashes."""
    registry = ModelRegistry(model_name, client, lock_wait_seconds=5)
    version = validated(registry, factory)
    # Markers that earlier crashes left (the older naming too), and a dead holder's lock.
    for marker in ("lock.broken.t1", "lock.broken.t2", "lock.internal.broken.t3"):
        client.create_registered_model(f"{model_name}.{marker}")
    client.create_registered_model(
        f"{model_name}.lock",
        tags={
            "lock.token": "t4",
            "lock.host": socket.gethostname(),
            "lock.pid": "999999999",  # no such process
            "lock.expires_at": repr(time.time() + 600),
        },
    )

    assert registry.promote(reason="after the crashes").version == version

    names = {m.name for m in client.search_registered_models(f"name LIKE '{model_name}%'")}
    assert names == {model_name}


# ------------------------------------------------------------------------------------ parallel
def test_parallel_promotions_end_consistent_with_ordered_history(
    registry, factory, client, tmp_path
):
    versions = [validated(registry, factory) for _ in range(4)]

    workers = [
        start_worker(
            factory.tracking_uri,
            registry.model_name,
            "promote",
            "--version",
            str(v),
            "--reason",
            f"race {v}",
            "--user",
            f"user{v}",
            barrier=tmp_path,
            name=f"w{v}",
        )
        for v in versions
    ]
    release_barrier(tmp_path, len(workers))
    outcomes = [finish(w) for w in workers]

    assert [code for code, _, _ in outcomes] == [0, 0, 0, 0], outcomes
    history = registry.history()
    promotions = [t for t in history if t.to_stage == "Production"]
    assert sorted(t.version for t in promotions) == versions
    assert sorted(t.user for t in promotions) == [f"user{v}" for v in versions]
    seqs = [t.seq for t in promotions]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    # Each promotion archived exactly the version the previous one had put in Production.
    archived = [t for t in history if t.to_stage == "Archived"]
    assert [t.version for t in archived] == [t.version for t in promotions[:-1]]
    assert [t.seq for t in archived] == seqs[1:]
    assert registry.version_for_stage("production") == promotions[-1].version
    assert_consistent(registry, client)


def test_parallel_staging_promotions_have_one_winner_and_clear_losers(
    registry, factory, client, tmp_path
):
    staged = validated(registry, factory)

    workers = [
        start_worker(
            factory.tracking_uri,
            registry.model_name,
            "promote",
            "--reason",
            f"race {i}",
            "--user",
            f"user{i}",
            barrier=tmp_path,
            name=f"w{i}",
        )
        for i in range(4)
    ]
    release_barrier(tmp_path, len(workers))
    results = [(code, worker_result(out)) for code, out, _ in (finish(w) for w in workers)]

    assert sorted(code for code, _ in results) == [0, 1, 1, 1], results
    winner = next(result for code, result in results if code == 0)
    assert winner["version"] == staged
    for code, result in results:
        if code == 1:  # refused with the reason, after re-checking under the lock
            assert result["error"] == "NothingInStage"
            assert f"version {staged} left Staging for Production" in result["message"]
    assert [t.to_stage for t in registry.history()] == ["Staging", "Production"]
    assert_consistent(registry, client)


# ------------------------------------------------------------------------------------ SIGKILL
def test_promotion_killed_at_any_step_is_seen_one_way_then_completed_or_aborted(
    backend, artifact_root
):
    """One model per fault-injection step; all the doomed promotions run at once."""
    cases = {}
    for step in CRASH_POINTS:
        name = f"rossmann-crash-{uuid.uuid4().hex[:8]}"
        factory = VersionFactory(backend, name, artifact_root)
        registry = ModelRegistry(name, MlflowClient(backend, backend), lock_wait_seconds=20)
        old = validated(registry, factory)
        registry.promote(reason="first")
        new = validated(registry, factory)
        cases[step] = (registry, old, new)
    workers = {
        step: start_worker(
            backend,
            registry.model_name,
            "promote",
            "--reason",
            "killed midway",
            "--user",
            "victim",
            crash_at=step,
        )
        for step, (registry, _, _) in cases.items()
    }

    for step, worker in workers.items():
        code, _, stderr = finish(worker)
        registry, old, new = cases[step]
        assert code == -signal.SIGKILL, (step, stderr)
        # Issue 20 case 3: the production alias is the commit point. What MLflow serves
        # (models:/<name>@production), what the project resolves and what status shows agree.
        committed = step not in ("after_lock", "after_intent")
        serving = int(
            registry.client.get_model_version_by_alias(registry.model_name, "production").version
        )
        assert serving == (new if committed else old), step
        assert registry.version_for_stage("production") == serving, step

        open_lines = registry.open_operations()
        rows = registry.status()  # reads show what MLflow serves, writing nothing

        stages = {r.version: r.stage for r in rows}
        if committed:
            assert stages == {old: "Archived", new: "Production"}, step
            history = registry.history()
            last = {(t.version, t.to_stage, t.user) for t in history if t.seq == history[-1].seq}
            assert last == {(new, "Production", "victim"), (old, "Archived", "victim")}, step
        else:  # killed before the alias moved: nothing of it shows anywhere
            assert stages == {old: "Production", new: "Staging"}, step
        # An entry left open is said, with the version that serves, until a writer settles it.
        assert bool(open_lines) == (step not in ("after_lock", "after_complete")), step
        for line in open_lines:
            assert f"version {serving} serves Production" in line, (step, line)
            fate = "past its commit point" if committed else "before its commit point"
            assert fate in line, (step, line)
        assert registry.open_operations() == open_lines
        # The next locked command completes or aborts it; the dead holder's lock does not block.
        target = old if stages[old] != "Production" else new
        assert registry.promote(version=target, reason="after the crash").version == target
        assert_consistent(registry, registry.client)
        assert registry.open_operations() == []
        moves = [(t.version, t.to_stage, t.state) for t in registry.history()]
        if committed:
            assert moves[-4:-2] == [(new, "Production", "complete"), (old, "Archived", "complete")]
        elif step == "after_intent":
            assert moves[-4:-2] == [(new, "Production", "aborted"), (old, "Archived", "aborted")]
