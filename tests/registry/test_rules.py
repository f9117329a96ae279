"""The lifecycle rules on hand-built snapshots: no registry, no MLflow calls."""

from __future__ import annotations

import pytest

from rossmann_forecast.registry import (
    NothingInStage,
    PromotionRefused,
    RegistryError,
    VersionNotFound,
)
from rossmann_forecast.registry.rules import (
    check_reason,
    initial_version_tags,
    plan_abandon,
    plan_promotion,
    plan_repair,
    plan_retention,
    plan_validation,
    version_to_judge,
)
from rossmann_forecast.registry.stages import verdict_status
from rossmann_forecast.registry.state import (
    RegistrySnapshot,
    Transition,
    VersionRecord,
    holdout_rmspe,
    tag_problems,
)

AT = "2026-12-01T00:00:00+00:00"


def snapshot(
    aliases: dict[str, int] | None = None, history=(), **versions: dict
) -> RegistrySnapshot:
    """``v1={"stage": "Production", "status": "passed", ...extra tags}`` -> a snapshot."""
    records = {}
    for name, spec in versions.items():
        number = int(name.removeprefix("v"))
        extra = dict(spec)
        tags = {
            "lifecycle.stage": extra.pop("stage", "None"),
            "validation.status": extra.pop("status", "pending"),
            **extra,
        }
        records[number] = VersionRecord(version=number, tags=tags)
    return RegistrySnapshot("rossmann-test", records, dict(aliases or {}), tuple(history))


def lifecycle() -> RegistrySnapshot:
    """v1 Archived, v2 Production, v3 Staging, v4 rejected, v5 pending."""
    return snapshot(
        {"production": 2, "staging": 3},
        v1={"stage": "Archived", "status": "passed", "lifecycle.stage_seq": "4"},
        v2={"stage": "Production", "status": "passed", "lifecycle.promoted_by": "ann",
            "lifecycle.promoted_at": AT},
        v3={"stage": "Staging", "status": "passed", "validation.holdout_rmspe": "0.09"},
        v4={"status": "rejected", "validation.reason": "holdout RMSPE 0.3 >= 0.1"},
        v5={},
    )  # fmt: skip


# ------------------------------------------------------------------------------ promotion
def test_promoting_staging_archives_production_and_empties_staging():
    decision = plan_promotion(lifecycle(), version=None, reason="review ok", user="bob", at=AT)

    assert (decision.version, decision.from_stage, decision.previous) == (3, "Staging", 2)
    plan = decision.plan
    assert plan.operation == "promote"
    assert plan.aliases == {"production": 3, "staging": None}
    assert [(m["version"], m["from"], m["to"]) for m in plan.moves] == [
        (3, "Staging", "Production"),
        (2, "Production", "Archived"),
    ]
    assert plan.moves[0]["metrics"] == {"holdout_rmspe": 0.09}
    assert plan.set_tags["3"]["lifecycle.stage"] == "Production"
    assert plan.set_tags["3"]["lifecycle.promoted_by"] == "bob"
    assert plan.set_tags["2"] == {"lifecycle.stage": "Archived"}


def test_promoting_an_archived_version_is_a_rollback_that_keeps_staging():
    decision = plan_promotion(lifecycle(), version=1, reason="v2 bad", user="carol", at=AT)

    assert decision.plan.operation == "rollback"
    assert decision.plan.aliases == {"production": 1}


@pytest.mark.parametrize(
    ("version", "error", "message"),
    [
        (5, PromotionRefused, r"Version 5 has not passed .*validation.status=pending"),
        (4, PromotionRefused, r"Version 4 was rejected .*holdout RMSPE 0.3"),
        (2, PromotionRefused, r"Version 2 is already in Production \(promoted by ann"),
        (9, VersionNotFound, r"no version 9 \(existing versions: 1, 2, 3, 4, 5\)"),
    ],
)
def test_promotion_refusals_name_the_problem(version, error, message):
    with pytest.raises(error, match=message):
        plan_promotion(lifecycle(), version=version, reason="x", user="u", at=AT)


def test_nothing_in_staging_names_the_last_move_out_of_it():
    left = Transition(
        7, "promote", 3, "Staging", "Production", "alice", AT, "ok", {}, "", "complete", "r"
    )
    state = snapshot(
        {"production": 3}, history=[left], v3={"stage": "Production", "status": "passed"}
    )

    with pytest.raises(
        NothingInStage, match="version 3 left Staging for Production in #7 by alice"
    ):
        plan_promotion(state, version=None, reason="again", user="bob", at=AT)


def test_a_reason_is_required():
    with pytest.raises(PromotionRefused, match="reason is required"):
        check_reason("  ")
    assert check_reason(" ok ") == "ok"


# ------------------------------------------------------------------------------ gate
def test_a_pass_supersedes_the_staging_version():
    decision = plan_validation(
        lifecycle(), 5, passed=True, metrics={"holdout_rmspe": 0.08}, threshold=0.1,
        reason="holdout RMSPE 0.08 < 0.10", run_id="run", user="gate", at=AT,
    )  # fmt: skip

    assert (decision.from_stage, decision.to_stage, decision.previous) == ("None", "Staging", 3)
    plan = decision.plan
    assert plan.aliases == {"staging": 5}
    assert plan.set_tags["3"] == {"lifecycle.stage": "None", "lifecycle.superseded_by": "5"}
    assert plan.set_tags["5"]["validation.holdout_rmspe"] == "0.08"
    assert plan.set_tags["5"]["validation.status"] == "passed"
    assert plan.set_tags["5"]["validation.run_id"] == "run"


def test_a_failed_verdict_on_the_staging_version_empties_staging():
    decision = plan_validation(
        lifecycle(), 3, passed=False, metrics={"holdout_rmspe": 0.3}, threshold=0.1,
        reason="worse", run_id=None, user="gate", at=AT,
    )  # fmt: skip

    assert decision.plan.aliases == {"staging": None}
    assert decision.plan.set_tags["3"]["validation.status"] == "rejected"
    assert decision.to_stage == "None"


def test_the_gate_does_not_judge_promoted_versions():
    with pytest.raises(RegistryError, match="Version 2 is Production: it already passed"):
        plan_validation(
            lifecycle(), 2, passed=True, metrics={}, threshold=0.1, reason="r", run_id=None,
            user="gate", at=AT,
        )  # fmt: skip


# ------------------------------------------------------------------------------ abandon
def test_abandon_marks_only_a_version_still_waiting_for_the_gate():
    plan = plan_abandon(lifecycle(), 5, "the run failed", "ci")

    assert plan is not None and plan.operation == "abandon"
    assert plan.set_tags["5"] == {
        "validation.status": "abandoned",
        "validation.reason": "the run failed",
    }
    assert plan.aliases == {}
    # A verdict recorded first (e.g. by a concurrent gate) is never overwritten.
    assert plan_abandon(lifecycle(), 3, "the run failed", "ci") is None


# ------------------------------------------------------------------------------ retention
def test_retention_deletes_the_oldest_archived_by_archive_order():
    state = snapshot(
        {"production": 4},
        v1={"stage": "Archived", "status": "passed", "lifecycle.stage_seq": "9"},
        v2={"stage": "Archived", "status": "passed", "lifecycle.stage_seq": "3"},
        v3={"stage": "Archived", "status": "passed", "lifecycle.stage_seq": "6"},
        v4={"stage": "Production", "status": "passed"},
        v5={"status": "rejected"},
    )

    report, plan = plan_retention(state, keep=1, user="ops")

    assert (report.kept_archived, report.deleted, report.untouched) == ([1], [2, 3], [5])
    assert plan is not None and plan.delete_versions == [2, 3]
    assert [m["to"] for m in plan.moves] == ["Deleted", "Deleted"]
    assert plan_retention(state, keep=3, user="ops")[1] is None
    with pytest.raises(RegistryError, match="keep must be 0 or more, got -1"):
        plan_retention(state, keep=-1, user="ops")


# ------------------------------------------------------------------------------ state, repair
def test_tags_are_repaired_from_the_aliases():
    state = snapshot(
        {"production": 1, "staging": 1},
        v1={"stage": "Staging", "status": "passed"},
        v2={"stage": "Production", "status": "passed"},
    )
    assert tag_problems(state) == [
        "version 1 holds both @production and @staging",
        "version 1 is tagged lifecycle.stage=Staging but the aliases make it Production",
        "version 2 is tagged lifecycle.stage=Production but the aliases make it Archived",
    ]

    plan = plan_repair(state, "ops")

    assert plan is not None and plan.aliases == {"staging": None}
    assert plan.set_tags == {
        "1": {"lifecycle.stage": "Production"},
        "2": {"lifecycle.stage": "Archived"},
    }
    assert tag_problems(plan.applied_to(state)) == []
    assert plan_repair(plan.applied_to(state), "ops") is None


def test_an_alias_on_a_missing_version_is_dropped():
    state = snapshot({"production": 7}, v1={"stage": "None", "status": "passed"})
    plan = plan_repair(state, "ops")
    assert plan is not None and plan.aliases == {"production": None}


def test_a_journaled_plan_projects_onto_the_snapshot():
    state = lifecycle()
    plan = plan_promotion(state, version=None, reason="ok", user="bob", at=AT).plan

    after = plan.applied_to(state)

    assert {v: after.stage(v) for v in after.versions} == {
        1: "Archived", 2: "Archived", 3: "Production", 4: "None", 5: "None",
    }  # fmt: skip
    assert state.stage(3) == "Staging"  # the snapshot itself is unchanged


def test_the_gate_metric_has_one_name_and_old_versions_still_read():
    assert holdout_rmspe({"validation.holdout_rmspe": "0.09"}) == pytest.approx(0.09)
    assert holdout_rmspe({"validation.rmspe": "0.11"}) == pytest.approx(0.11)
    assert holdout_rmspe({}) is None


# ------------------------------------------------------------------ which version the gate judges
def _nothing_waits() -> list[int]:
    raise AssertionError("the waiting versions are read only when nothing else decides")


def test_the_gate_judges_the_requested_version_first():
    chosen = version_to_judge("m", requested=3, registered_by_this_run=7, waiting=_nothing_waits)
    assert chosen == 3


def test_a_requested_version_whose_registration_failed_is_refused_with_the_reason():
    with pytest.raises(RegistryError, match=r"does not judge 'm': version 3's training run"):
        version_to_judge(
            "m", requested=3, requested_problem="version 3's training run is FAILED",
            registered_by_this_run=None, waiting=_nothing_waits,
        )  # fmt: skip


def test_the_gate_judges_the_version_this_run_registered_before_older_pending_ones():
    chosen = version_to_judge("m", requested=None, registered_by_this_run=4, waiting=_nothing_waits)
    assert chosen == 4


def test_alone_the_gate_judges_the_newest_pending_version():
    chosen = version_to_judge(
        "m", requested=None, registered_by_this_run=None, waiting=lambda: [2, 5, 3]
    )
    assert chosen == 5


def test_with_nothing_pending_the_gate_says_how_to_get_a_version():
    with pytest.raises(RegistryError, match=r"No version of 'm' waits.*--pipelines training"):
        version_to_judge("m", requested=None, registered_by_this_run=None, waiting=list)


def test_a_new_version_starts_in_no_stage_waiting_for_the_gate():
    assert initial_version_tags() == {"lifecycle.stage": "None", "validation.status": "pending"}


def test_the_verdict_tag_and_the_verdict_file_share_one_vocabulary():
    assert (verdict_status(True), verdict_status(False)) == ("passed", "rejected")
    decision = plan_validation(
        lifecycle(), 5, passed=True, metrics={}, threshold=0.1, reason="ok", run_id=None,
        user="u", at=AT,
    )  # fmt: skip
    assert decision.plan.set_tags["5"]["validation.status"] == verdict_status(True)
