"""Review nodes called directly on small frames: metrics, checklist, plots."""

from __future__ import annotations

import matplotlib.colors
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from rossmann_forecast.pipelines.review.nodes import (
    COLOURS,
    compute_review_metrics,
    compute_review_segments,
    evaluate_checklist,
    plot_review,
    render_review_report,
    resolve_review_versions,
    review_metrics_for_mlflow,
    score_review_versions,
)
from rossmann_forecast.registry.version import RegisteredVersion

PARAMS = {
    "recent_days": 2,
    "plot_stores": 2,
    "bootstrap": {"confidence": 0.95, "resamples": 500, "min_stores": 20, "seed": 0},
    "stores": {"min_days": 2, "rows": 3},
    "checklist": {
        "max_rmspe_increase": 0.0,
        "max_group_rmspe": 0.15,
        "max_abs_bias": 0.02,
        "max_abs_group_bias": 0.05,
        "max_recent_rmspe": 0.12,
        "min_interval_coverage": 0.70,
        "max_interval_coverage": 0.90,
        "max_store_rmspe_increase": 0.05,
    },
}
STORES = pd.DataFrame({"Store": [1, 2], "StoreType": ["a", "b"], "Assortment": ["a", "c"]})


# Both versions forecast from 2015-06-27: the 4 review days are days 4..7 ahead, so
# 2015-07-01..03 are week 1 of horizon and 2015-07-04 is week 2.
ORIGIN = "2015-06-27"


def _predictions(staging_factor: float, production_factor: float | None) -> pd.DataFrame:
    dates = pd.date_range("2015-07-01", periods=4)
    base = pd.DataFrame(
        [(s, d, 1, 1000.0 * s) for s in (1, 2) for d in dates],
        columns=["Store", "Date", "Open", "Sales"],
    ).assign(scored_origin=ORIGIN)
    frames = [base.assign(role="staging", version=2, prediction=base["Sales"] * staging_factor)]
    if production_factor is not None:
        frames.append(
            base.assign(role="production", version=1, prediction=base["Sales"] * production_factor)
        )
    return pd.concat(frames, ignore_index=True)


def _banded(predictions: pd.DataFrame, role: str, missed: pd.Series) -> pd.DataFrame:
    """``role``'s rows with quantiles: P10/P50/P90 at 0.9/1.0/1.1 x its forecast, except on the
    ``missed`` rows, where the band (1.05/1.1/1.2 x the actual) lies above the actual sales."""
    chosen = predictions["role"] == role
    framed = predictions.copy()
    for column, around, above in (("Sales_p10", 0.9, 1.05), ("Sales_p50", 1.0, 1.1),
                                  ("Sales_p90", 1.1, 1.2)):  # fmt: skip
        framed.loc[chosen, column] = framed["prediction"] * around
        framed.loc[chosen & missed, column] = framed["Sales"] * above
    return framed


def _missing(predictions: pd.DataFrame, count: int) -> pd.Series:
    """The first ``count`` store-days of each role (store 1 first, then store 2)."""
    return predictions.groupby("role").cumcount() < count


NO_LIVE = {"staging": {"live": None, "live_text": None}}


def _statuses(staging_factor, production_factor, versions=NO_LIVE, missed=1):
    predictions = _predictions(staging_factor, production_factor)
    banded = _banded(predictions, "staging", _missing(predictions, missed))
    metrics = compute_review_metrics(banded, STORES, PARAMS)
    return {i["item"]: i["status"] for i in evaluate_checklist(metrics, PARAMS, versions)}, metrics


def _calibration(missed: int | None) -> dict[str, str]:
    """The "Calibrated ranges" item of a Staging version missing ``missed`` of its 8 store-days
    (None: a version without quantiles)."""
    predictions = _predictions(1.0, 1.05)
    if missed is not None:
        predictions = _banded(predictions, "staging", _missing(predictions, missed))
    metrics = compute_review_metrics(predictions, STORES, PARAMS)
    (item,) = [
        i for i in evaluate_checklist(metrics, PARAMS, NO_LIVE) if i["item"] == "Calibrated ranges"
    ]
    return item


def _live(rmspe: float, champion_rmspe: float) -> dict:
    tags = {
        "monitoring.shadow.vs_version": "1", "monitoring.shadow.rmspe": str(rmspe),
        "monitoring.shadow.champion_rmspe": str(champion_rmspe),
        "monitoring.shadow.store_days": "4212", "monitoring.shadow.since": "2015-08-03",
    }  # fmt: skip
    staging = _registered(2, "2015-08-01", [])
    staging.tags.update(tags)
    production = _registered(1, "2015-06-01", [])
    return resolve_review_versions(staging, production, {"model_name": "rossmann-ensemble"})


def test_live_weeks_in_the_shadow_decide_good_on_recent_data_when_there_are_some():
    metrics = compute_review_metrics(_predictions(1.2, 1.05), STORES, PARAMS)  # bad holdout tail

    better = evaluate_checklist(metrics, PARAMS, _live(0.091, 0.104))
    worse = evaluate_checklist(metrics, PARAMS, _live(0.110, 0.104))

    (item,) = [i for i in better if i["item"] == "Good on recent data"]
    assert item["status"] == "pass"
    assert item["detail"].startswith(
        "live since 2015-08-03, 4,212 store-days: version 2 0.0910 vs version 1 0.1040"
    )
    assert [i["status"] for i in worse if i["item"] == "Good on recent data"] == ["fail"]


def test_without_live_weeks_the_recent_item_says_so():
    metrics = compute_review_metrics(_predictions(1.01, 1.05), STORES, PARAMS)

    (item,) = [i for i in evaluate_checklist(metrics, PARAMS, NO_LIVE) if "recent" in i["item"]]

    assert "no live comparison yet" in item["detail"]


def test_a_good_candidate_passes_every_item():
    statuses, metrics = _statuses(1.01, 1.05)  # its P10-P90 holds 7 of 8 store-days

    assert set(statuses.values()) == {"pass"}
    assert metrics["staging"]["overall"]["rmspe"] == pytest.approx(0.01)
    assert metrics["staging"]["overall"]["bias"] == pytest.approx(0.01)
    assert set(metrics["staging"]["store_type"]) == {"a", "b"}
    assert metrics["window"]["recent_start"] == "2015-07-03"


def test_a_worse_and_biased_candidate_fails():
    statuses, _ = _statuses(1.2, 1.05)

    assert statuses["Staging better than Production"] == "fail"
    assert statuses["No systematic over- or under-prediction"] == "fail"
    assert statuses["Good on recent data"] == "fail"
    assert statuses["Reasonable across store types"] == "fail"


def test_the_comparison_with_production_says_how_sure_it_is_over_the_stores_resampled():
    # 40 stores: Staging 6% off on alternate days where Production is 5% off, on every store.
    dates = pd.date_range("2015-07-01", periods=4)
    base = pd.DataFrame([(s, d, 1, 1000.0 + s) for s in range(1, 41) for d in dates],
                        columns=["Store", "Date", "Open", "Sales"]).assign(scored_origin=ORIGIN)  # fmt: skip
    alternate = np.where(np.arange(len(base)) % 2 == 0, 1.0, -1.0)
    predictions = pd.concat(
        [base.assign(role="staging", version=2, prediction=base["Sales"] * (1 + 0.06 * alternate)),
         base.assign(role="production", version=1,
                     prediction=base["Sales"] * (1 + 0.05 * alternate))], ignore_index=True
    )  # fmt: skip
    stores = pd.DataFrame({"Store": range(1, 41), "StoreType": "a", "Assortment": "a"})

    metrics = compute_review_metrics(predictions, stores, PARAMS)
    (item,) = [i for i in evaluate_checklist(metrics, PARAMS, NO_LIVE)
               if i["item"] == "Staging better than Production"]  # fmt: skip

    assert metrics["comparison"]["ratio"] == pytest.approx(1.2)
    assert metrics["comparison"]["stores"] == 40
    assert item["status"] == "fail"
    assert "; Staging / Production +20.0%, 90% sure" in item["detail"]
    assert item["detail"].endswith("over 40 stores resampled")
    logged = review_metrics_for_mlflow(metrics)
    assert logged["staging_vs_production_ratio"]["value"] == pytest.approx(1.2)
    # Two stores are too few to resample: the figures alone, as before.
    _, few = _statuses(1.01, 1.05)
    assert few["comparison"] is None


def _one_store_broken(stores: int, broken: dict[int, float]) -> pd.DataFrame:
    """Staging and Production 5% off on alternate days on every store, except that Staging
    is ``broken[s]`` off on every day of store ``s``."""
    dates = pd.date_range("2015-07-01", periods=4)
    base = pd.DataFrame([(s, d, 1, 1000.0 + s) for s in range(1, stores + 1) for d in dates],
                        columns=["Store", "Date", "Open", "Sales"]).assign(scored_origin=ORIGIN)  # fmt: skip
    alternate = np.where(np.arange(len(base)) % 2 == 0, 1.0, -1.0)
    production = base["Sales"] * (1 + 0.05 * alternate)
    off = base["Store"].map(broken)
    staging = production.where(off.isna(), base["Sales"] * (1 + off))
    return pd.concat(
        [base.assign(role="staging", version=2, prediction=staging),
         base.assign(role="production", version=1, prediction=production)], ignore_index=True
    )  # fmt: skip


def _store_item(predictions: pd.DataFrame) -> tuple[dict[str, str], dict]:
    stores = pd.DataFrame({"Store": predictions["Store"].unique(), "StoreType": "a",
                           "Assortment": "a"})  # fmt: skip
    metrics = compute_review_metrics(predictions, stores, PARAMS)
    (item,) = [i for i in evaluate_checklist(metrics, PARAMS, NO_LIVE)
               if i["item"] == "No store much worse than Production"]  # fmt: skip
    return item, metrics


def test_a_candidate_much_worse_on_one_store_fails_the_store_item_and_names_it():
    """Worse by 25 points on store 7 of 40 only: with the stores resampled it is not shown
    worse by the gate's 2% (a draw without store 7 scores the two alike), the store item
    names it."""
    item, metrics = _store_item(_one_store_broken(40, {7: 0.30}))

    assert metrics["comparison"]["low"] <= 1.02  # the gate's comparison lets it through
    assert item["status"] == "fail"
    assert item["detail"] == (
        "worst store 7: RMSPE 0.3000 vs 0.0500 (+0.2500 over 4 days); allowed up to +0.05; "
        "1 of 40 stores above it"
    )
    worst = metrics["stores"]["worst"]
    assert [row["Store"] for row in worst][:1] == [7] and len(worst) == 3
    assert worst[1]["increase"] == pytest.approx(0.0)


def test_the_store_item_passes_within_the_limit_and_counts_what_it_shows():
    within, _ = _store_item(_one_store_broken(40, {7: 0.09}))  # +0.04 on store 7
    many, _ = _store_item(_one_store_broken(40, {s: 0.30 for s in range(1, 6)}))

    assert within["status"] == "pass"
    assert within["detail"].startswith("worst store 7: RMSPE 0.0900 vs 0.0500 (+0.0400")
    assert many["status"] == "fail"
    assert many["detail"].endswith("at least 3 of 40 stores above it")  # 3 rows shown


def test_a_store_forecast_with_holes_fails_the_store_item():
    predictions = _one_store_broken(40, {})
    predictions.loc[(predictions["role"] == "staging") & (predictions["Store"] == 3),
                    "prediction"] = np.nan  # fmt: skip

    item, _ = _store_item(predictions)

    assert item["status"] == "fail"
    assert item["detail"].startswith("worst store 3: RMSPE - vs 0.0500 (not finite over 4 days)")


def test_without_production_or_enough_days_the_store_item_is_skipped():
    statuses, metrics = _statuses(1.01, None)
    assert statuses["No store much worse than Production"] == "skipped"
    assert "stores" not in metrics

    short = _predictions(1.01, 1.05)
    metrics = compute_review_metrics(
        short, STORES, {**PARAMS, "stores": {"min_days": 5, "rows": 3}}
    )
    (item,) = [i for i in evaluate_checklist(metrics, PARAMS, NO_LIVE)
               if i["item"] == "No store much worse than Production"]  # fmt: skip
    assert item["status"] == "skipped"
    assert item["detail"].startswith("no store has 5 days with sales in the holdout")


def test_the_report_lists_the_stores_where_staging_lost_most():
    item, metrics = _store_item(_one_store_broken(40, {7: 0.30}))
    versions = resolve_review_versions(
        _registered(2, "2015-06-27", []), _registered(1, "2015-06-01", []),
        {"model_name": "rossmann-ensemble"},
    )  # fmt: skip

    report = render_review_report(versions, metrics, [item], {})

    assert "## Stores where Staging lost most" in report["markdown"]
    assert "| 7 | 4 | 0.3000 | 0.0500 | +0.2500 |" in report["markdown"]
    assert "the 3 of 40 stores (with at least 2 days with sales)" in report["markdown"]


def test_the_report_names_the_stores_that_carry_each_versions_holdout_error():
    """Staging 30% off on store 7 of 40, 5% on the rest: store 7 carries 4 x 0.09 of the
    summed squared error 4 x 0.09 + 156 x 0.0025 (48%); without it Staging scores 0.05."""
    predictions = _one_store_broken(40, {7: 0.30})
    _, metrics = _store_item(predictions)
    versions = resolve_review_versions(
        _registered(2, "2015-06-27", []), _registered(1, "2015-06-01", []),
        {"model_name": "rossmann-ensemble"},
    )  # fmt: skip

    staging = metrics["staging"]["concentration"]
    assert staging["top"][0]["store"] == 7 and staging["top"][0]["bias"] == pytest.approx(0.30)
    assert staging["top"][0]["share"] == pytest.approx(0.36 / 0.75)
    assert staging["without_worst"]["rmspe"] == pytest.approx(0.05)
    assert metrics["production"]["concentration"]["top"][0]["share"] == pytest.approx(1 / 40)
    markdown = render_review_report(versions, metrics, [], {})["markdown"]
    assert "## Stores that carry the holdout's error" in markdown
    assert f"| staging v2 | {np.sqrt(0.75 / 160):.4f} | 7: 48.0% (+30.0%), " in markdown
    # One store alone has no other store to carry anything: no such section.
    _, alone = _store_item(predictions[predictions["Store"] == 7])
    assert alone["staging"]["concentration"] is None
    assert (
        "carry the holdout's error" not in render_review_report(versions, alone, [], {})["markdown"]
    )


def test_without_production_the_comparison_is_skipped():
    statuses, metrics = _statuses(1.01, None)

    assert statuses["Staging better than Production"] == "skipped"
    assert "production" not in metrics


def test_the_calibration_passes_when_the_interval_holds_what_it_should():
    item = _calibration(missed=2)  # store 1's first two days (week 1) missed: 6 of 8 inside

    assert item["status"] == "pass"
    assert item["detail"] == (
        "P10-P90 covers 75.0% of the holdout's store-days with sales (allowed 70%..90%: "
        "calibrated); by week of horizon 1: 67%, 2: 100%; mean relative width 0.18"
    )


def test_an_under_covering_interval_fails_the_calibration_with_its_figure():
    item = _calibration(missed=4)  # store 1's four days all missed: 4 of 8 inside

    assert item["status"] == "fail"
    assert "P10-P90 covers 50.0% of the holdout's store-days" in item["detail"]
    assert "allowed 70%..90%: too narrow" in item["detail"]


def test_an_interval_covering_everything_fails_the_calibration_as_too_wide():
    item = _calibration(missed=0)

    assert item["status"] == "fail"
    assert "covers 100.0%" in item["detail"] and "too wide" in item["detail"]


def test_a_version_without_quantiles_skips_the_calibration_and_says_why():
    item = _calibration(missed=None)

    assert item["status"] == "skipped"
    assert item["detail"].startswith(
        "version 2 has no forecast quantiles (trained before them): no range to check"
    )


def test_review_metrics_score_each_versions_interval_where_it_has_one():
    predictions = _predictions(1.0, 1.05)
    on_the_4th = predictions["Date"] == "2015-07-04"  # week 2 of horizon: both stores missed
    banded = _banded(predictions, "staging", on_the_4th)

    metrics = compute_review_metrics(banded, STORES, PARAMS)

    intervals = metrics["staging"]["intervals"]
    assert intervals["levels"] == [0.1, 0.5, 0.9]
    assert intervals["interval"] == "P10-P90"
    assert intervals["origin"] == ORIGIN
    scores = intervals["scores"]
    assert scores["interval_coverage"] == pytest.approx(6 / 8)
    assert scores["interval_coverage_week1"] == pytest.approx(1.0)
    assert scores["interval_coverage_week2"] == pytest.approx(0.0)
    # Width (P90 - P10) / P50: 0.2 on the six covered rows, 0.15 / 1.1 on the two missed.
    assert scores["interval_width"] == pytest.approx((6 * 0.2 + 2 * 0.15 / 1.1) / 8)
    # wQL per level, 2 x pinball / sum of sales (12,000; 3,000 of it on the missed day):
    # P10 2 x (0.01 x 9,000 + 0.045 x 3,000), P50 2 x 0.05 x 3,000, P90 2 x (90 + 0.02 x 3,000).
    assert scores["quantile_loss"] == pytest.approx((450 + 300 + 300) / 12_000 / 3)
    assert metrics["production"]["intervals"] is None  # trained before quantiles


def test_without_an_origin_the_coverage_is_overall_only():
    predictions = _predictions(1.0, None).drop(columns="scored_origin")
    banded = _banded(predictions, "staging", _missing(predictions, 2))

    intervals = compute_review_metrics(banded, STORES, PARAMS)["staging"]["intervals"]

    assert intervals["origin"] is None
    assert sorted(intervals["scores"]) == ["interval_coverage", "interval_width", "quantile_loss"]


def test_the_report_and_mlflow_metrics_show_the_forecast_ranges():
    predictions = _predictions(1.0, 1.05)
    banded = _banded(predictions, "staging", predictions["Date"] == "2015-07-04")
    metrics = compute_review_metrics(banded, STORES, PARAMS)

    report = render_review_report(
        {"model_name": "m", "staging": {"version": 2, "validation_run_id": None},
         "production": {"version": 1}},
        metrics, evaluate_checklist(metrics, PARAMS, NO_LIVE), {},
    )  # fmt: skip
    logged = review_metrics_for_mlflow(metrics)

    markdown = report["markdown"]
    assert "## Forecast ranges" in markdown
    assert "| Metric | staging v2 | production v1 |" in markdown
    assert "| interval | P10-P90 | - |" in markdown
    assert "| coverage | 75.0% | - |" in markdown
    assert "| coverage, week 1 | 100.0% | - |" in markdown
    assert "| coverage, week 2 | 0.0% | - |" in markdown
    assert "| quantile loss | 0.0292 | - |" in markdown
    assert "| Calibrated ranges | ✅ pass | P10-P90 covers 75.0%" in markdown
    assert logged["staging_interval_coverage"]["value"] == pytest.approx(0.75)
    assert logged["staging_interval_coverage_week2"]["value"] == pytest.approx(0.0)
    assert {"staging_interval_width", "staging_quantile_loss"} <= set(logged)
    assert not [key for key in logged if key.startswith("production_interval")]


def test_the_report_gives_the_gates_estimate_and_its_likely_range_for_staging():
    tags = {"validation.estimate_rmspe": "0.0873", "validation.estimate_rmspe_low": "0.06984",
            "validation.estimate_rmspe_high": "0.10476"}  # fmt: skip
    staging = RegisteredVersion("rossmann-ensemble", 2, "Staging", tags, 0.0873, loader=None)
    older = RegisteredVersion(
        "rossmann-ensemble", 1, "Production", {"validation.estimate_rmspe": "0.09"}, 0.09,
        loader=None,
    )  # fmt: skip
    versions = resolve_review_versions(staging, older, {"model_name": "rossmann-ensemble"})
    metrics = compute_review_metrics(_predictions(1.0, 1.05), STORES, PARAMS)

    markdown = render_review_report(versions, metrics, [], {})["markdown"]

    assert versions["staging"]["gate"] == pytest.approx(
        {"rmspe": 0.0873, "low": 0.06984, "high": 0.10476}
    )
    assert versions["production"]["gate"] == {"rmspe": 0.09}  # gated before the range
    assert (
        "The gate's estimate of the six weeks version 2 will forecast: RMSPE 0.0873 "
        "(likely 0.0698-0.1048)." in markdown
    )


def test_a_report_without_quantiles_says_so():
    predictions = _predictions(1.0, 1.05)
    metrics = compute_review_metrics(predictions, STORES, PARAMS)

    report = render_review_report(
        {"model_name": "m", "staging": {"version": 2, "validation_run_id": None},
         "production": {"version": 1}},
        metrics, [], {},
    )  # fmt: skip

    assert "No version reviewed has forecast quantiles (trained before them)." in report["markdown"]
    assert "| coverage |" not in report["markdown"]


def _bands(figure: Figure) -> list[list[PolyCollection]]:
    return [[c for c in ax.collections if isinstance(c, PolyCollection)] for ax in figure.axes]


def test_the_forecast_plot_shades_the_band_of_a_version_with_quantiles():
    predictions = _predictions(1.01, 1.05)
    banded = _banded(predictions, "staging", _missing(predictions, 1))

    with_band = plot_review(banded, STORES, PARAMS)["forecast_vs_actual"]
    without = plot_review(predictions, STORES, PARAMS)["forecast_vs_actual"]

    bands = _bands(with_band)
    assert [len(on_axis) for on_axis in bands] == [1, 1]  # Staging's; Production has none
    staging_blue = matplotlib.colors.to_rgba(COLOURS["staging"], alpha=0.2)
    for (band,) in bands:
        assert tuple(band.get_facecolor()[0]) == pytest.approx(staging_blue)
    legend = [text.get_text() for text in with_band.axes[0].get_legend().get_texts()]
    assert "staging P10-P90" in legend
    assert _bands(without) == [[], []]


def test_plots_are_figures():
    figures = plot_review(_predictions(1.01, 1.05), STORES, PARAMS)

    assert set(figures) == {"forecast_vs_actual", "residuals_by_store_type", "error_distribution"}
    assert all(isinstance(f, Figure) for f in figures.values())


class _Doubled:
    def predict(self, rows: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"Sales": rows["Store"].to_numpy() * 2000.0})


class _DoubledWithRange(_Doubled):
    """A version trained with quantiles: P10/P50/P90 around its forecast."""

    def predict(self, rows: pd.DataFrame) -> pd.DataFrame:
        sales = super().predict(rows)["Sales"]
        return pd.DataFrame(
            {"Sales": sales, "beyond_validated_horizon": False, "Sales_p10": sales * 0.8,
             "Sales_p50": sales, "Sales_p90": sales * 1.25}
        )  # fmt: skip


def _registered(
    number: int, served_from: str, loaded: list[str], model: type = _Doubled
) -> RegisteredVersion:
    tags = {
        "lineage.training_window.origin": served_from,
        "lineage.backtest.origin": "2015-07-01",
        "lineage.backtest.model_uri": f"models:/m-backtest{number}",
        "validation.run_id": f"run{number}",
    }
    return RegisteredVersion(
        "rossmann-ensemble",
        number,
        "Staging",
        tags,
        0.05,
        loader=lambda u: loaded.append(u) or model(),
    )


def test_versions_are_resolved_and_scored_from_pure_inputs():
    loaded: list[str] = []
    holdout = _predictions(1.0, None)[["Store", "Date", "Open", "Sales"]].assign(
        DayOfWeek=3, Promo=0, StateHoliday="0", SchoolHoliday=0
    )
    staging = _registered(2, "2015-08-01", loaded)  # served model has seen the holdout
    production = _registered(1, "2015-06-01", loaded)  # served from before it: honest

    versions = resolve_review_versions(staging, production, {"model_name": "rossmann-ensemble"})
    scored = score_review_versions(staging, production, holdout)

    assert versions["staging"] == {
        "version": 2,
        "model_uri": "models:/rossmann-ensemble/2",
        "validation_run_id": "run2",
        "holdout_rmspe": 0.05,
        "gate": None,  # these tags hold no gate estimate
        "live": None,  # not yet compared in Production's shadow
        "live_text": None,
    }
    assert versions["production"]["version"] == 1
    assert loaded == ["models:/m-backtest2", "models:/rossmann-ensemble/1"]
    assert scored.groupby("role")["scored_kind"].first().to_dict() == {
        "production": "served",
        "staging": "backtest",
    }
    assert (scored["prediction"] == scored["Store"] * 2000.0).all()


def test_scoring_keeps_the_quantiles_of_a_version_that_has_them():
    holdout = _predictions(1.0, None)[["Store", "Date", "Open", "Sales"]].assign(
        DayOfWeek=3, Promo=0, StateHoliday="0", SchoolHoliday=0
    )
    staging = _registered(2, "2015-08-01", [], model=_DoubledWithRange)  # scored by backtest
    production = _registered(1, "2015-06-01", [])  # trained before quantiles

    scored = score_review_versions(staging, production, holdout)

    staging_rows = scored[scored["role"] == "staging"]
    production_rows = scored[scored["role"] == "production"]
    assert (staging_rows["Sales_p10"] == staging_rows["Store"] * 1600.0).all()
    assert (staging_rows["Sales_p90"] == staging_rows["Store"] * 2500.0).all()
    assert production_rows[["Sales_p10", "Sales_p50", "Sales_p90"]].isna().all().all()
    assert scored.groupby("role")["scored_origin"].first().to_dict() == {
        "production": "2015-06-01",
        "staging": "2015-07-01",
    }
    metrics = compute_review_metrics(scored, STORES, PARAMS)
    assert metrics["staging"]["intervals"]["scores"]["interval_coverage_week1"] == 0.0
    assert metrics["production"]["intervals"] is None


def test_without_production_only_staging_is_scored():
    loaded: list[str] = []
    holdout = _predictions(1.0, None)[["Store", "Date", "Open", "Sales"]].assign(
        DayOfWeek=3, Promo=0, StateHoliday="0", SchoolHoliday=0
    )
    staging = _registered(2, "2015-08-01", loaded)

    versions = resolve_review_versions(staging, None, {"model_name": "rossmann-ensemble"})

    assert versions["production"] is None
    assert set(score_review_versions(staging, None, holdout)["role"]) == {"staging"}


def _segment_report(predictions: pd.DataFrame) -> tuple[dict, dict]:
    """Both versions' segment tables on the staging rows' days, and the report showing them."""
    calendar = predictions.loc[predictions["role"] == "staging", ["Store", "Date", "Open", "Sales"]]
    holdout = calendar.assign(DayOfWeek=calendar["Date"].dt.day_of_week + 1, Promo=0,
                              SchoolHoliday=0, StateHoliday="0")  # fmt: skip
    history = holdout.assign(Date=holdout["Date"] - pd.Timedelta(days=28))

    segments = compute_review_segments(predictions, holdout, history, STORES)
    report = render_review_report(
        {"model_name": "m", "staging": {"version": 2, "validation_run_id": None},
         "production": {"version": 1}},
        compute_review_metrics(predictions, STORES, PARAMS), [], {}, segments,
    )  # fmt: skip
    return segments, report


def test_the_report_shows_each_version_by_segment():
    predictions = _predictions(1.1, 1.2)
    segments, report = _segment_report(predictions)

    staging = {(r["segmentation"], r["segment"]): r for r in segments["staging"]}
    assert staging[("StoreType", "StoreType b")]["rmspe"] == pytest.approx(0.1)
    assert segments["production"][0]["bias"] == pytest.approx(0.2)
    assert "## By segment" in report["markdown"]
    assert "| promo | no promo | 8 | 0.1000 | +10.00% | 0.2000 | +20.00% |" in report["markdown"]


def test_the_report_shows_how_each_band_covers_each_segment():
    """Staging's band misses every day of store 1 and holds every day of store 2: by store
    type, 0% and 100%, where the holdout as a whole reads 50%. Production has no band."""
    predictions = _banded(_predictions(1.1, 1.2), "staging", _missing(_predictions(1.1, 1.2), 4))
    segments, report = _segment_report(predictions)

    staging = {(r["segmentation"], r["segment"]): r for r in segments["staging"]}
    assert staging[("StoreType", "StoreType a")]["coverage"] == 0.0
    assert staging[("StoreType", "StoreType b")]["coverage"] == 1.0
    assert staging[("promo", "no promo")]["coverage"] == 0.5
    assert all("coverage" not in r for r in segments["production"])
    assert "| band coverage staging | RMSPE production v1 | bias production |" in report["markdown"]
    row = "| StoreType | StoreType b | 4 | 0.1000 | +10.00% | 100.0% | 0.2000 | +20.00% |"
    assert row in report["markdown"]
