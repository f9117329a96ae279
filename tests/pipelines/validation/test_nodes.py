"""Gate nodes called directly on pure inputs: no registry, no MLflow run.

Versions are ``RegisteredVersion`` values as the catalog would load them; their ``loader``
returns a small in-process model, so what is tested is the gate's arithmetic and its choice of
which model of a version may be scored, not MLflow's loading (the lifecycle tests do that).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rossmann_forecast.pipelines.validation.nodes import (
    decide_gate,
    evaluate_holdout,
    score_candidate,
    score_production,
    season_window,
)
from rossmann_forecast.registry import RegistryError
from rossmann_forecast.registry.version import RegisteredVersion

MODEL = "rossmann-ensemble"
STORES = pd.DataFrame({"Store": [1, 2], "StoreType": ["a", "b"]})


class ScaledSales:
    """Predicts a fixed multiple of each store's true sales (known to the test; ``factor`` is
    one for all stores or one per store), and with ``band`` the quantiles P10/P50/P90 at
    ``(1 - band, 1, 1 + band)`` times that forecast."""

    def __init__(
        self, truth: pd.DataFrame, factor: float | dict[int, float], band: float | None = None
    ) -> None:
        self.truth = truth.set_index(["Store", "Date"])["Sales"]
        self.factor = factor
        self.band = band

    def predict(self, rows: pd.DataFrame) -> pd.DataFrame:
        keys = pd.MultiIndex.from_arrays([rows["Store"], pd.to_datetime(rows["Date"])])
        factor = (
            rows["Store"].map(self.factor).to_numpy()
            if isinstance(self.factor, dict)
            else self.factor
        )
        sales = self.truth.reindex(keys).to_numpy() * factor
        answer = pd.DataFrame({"Sales": sales})
        if self.band is not None:
            for column, times in (("p10", 1 - self.band), ("p50", 1.0), ("p90", 1 + self.band)):
                answer[f"Sales_{column}"] = sales * times
        return answer


def _holdout() -> pd.DataFrame:
    dates = pd.date_range("2015-07-01", periods=4)
    return pd.DataFrame(
        [
            {
                "Store": s,
                "DayOfWeek": d.day_of_week + 1,
                "Date": d,
                "Sales": 1000.0 * s + d.day,
                "Open": 1,
                "Promo": 0,
                "StateHoliday": "0",
                "SchoolHoliday": 0,
            }
            for s in (1, 2)
            for d in dates
        ]
    )


def _version(
    number: int,
    factor: float | dict[int, float],
    loaded: list[str],
    band: float | None = None,
    **tags: str,
) -> RegisteredVersion:
    holdout = _holdout()

    def loader(uri: str) -> ScaledSales:
        loaded.append(uri)
        return ScaledSales(holdout, factor, band)

    return RegisteredVersion(MODEL, number, "None", dict(tags), loader=loader)


PARAMS = {
    "threshold": 0.10,
    "recent_days": 2,
    "season_lag_days": 364,
    "estimate": "pooled",
    "estimate_fallback": "holdout",
    "max_skill": 0.85,
    "production_tolerance": 0.02,
    "production_bootstrap": {"confidence": 0.95, "resamples": 500, "min_stores": 20, "seed": 0},
    "seasonal_waiver": True,
    "min_interval_coverage": 0.70,
}
NO_SEASON = {"found": False, "why": "no fold", "season": {"found": False},
             "holdout_season": {"found": False}}  # fmt: skip


def _history() -> pd.DataFrame:
    """Four weeks before the holdout where each store sells twice its holdout level: the
    median baseline forecasts 2x, an RMSPE of 1.0 on the holdout."""
    dates = pd.date_range("2015-06-03", "2015-06-30")
    return pd.DataFrame(
        [
            {"Store": s, "DayOfWeek": d.day_of_week + 1, "Date": d, "Sales": 2000.0 * s + 2,
             "Open": 1, "Promo": 0, "StateHoliday": "0", "SchoolHoliday": 0}
            for s in (1, 2)
            for d in dates
        ]
    )  # fmt: skip


def _evaluate(candidate, production, params=PARAMS, season=NO_SEASON):
    holdout = _holdout()
    return evaluate_holdout(
        candidate, production, holdout, STORES, _history(), season, params, block_days=42
    )


def _backtested(
    number: int, factor: float | dict[int, float], loaded: list[str], band: float | None = None
) -> RegisteredVersion:
    """A version served from after the holdout, with a backtest from its first day."""
    return _version(
        number,
        factor,
        loaded,
        band,
        **{
            "lineage.training_window.origin": "2015-08-01",
            "lineage.backtest.origin": "2015-07-01",
            "lineage.backtest.model_uri": f"models:/m-backtest{number}",
        },
    )


def test_the_candidate_is_scored_by_its_backtest_and_passes_below_the_threshold():
    loaded: list[str] = []
    holdout = _holdout()

    scored = score_candidate(_backtested(3, 1.05, loaded), holdout)
    report = _evaluate(scored, score_production(None, holdout))
    verdict = decide_gate(report)

    assert loaded == ["models:/m-backtest3"]  # never the served model: it has seen these rows
    assert report["metrics"]["holdout_rmspe"] == pytest.approx(0.05, rel=1e-9)
    assert report["production"] is None
    assert verdict["passed"] and verdict["status"] == "passed"
    assert verdict["version"] == 3
    assert verdict["evidence"]["kind"] == "backtest"
    assert verdict["evidence"]["holdout_start"] == "2015-07-01"
    assert verdict["recorded_metrics"]["holdout_rmspe"] == pytest.approx(0.05, rel=1e-9)


def test_the_verdict_gives_and_records_the_likely_range_of_the_next_weeks():
    loaded: list[str] = []
    holdout = _holdout()
    scored = score_candidate(_backtested(3, 1.05, loaded), holdout)

    verdict = decide_gate(
        _evaluate(scored, score_production(None, holdout), {**PARAMS, "estimate_range": [0.8, 1.2]})
    )
    without = decide_gate(_evaluate(scored, score_production(None, holdout)))

    likely = verdict["estimate_range"]
    assert (likely["low"], likely["high"]) == pytest.approx((0.04, 0.06))
    assert "estimate RMSPE 0.0500 (likely 0.0400-0.0600) < threshold 0.10" in verdict["reason"]
    assert verdict["recorded_metrics"]["estimate_rmspe_low"] == pytest.approx(0.04)
    assert verdict["recorded_metrics"]["estimate_rmspe_high"] == pytest.approx(0.06)
    assert verdict["passed"] == without["passed"]  # it informs; the rule judges the estimate
    assert without["estimate_range"] is None and "likely" not in without["reason"]

    # The holdout's stores say how much a chain of so few stores moves the figure: both miss
    # by 5% every day, so nothing, and the factors stand (estimate.py tests the widening).
    widening = {"reference": 82, "z": 1.28}
    params = {**PARAMS, "estimate_range": [0.8, 1.2], "estimate_range_stores": widening}
    few = decide_gate(_evaluate(scored, score_production(None, holdout), params))
    assert few["estimate_range"]["stores"] == 2
    assert few["estimate_range"]["store_spread"] == pytest.approx(0.0, abs=1e-12)
    assert (few["estimate_range"]["low"], few["estimate_range"]["high"]) == pytest.approx(
        (0.04, 0.06)
    )


def test_a_version_whose_interval_under_covers_is_rejected_with_the_reason():
    holdout = _holdout()
    # 5% high everywhere: P10 at 0.98 x 1.05 = 1.029 x the actual, so no store-day is inside.
    narrow = _evaluate(score_candidate(_backtested(3, 1.05, [], band=0.02), holdout),
                       score_production(None, holdout))  # fmt: skip
    verdict = decide_gate(narrow)

    assert narrow["metrics"]["holdout_rmspe"] == pytest.approx(0.05, rel=1e-9)  # point: fine
    assert narrow["intervals"]["scores"]["interval_coverage"] == 0.0
    assert not verdict["passed"] and verdict["checks"]["coverage"] is False
    assert "P10-P90 interval covers 0.0% of holdout store-days < 70%" in verdict["reason"]
    assert verdict["recorded_metrics"]["holdout_interval_coverage"] == 0.0

    # The same point forecast with a band that holds every actual passes, and says so.
    wide = decide_gate(_evaluate(score_candidate(_backtested(4, 1.05, [], band=0.1), holdout),
                                 score_production(None, holdout)))  # fmt: skip
    assert wide["passed"] and wide["checks"]["coverage"] is True
    assert "covers 100.0% of holdout store-days >= 70%" in wide["reason"]
    assert wide["intervals"]["scores"]["interval_coverage_week1"] == 1.0
    # P10..P90 = 0.9..1.1 x the forecast: a width of 0.2 x P50.
    assert wide["intervals"]["scores"]["interval_width"] == pytest.approx(0.2, rel=1e-9)


def test_a_candidate_at_or_above_the_threshold_is_rejected_with_production_compared():
    loaded: list[str] = []
    holdout = _holdout()
    production = _version(
        1, 1.02, loaded, **{"lineage.training_window.origin": "2015-06-30"}
    )  # served from before the holdout: its served model is an honest forecast

    report = _evaluate(
        score_candidate(_backtested(4, 1.25, loaded), holdout),
        score_production(production, holdout),
    )
    verdict = decide_gate(report)

    assert loaded == ["models:/m-backtest4", f"models:/{MODEL}/1"]
    assert not verdict["passed"] and verdict["status"] == "rejected"
    assert verdict["reason"].startswith("estimate RMSPE 0.2500 >= threshold 0.10; ")
    assert "holdout 0.2500 worse than Production v1's 0.0200" in verdict["reason"]
    assert verdict["checks"] | {"finite": None} == {
        "finite": None, "threshold": False, "baseline": True, "production": False, "coverage": True,
        "stores": True, "waived": False, "passed": False,
    }  # fmt: skip
    assert verdict["recorded_metrics"]["production_version"] == 1.0
    assert verdict["recorded_metrics"]["production_holdout_rmspe"] == pytest.approx(0.02, rel=1e-9)


def test_a_candidate_off_production_only_in_level_is_compared_at_its_best_scale():
    holdout = _holdout()
    production = _version(1, 1.02, [], **{"lineage.training_window.origin": "2015-06-30"})
    # 8% high on every row where Production is 2% high: a level, not a worse forecast.
    candidate = score_candidate(_backtested(4, 1.08, []), holdout)
    against = score_production(production, holdout)

    params = {**PARAMS, "store_check": {"min_days": 4, "max_rmspe_increase": 0.05}}
    rescaled = decide_gate(_evaluate(candidate, against,
                                     params={**params, "production_comparison": "rescaled"}))  # fmt: skip
    as_is = decide_gate(_evaluate(candidate, against,
                                  params={**params, "production_comparison": "rmspe"}))  # fmt: skip

    assert rescaled["passed"] and rescaled["checks"]["production"]
    assert (
        "holdout rescaled 0.0000 not worse than Production v1's 0.0000 (tolerance 2%; as is "
        "0.0800 against 0.0200)" in rescaled["reason"]
    )
    # Store by store on the same basis: every store 6 points worse as forecast (more than the
    # store check's 0.05), and no store worse at each version's own scale (1/1.08, 1/1.02).
    assert rescaled["checks"]["stores"]
    assert rescaled["reason"].endswith(
        "no store rescaled more than +0.05 above Production v1 (worst: store 1 0.0000 against "
        "0.0000, +0.0000, of 2 stores; scales x0.926 and x0.980)"
    )
    assert not as_is["passed"] and not as_is["checks"]["production"]
    assert "holdout 0.0800 worse than Production v1's 0.0200 (tolerance 2%)" in as_is["reason"]
    assert not as_is["checks"]["stores"]
    assert as_is["reason"].endswith(
        "2 of 2 stores more than +0.05 above Production v1 (worst: store 1 0.0800 against "
        "0.0200, +0.0600)"
    )


def test_a_candidate_that_follows_the_stores_worse_than_production_is_rejected_rescaled_too():
    holdout = _holdout()
    production = _version(1, 1.06, [], **{"lineage.training_window.origin": "2015-06-30"})
    # Right for store 1, 8% high for store 2: closer as forecast (RMSPE 0.057 against 0.060),
    # but no one scale makes it follow the stores as Production does.
    candidate = score_candidate(_backtested(4, {1: 1.0, 2: 1.08}, []), holdout)

    report = _evaluate(candidate, score_production(production, holdout),
                       params={**PARAMS, "production_comparison": "rescaled"})  # fmt: skip
    verdict = decide_gate(report)

    assert report["metrics"]["holdout_rmspe"] < report["production"]["metrics"]["holdout_rmspe"]
    assert report["metrics"]["holdout_rmspe_rescaled"] > 0.03
    assert report["production"]["metrics"]["holdout_rmspe_rescaled"] == pytest.approx(0, abs=1e-7)
    assert not verdict["passed"] and not verdict["checks"]["production"]
    assert (
        "holdout rescaled 0.0" in verdict["reason"]
        and "worse than Production v1's" in (verdict["reason"])
    )


def test_production_fit_on_the_holdout_without_a_backtest_is_not_compared():
    loaded: list[str] = []
    production = _version(1, 1.0, loaded, **{"lineage.training_window.origin": "2015-08-01"})

    assert score_production(production, _holdout()).empty
    assert loaded == []  # nothing was loaded, let alone scored on rows it was fit on


def _many_stores(count: int = 40, days: int = 14):
    """A holdout of ``count`` stores, the four weeks before it (each store selling twice its
    holdout level: the median baseline's RMSPE is 1.0), and store.csv."""
    holdout = pd.DataFrame(
        [{"Store": s, "DayOfWeek": d.day_of_week + 1, "Date": d, "Sales": 1000.0 * s + d.day,
          "Open": 1, "Promo": 0, "StateHoliday": "0", "SchoolHoliday": 0}
         for s in range(1, count + 1) for d in pd.date_range("2015-07-01", periods=days)]
    )  # fmt: skip
    history = pd.concat(
        holdout.assign(Date=holdout["Date"] - pd.Timedelta(days=back), Sales=2 * holdout["Sales"])
        for back in (14, 28)
    )
    stores = pd.DataFrame({"Store": range(1, count + 1), "StoreType": "a"})
    return holdout, history, stores


def _predicted(holdout: pd.DataFrame, version: int, factor: np.ndarray) -> pd.DataFrame:
    """What ``score_candidate`` or ``score_production`` return, for a known forecast."""
    return holdout[["Store", "Date", "Sales"]].assign(
        version=version, prediction=holdout["Sales"] * factor, scored_kind="backtest",
        scored_model_uri=f"models:/m-backtest{version}", scored_origin="2015-07-01",
    )  # fmt: skip


def _alternating(holdout: pd.DataFrame, off: float | np.ndarray) -> np.ndarray:
    """``off`` high on one day, as much low on the next: an error no scale takes away."""
    return 1.0 + np.where(np.arange(len(holdout)) % 2 == 0, off, -off)


@pytest.mark.parametrize("resampled", [True, False])
def test_a_candidate_worse_on_one_store_only_is_not_shown_worse_than_production(resampled):
    holdout, history, stores = _many_stores()
    production = _predicted(holdout, 1, _alternating(holdout, 0.05))
    # As Production on 39 of 40 stores, 25% off on store 7: 13% worse over all rows, all of it
    # one store's. A draw of the stores without it (a third of them) scores the two alike.
    off = np.where(holdout["Store"] == 7, 0.25, 0.05)
    candidate = _predicted(holdout, 4, _alternating(holdout, off))
    params = {**PARAMS, "production_comparison": "rescaled"}
    if not resampled:
        params["production_bootstrap"] = None
    report = evaluate_holdout(candidate, production, holdout, stores, history, NO_SEASON,
                              params, block_days=42)  # fmt: skip
    verdict = decide_gate(report)

    ratio = (
        report["metrics"]["holdout_rmspe_rescaled"]
        / (report["production"]["metrics"]["holdout_rmspe_rescaled"])
    )
    assert ratio > 1.1
    if resampled:
        comparison = report["production"]["comparison"]
        assert comparison["ratio"] == pytest.approx(ratio)
        assert comparison["stores"] == 40 and comparison["low"] <= 1.02 < comparison["high"]
        assert verdict["checks"]["production"] and verdict["passed"]
        assert "not shown worse than Production v1's" in verdict["reason"]
        assert "90% sure" in verdict["reason"] and "over 40 stores resampled" in verdict["reason"]
        assert verdict["recorded_metrics"]["production_ratio_low"] == comparison["low"]
    else:
        assert report["production"]["comparison"] is None
        assert not verdict["checks"]["production"] and not verdict["passed"]


STORE_CHECK = {"min_days": 14, "max_rmspe_increase": 0.05}


def _one_store_off(off_store_7: float, store_check=STORE_CHECK, waiver_needed=False):
    """Candidate as Production (5% off on alternate days) except ``off_store_7`` on store 7."""
    holdout, history, stores = _many_stores()
    production = _predicted(holdout, 1, _alternating(holdout, 0.05))
    off = np.where(holdout["Store"] == 7, off_store_7, 0.05)
    candidate = _predicted(holdout, 4, _alternating(holdout, off))
    params = {**PARAMS, "production_comparison": "rescaled", "store_check": store_check}
    if waiver_needed:
        params["threshold"] = 0.01  # only the seasonal waiver can let it through
    report = evaluate_holdout(candidate, production, holdout, stores, history, NO_SEASON,
                              params, block_days=42)  # fmt: skip
    return report, decide_gate(report)


def test_a_candidate_much_worse_on_one_store_is_rejected_by_the_store_check_naming_it():
    """The case the resampled comparison lets through (above) is caught store by store."""
    report, verdict = _one_store_off(0.25)

    assert verdict["checks"]["production"]  # the stores resampled do not show it worse
    assert not verdict["checks"]["stores"] and not verdict["passed"]
    assert report["production"]["stores"]["above"] == 1
    # Each version at its own scale over all 40 stores (mean(r) / mean(r^2) with r = 1 +- off):
    # Production 1 / (1 + 0.05^2) = 0.998, the candidate 1 / (1 + (39 x 0.05^2 + 0.25^2) / 40)
    # = 0.996; store 7 rescaled: sqrt((0.25 x 0.996)^2 + 0.004^2) = 0.2490.
    assert verdict["reason"].endswith(
        "1 of 40 stores rescaled more than +0.05 above Production v1 (worst: store 7 0.2490 "
        "against 0.0499, +0.1991; scales x0.996 and x0.998)"
    )
    assert verdict["recorded_metrics"]["production_stores_above"] == 1.0
    assert verdict["recorded_metrics"]["production_store_worst_increase"] == pytest.approx(
        0.1991, abs=5e-5
    )
    # Nor does the seasonal waiver let it through.
    _, waived = _one_store_off(0.25, waiver_needed=True)
    assert not waived["checks"]["waived"] and not waived["passed"]


def test_within_the_store_limit_or_without_the_check_the_candidate_passes():
    _, within = _one_store_off(0.09)  # store 7: +0.04
    _, unchecked = _one_store_off(0.25, store_check=None)

    assert within["passed"] and within["checks"]["stores"]
    assert within["reason"].endswith(
        "no store rescaled more than +0.05 above Production v1 (worst: store 7 0.0898 against "
        "0.0499, +0.0399, of 40 stores; scales x0.997 and x0.998)"
    )
    assert unchecked["passed"] and unchecked["checks"]["stores"]
    assert "above Production" not in unchecked["reason"]


def test_a_store_with_too_few_days_is_not_checked():
    report, verdict = _one_store_off(0.25, store_check={**STORE_CHECK, "min_days": 15})

    assert verdict["passed"] and report["production"]["stores"]["compared"] == 0
    assert verdict["reason"].endswith("(no store has 15 days with sales)")


def test_a_candidate_worse_on_every_store_is_rejected_with_the_stores_resampled():
    holdout, history, stores = _many_stores()
    production = _predicted(holdout, 1, _alternating(holdout, 0.05))
    candidate = _predicted(holdout, 4, _alternating(holdout, 0.06))  # 20% worse everywhere

    report = evaluate_holdout(candidate, production, holdout, stores, history, NO_SEASON,
                              {**PARAMS, "production_comparison": "rescaled"}, block_days=42)  # fmt: skip
    verdict = decide_gate(report)

    assert report["production"]["comparison"]["low"] > 1.02
    assert not verdict["checks"]["production"] and not verdict["passed"]
    assert "worse than Production v1's" in verdict["reason"]
    assert "not shown" not in verdict["reason"]
    assert "over 40 stores resampled" in verdict["reason"]


def test_with_fewer_stores_than_min_stores_the_figures_are_compared_as_they_are():
    holdout, history, stores = _many_stores(count=19)
    production = _predicted(holdout, 1, _alternating(holdout, 0.05))
    candidate = _predicted(holdout, 4, _alternating(holdout, 0.06))

    report = evaluate_holdout(candidate, production, holdout, stores, history, NO_SEASON,
                              {**PARAMS, "production_comparison": "rescaled"}, block_days=42)  # fmt: skip

    assert report["production"]["comparison"] is None  # 19 < min_stores 20
    assert not decide_gate(report)["checks"]["production"]
    assert "resampled" not in decide_gate(report)["reason"]


def test_a_forecast_with_holes_is_judged_on_the_figures_and_fails():
    holdout, history, stores = _many_stores()
    production = _predicted(holdout, 1, _alternating(holdout, 0.05))
    factor = _alternating(holdout, 0.05)
    factor[3] = np.nan  # one store-day the candidate did not forecast
    candidate = _predicted(holdout, 4, factor)

    report = evaluate_holdout(candidate, production, holdout, stores, history, NO_SEASON,
                              {**PARAMS, "production_comparison": "rescaled"}, block_days=42)  # fmt: skip
    verdict = decide_gate(report)

    assert report["production"]["comparison"] is None
    assert not verdict["checks"]["production"] and not verdict["passed"]


def test_a_candidate_without_an_honest_model_is_refused():
    loaded: list[str] = []
    fitted_on_holdout = _version(5, 1.0, loaded, **{"lineage.training_window.origin": "2015-08-01"})

    with pytest.raises(RegistryError, match="Version 5 of rossmann-ensemble has no model"):
        score_candidate(fitted_on_holdout, _holdout())


def _tags(**folds: tuple[str, float, int]) -> dict[str, str]:
    tags = {
        "lineage.training_window.origin": "2015-08-01",
        "lineage.backtest.origin": "2015-06-20",
        "lineage.training_window.start": "2013-01-01",
    }
    for fold, (origin, score, rows) in folds.items():
        tags[f"lineage.cv_folds.{fold}"] = origin
        tags[f"cv.rmspe_ensemble_{fold}"] = f"{score:.6f}"
        tags[f"cv.rows_ensemble_{fold}"] = f"{rows:.6f}"
    return tags


def test_the_season_windows_are_the_folds_52_weeks_before_the_forecast_and_the_holdout():
    version = RegisteredVersion(
        MODEL, 7, "None",
        _tags(fold1=("2014-06-21", 0.10, 510), fold2=("2014-08-02", 0.12, 500),
              fold3=("2015-05-09", 0.09, 480)),
    )  # fmt: skip

    found = season_window(version, PARAMS)

    assert found["found"] and found["why"] is None
    assert found["season"] == {"found": True, "fold": "fold2", "origin": "2014-08-02",
                               "rmspe": 0.12, "rows": 500}  # fmt: skip
    assert found["holdout_season"]["fold"] == "fold1"


def test_without_those_folds_the_windows_are_missing_and_say_why():
    version = RegisteredVersion(MODEL, 7, "None", _tags(fold1=("2015-05-09", 0.09, 480)))

    found = season_window(version, PARAMS)

    assert not found["found"]
    assert (
        "has no CV fold from 2014-08-02 nor 2014-06-21 (364 days before its served origin"
        in (found["why"])
    )


def test_the_estimate_pools_the_holdout_with_the_season_fold_by_rows():
    loaded: list[str] = []
    holdout = _holdout()
    season = {
        "found": True, "why": None,
        "season": {"found": True, "fold": "fold2", "origin": "2015-06-17", "rmspe": 0.15,
                   "rows": 24},
        "holdout_season": {"found": True, "fold": "fold1", "origin": "2015-06-01", "rmspe": 0.06,
                           "rows": 24},
    }  # fmt: skip
    scored = score_candidate(_backtested(3, 1.05, loaded), holdout)

    report = _evaluate(scored, score_production(None, holdout), season=season)
    verdict = decide_gate(report)
    ratio = _evaluate(scored, score_production(None, holdout), season=season,
                      params={**PARAMS, "estimate": "season_ratio"})  # fmt: skip

    # 8 holdout rows at 0.05 and 24 season rows at 0.15, pooled by their squares.
    expected = ((8 * 0.05**2 + 24 * 0.15**2) / 32) ** 0.5
    assert verdict["estimate_rmspe"] == pytest.approx(expected, rel=1e-9)
    assert verdict["holdout_rmspe"] == pytest.approx(0.05, rel=1e-9)
    assert [w["name"] for w in verdict["windows"]] == [
        "holdout", "forecast weeks a year earlier", "holdout weeks a year earlier"
    ]  # fmt: skip
    assert not verdict["passed"]  # 0.132 is over the threshold and there is no Production
    assert verdict["reason"].startswith(
        f"estimate RMSPE {expected:.4f} >= threshold 0.10 (not waived: no Production version "
        "to compare with); "
    )
    assert verdict["recorded_metrics"]["estimate_rmspe"] == pytest.approx(expected, rel=1e-9)
    # The season ratio: 0.05 x 0.15 / 0.06.
    assert ratio["estimate"]["rmspe"] == pytest.approx(0.125, rel=1e-9)
    assert ratio["estimate"]["alternatives"]["pooled"] == pytest.approx(expected, rel=1e-9)


def test_a_candidate_over_the_threshold_but_better_than_production_passes_in_a_hard_season(
    caplog,
):
    loaded: list[str] = []
    holdout = _holdout()
    production = _version(1, 1.30, loaded, **{"lineage.training_window.origin": "2015-06-30"})
    candidate, against = (
        score_candidate(_backtested(4, 1.12, loaded), holdout),
        score_production(production, holdout),
    )

    with caplog.at_level("INFO", logger="rossmann_forecast.pipelines.validation.nodes"):
        waived = decide_gate(_evaluate(candidate, against))
    strict = decide_gate(_evaluate(candidate, against, params={**PARAMS, "seasonal_waiver": False}))

    assert waived["passed"] and waived["checks"]["waived"]
    assert "(waived: a hard season, and no worse than Production)" in waived["reason"]
    assert "✓ Performance meets the gate (threshold 0.10 waived): estimate RMSPE" in caplog.text
    assert not strict["passed"] and not strict["checks"]["waived"]


def test_a_candidate_not_clearly_better_than_the_median_baseline_is_rejected():
    loaded: list[str] = []
    holdout = _holdout()
    # The baseline forecasts 2x (RMSPE 1.0): a candidate at 1.9x has skill 0.9 > 0.85.
    report = _evaluate(
        score_candidate(_backtested(5, 1.9, loaded), holdout), score_production(None, holdout),
        params={**PARAMS, "threshold": None},
    )  # fmt: skip

    verdict = decide_gate(report)

    actual = holdout["Sales"].to_numpy()
    baseline = ((2000.0 * holdout["Store"].to_numpy() + 2 - actual) / actual) ** 2
    assert report["estimate"]["baseline_rmspe"] == pytest.approx(baseline.mean() ** 0.5)
    assert not verdict["passed"]
    assert verdict["reason"].startswith("estimate RMSPE 0.9000 (no absolute threshold); skill 0.90")
    assert "> 0.85 (median baseline 0.99" in verdict["reason"]


def test_a_season_fold_that_never_saw_its_weeks_gives_way_to_the_fallback():
    loaded: list[str] = []
    holdout = _holdout()
    tags = _tags(fold1=("2014-06-21", 0.10, 510), fold2=("2014-08-02", 0.30, 500))
    learnt = season_window(RegisteredVersion(MODEL, 7, "None", tags), PARAMS)
    unlearnt = season_window(
        RegisteredVersion(
            MODEL, 7, "None", {**tags, "lineage.training_window.start": "2014-01-01"}
        ),
        PARAMS,
    )
    scored = score_candidate(_backtested(3, 1.05, loaded), holdout)

    report = _evaluate(scored, score_production(None, holdout), season=unlearnt)

    assert learnt["learnt"] is True and unlearnt["learnt"] is False  # 2014-08-02 - 364 days
    assert report["estimate"]["method"] == "holdout"
    assert report["estimate"]["rmspe"] == pytest.approx(0.05, rel=1e-9)
    assert (
        "trained from 2014-01-01, less than a year before it"
        in (report["estimate"]["unlearnt_season"])
    )
    assert report["estimate"]["alternatives"]["pooled"] > 0.2  # what it would have said
