"""Node tests of the training pipeline: the blend weights and the scale, the fits' rows, the
CV's rows and which members fit sales relative to the store's level."""

import numpy as np
import pandas as pd
import pytest

from rossmann_forecast.metrics import rmspe
from rossmann_forecast.model.boosters import MEMBERS
from rossmann_forecast.model.ensemble import MemberSpec, fit_member, predict_member
from rossmann_forecast.model.features import FeatureConfig, feature_names, level_feature
from rossmann_forecast.pipelines.data_processing.nodes import (
    build_model_input,
    resolve_feature_settings,
    split_holdout,
)
from rossmann_forecast.pipelines.training.nodes import (
    cross_validate_member,
    cv_fit_rows,
    fit_arrays,
    fit_backtest_member,
    fit_ensemble_weights,
    fit_positions,
    fit_served_member,
    fold_origins,
    member_positions,
    relative_members,
    rmspe_scale,
    simplex_grid,
)
from tests.pipelines.training.support import FEATURES
from tests.synthetic_support import typed_synthetic

LIGHTGBM = {
    "library": "lightgbm",
    "num_rounds": 10,
    "params": {"objective": "regression", "num_leaves": 7, "num_threads": 1, "seed": 1},
}


def _oof(actual: np.ndarray, noise: float, bias: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    log_prediction = np.log1p(actual) + bias + rng.normal(0, noise, len(actual))
    return pd.DataFrame(
        {
            "Store": np.arange(len(actual)) % 50,
            "Date": pd.Timestamp("2015-05-01") + pd.to_timedelta(np.arange(len(actual)) // 50, "D"),
            "Sales": actual,
            "fold": 1 + (np.arange(len(actual)) >= len(actual) // 2),
            "fold_origin": pd.Timestamp("2015-05-01"),
            "log_prediction": log_prediction,
        }
    )


def test_simplex_grid_covers_every_blend_once():
    grid = simplex_grid(3, 0.02)
    assert len(grid) == 1326
    assert np.allclose(grid.sum(axis=1), 1.0) and (grid >= 0).all()
    assert len({tuple(np.round(w, 6)) for w in grid}) == len(grid)


def test_weights_favour_the_better_model_and_beat_every_member():
    actual = np.random.default_rng(0).lognormal(8.7, 0.4, 4000).round()
    good = _oof(actual, noise=0.05, bias=0.02, seed=1)
    worse = _oof(actual, noise=0.12, bias=0.0, seed=2)
    worst = _oof(actual, noise=0.20, bias=-0.05, seed=3)

    blend = fit_ensemble_weights(
        {"weights": "fitted", "weight_step": 0.02}, lightgbm=good, xgboost=worse, catboost=worst
    )

    weights = blend["weights"]
    assert sum(weights.values()) == pytest.approx(1.0)
    assert min(weights.values()) >= 0
    assert weights["lightgbm"] > weights["xgboost"] > weights["catboost"]
    metrics = blend["metrics"]
    assert metrics["rmspe_ensemble"] <= min(metrics[f"rmspe_{m}"] for m in weights)
    assert blend["method"] == "fitted"


def test_equal_weights_are_the_default():
    actual = np.random.default_rng(0).lognormal(8.7, 0.4, 2000).round()
    oofs = [_oof(actual, noise=n, bias=0.0, seed=s) for s, n in enumerate((0.05, 0.1, 0.2))]

    blend = fit_ensemble_weights({}, **dict(zip(MEMBERS, oofs, strict=True)))

    assert blend["method"] == "equal"
    assert list(blend["weights"].values()) == pytest.approx([1 / 3] * 3)
    assert sum(blend["weights"].values()) == 1.0
    assert blend["folds"] == {"fold1": "2015-05-01", "fold2": "2015-05-01"}


def test_unknown_blend_method_is_refused():
    actual = np.full(100, 5000.0)
    oofs = [_oof(actual, 0.1, 0.0, s) for s in range(3)]
    with pytest.raises(ValueError, match="'equal' or 'fitted', not 'median'"):
        fit_ensemble_weights({"weights": "median"}, **dict(zip(MEMBERS, oofs, strict=True)))


def test_scale_corrects_the_spread_but_not_the_bias_of_the_cv_weeks():
    rng = np.random.default_rng(4)
    actual = rng.lognormal(8.7, 0.4, 20000)
    prediction = actual * np.exp(rng.normal(0.0, 0.1, len(actual)))

    scale = rmspe_scale(actual, prediction)
    # A log-normal error of spread 0.1 wants about exp(-1.5 * 0.01) = 0.985 ...
    assert scale == pytest.approx(np.exp(-1.5 * 0.01), abs=0.003)
    assert rmspe(actual, prediction * scale) < rmspe(actual, prediction)
    # ... whatever the mean bias of those weeks: it does not carry over to the next ones.
    assert rmspe_scale(actual, prediction * 1.05) == pytest.approx(scale, rel=1e-9)


def test_fold_origins_count_back_from_the_holdout_oldest_first():
    origins = {"holdout_origin": "2015-06-20", "served_origin": "2015-08-01"}
    assert fold_origins(origins, {"fold_offsets_days": [42, 364]}) == [
        pd.Timestamp("2014-06-21"),
        pd.Timestamp("2015-05-09"),
    ]


def test_rows_that_do_not_line_up_are_refused():
    actual = np.full(100, 5000.0)
    shuffled = _oof(actual, 0.1, 0.0, 2).sample(frac=1.0, random_state=0)
    with pytest.raises(ValueError, match="do not line up"):
        fit_ensemble_weights(
            {"weight_step": 0.1},
            lightgbm=_oof(actual, 0.1, 0, 1), xgboost=shuffled, catboost=_oof(actual, 0.1, 0, 3),
        )  # fmt: skip


def test_fit_positions_sample_big_tables_reproducibly_and_keep_small_ones():
    table = pd.DataFrame({"Store": np.arange(10_000) % 7, "Sales": np.arange(10_000)})
    everything = np.ones(len(table), dtype=bool)
    drawn = fit_positions(everything, {"max_rows": 2_500, "seed": 3})
    assert len(drawn) == 2_500 and (np.diff(drawn) > 0).all()
    np.testing.assert_array_equal(drawn, fit_positions(everything, {"max_rows": 2_500, "seed": 3}))
    assert set(table["Store"].to_numpy()[drawn]) == set(range(7))
    for fit_rows in ({"max_rows": 10_000, "seed": 3}, {"max_rows": None}, None):
        np.testing.assert_array_equal(fit_positions(everything, fit_rows), np.arange(10_000))


@pytest.mark.parametrize("max_rows", [None, 500, 2_499, 2_500, 9_000])
def test_fit_positions_draw_what_sampling_the_filtered_table_draws(max_rows):
    """The rows of ``table.loc[where].sample(n, random_state=seed).sort_index()`` (the fit rows
    before this code), found without copying a row."""
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {"Date": pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 90, 10_000), "D"),
         "Sales": rng.integers(1, 9_000, 10_000)}
    )  # fmt: skip
    where = table["Date"] < pd.Timestamp("2015-02-15")
    drawn = fit_positions(where, {"max_rows": max_rows, "seed": 42})
    filtered = table.loc[where]
    expected = (
        filtered
        if max_rows is None or len(filtered) <= max_rows
        else filtered.sample(n=max_rows, random_state=42).sort_index()
    )
    np.testing.assert_array_equal(drawn, expected.index.to_numpy())


def test_a_member_with_a_draw_factor_draws_that_many_times_the_cap():
    everything = np.ones(10_000, dtype=bool)
    fit_rows = {"max_rows": 2_000, "seed": 3}
    member = {"library": "catboost", "num_rounds": 5, "params": {"subsample": 0.7}}
    wide = MemberSpec.from_params({**member, "draw_factor": 2})

    positions, spec = member_positions(everything, fit_rows, wide)

    assert len(positions) == 4_000 and (np.diff(positions) > 0).all()
    np.testing.assert_array_equal(
        positions, fit_positions(everything, {"max_rows": 4_000, "seed": 3})
    )
    assert spec.params["subsample"] == pytest.approx(0.35)  # 0.7 x 2,000 / 4,000
    # Fewer rows than twice the cap: all of them, each tree sampling 0.7 x 2,000 of them.
    positions, spec = member_positions(everything[:3_000], fit_rows, wide)
    assert len(positions) == 3_000
    assert spec.params["subsample"] == pytest.approx(0.7 * 2_000 / 3_000)
    # Under the cap, and without a cap, as configured.
    for rows, cap in ((1_500, fit_rows), (10_000, {"max_rows": None})):
        positions, spec = member_positions(everything[:rows], cap, wide)
        assert len(positions) == rows and spec is wide
    # A member without the factor draws exactly what fit_positions draws.
    plain = MemberSpec.from_params(member)
    positions, spec = member_positions(everything, fit_rows, plain)
    np.testing.assert_array_equal(positions, fit_positions(everything, fit_rows))
    assert spec is plain


def test_fit_arrays_are_the_drawn_rows_features_and_log_sales():
    """The fits' matrix, gathered column by column, equals converting the drawn rows."""
    rng = np.random.default_rng(1)
    table = pd.DataFrame(
        {"Date": pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 90, 5_000), "D"),
         "Sales": rng.integers(1, 9_000, 5_000),
         "a": rng.normal(size=5_000).astype("float32"),
         "b": np.where(rng.random(5_000) < 0.1, np.nan, rng.normal(size=5_000)).astype("float32"),
         "c": rng.integers(0, 7, 5_000)}
    )  # fmt: skip
    positions = fit_positions(
        table["Date"] < pd.Timestamp("2015-03-01"), {"max_rows": 1_000, "seed": 7}
    )
    x, y = fit_arrays(table, positions, ["c", "a", "b"])
    drawn = table.iloc[positions]
    assert x.dtype == np.float32 and x.shape == (1_000, 3)
    np.testing.assert_array_equal(x, drawn[["c", "a", "b"]].to_numpy(dtype="float32"))
    np.testing.assert_array_equal(y, np.log1p(drawn["Sales"].to_numpy()))


def test_fit_arrays_relative_to_a_level_subtract_it_and_leave_out_rows_without_one():
    """With a level feature the target is log1p(Sales) minus the level the matrix holds
    (float32, as the model reads it when it forecasts); a row without a level is not fit."""
    table = pd.DataFrame(
        {"Sales": [100, 2_000, 30_000, 400],
         "level": np.array([4.5, np.nan, 10.2, 6.0], dtype="float32"),
         "a": np.arange(4, dtype="float32")}
    )  # fmt: skip

    x, y = fit_arrays(table, np.arange(4), ["a", "level"], level="level")

    np.testing.assert_array_equal(x[:, 0], [0, 2, 3])
    np.testing.assert_allclose(
        y, np.log1p([100, 30_000, 400]) - np.array([4.5, 10.2, 6.0], dtype="float32")
    )


@pytest.fixture(scope="module")
def small_table():
    """A real training table of 6 synthetic stores, its origins and feature settings."""
    sales, stores = typed_synthetic(n_stores=6, seed=3)
    _, _, origins = split_holdout(sales, {"holdout_days": 42, "features": FEATURES})
    settings = resolve_feature_settings(sales, FEATURES)
    return build_model_input(sales, stores, settings), origins, settings


@pytest.mark.parametrize("relative", [False, True])
def test_cv_leaves_out_a_store_without_a_level_for_every_member(small_table, relative):
    """A store with no level in a fold's block is not served, so no member forecasts it there,
    relative or not: the members' out-of-fold rows line up whichever of them are relative."""
    table, origins, settings = small_table
    cv = {"fold_offsets_days": [42]}
    (origin,) = fold_origins(origins, cv)
    level = level_feature(FeatureConfig.from_params(settings))
    block = table["block_origin"] == origin
    stores = sorted(table.loc[block, "Store"].unique())
    without = table.copy()
    without.loc[block & (without["Store"] == stores[0]), level] = np.nan
    member = {**LIGHTGBM, "relative_to_level": relative}

    oof = cross_validate_member(without, origins, cv, member, settings)

    assert sorted(oof["Store"].unique()) == stores[1:]
    assert len(oof) == int((block & (table["Store"] != stores[0])).sum())
    assert np.isfinite(oof["log_prediction"]).all()


def test_the_cv_folds_draw_with_their_own_cap_and_the_fits_keep_theirs(small_table):
    """``cv_max_rows`` caps the folds' draw alone: the folds forecast as if ``max_rows`` were
    that cap, and the backtest fit is the one ``max_rows`` alone draws."""
    table, origins, settings = small_table
    cv = {"fold_offsets_days": [42]}
    (origin,) = fold_origins(origins, cv)
    cap = int((table["Date"] < origin).sum()) // 3
    both = {"max_rows": None, "cv_max_rows": cap, "seed": 5}

    capped = cross_validate_member(table, origins, cv, LIGHTGBM, settings, both)
    same = cross_validate_member(
        table, origins, cv, LIGHTGBM, settings, {"max_rows": cap, "seed": 5}
    )
    uncapped = cross_validate_member(table, origins, cv, LIGHTGBM, settings, {"max_rows": None})

    np.testing.assert_array_equal(capped["log_prediction"], same["log_prediction"])
    assert not np.allclose(capped["log_prediction"], uncapped["log_prediction"])
    holdout_block = table.loc[table["block_origin"] == origins["holdout_origin"]]
    x = holdout_block[feature_names(FeatureConfig.from_params(settings))].to_numpy("float32")
    backtests = [
        predict_member(*fit_backtest_member(table, origins, LIGHTGBM, settings, rows), x)
        for rows in (both, {"max_rows": None}, {"max_rows": cap, "seed": 5})
    ]
    np.testing.assert_array_equal(backtests[0], backtests[1])
    assert not np.allclose(backtests[0], backtests[2])
    assert cv_fit_rows(both) == {"max_rows": cap, "cv_max_rows": cap, "seed": 5}
    for unset in ({"max_rows": 10, "cv_max_rows": None}, {"max_rows": 10}, None):
        assert cv_fit_rows(unset) is unset


@pytest.mark.parametrize("bad", [0, -5, 2.5, "many", True])
def test_a_cv_cap_that_is_not_a_count_of_rows_is_refused_by_name(bad):
    with pytest.raises(ValueError, match=r"training\.fit_rows\.cv_max_rows .*not "):
        cv_fit_rows({"max_rows": 400_000, "cv_max_rows": bad})


@pytest.mark.parametrize("relative", [False, True])
def test_the_backtest_is_the_model_a_run_at_the_holdout_origin_serves(relative):
    """The gate judges the backtest as the version a run on the rows before the holdout would
    have served (the Production version, when the data and settings were the same): fit on
    the served table's rows before the holdout with the counters known there, it is that
    model, to the bit. The rows as the served table holds them fit another model."""
    sales, stores = typed_synthetic(n_stores=6, seed=3)
    _, _, origins = split_holdout(sales, {"holdout_days": 42, "features": FEATURES})
    settings = resolve_feature_settings(sales, FEATURES)
    holdout = pd.Timestamp(origins["holdout_origin"])
    table = build_model_input(sales, stores, settings)
    at_holdout = build_model_input(sales.loc[sales["Date"] < holdout], stores, settings)
    # Big enough to split on the days-until counters (so the last check can fail).
    params = {**LIGHTGBM["params"], "num_leaves": 31, "min_data_in_leaf": 5}
    member = {**LIGHTGBM, "num_rounds": 60, "params": params, "relative_to_level": relative}
    config = FeatureConfig.from_params(settings)
    names, level = feature_names(config), level_feature(config)
    block = table.loc[table["block_origin"] == holdout].dropna(subset=[level])
    x = block[names].to_numpy(dtype="float32")
    offset = block[level].to_numpy(dtype="float32") if relative else None

    def forecast(fitted):
        library, model = fitted
        return predict_member(library, model, x, offset)

    backtest = forecast(fit_backtest_member(table, origins, member, settings))
    served_there = forecast(fit_served_member(at_holdout, member, settings))
    np.testing.assert_array_equal(backtest, served_there)

    rows = np.flatnonzero((table["Date"] < holdout).to_numpy())
    as_built = fit_arrays(table, rows, names, level if relative else None)
    from_table = forecast(("lightgbm", fit_member(MemberSpec.from_params(member), *as_built)))
    assert not np.array_equal(from_table, backtest)


def test_relative_members_are_the_fitted_ones_their_settings_say():
    settings = {  # fmt: skip
        "lightgbm": {**LIGHTGBM, "relative_to_level": True},
        "xgboost": {
            "library": "xgboost",
            "num_rounds": 5,
            "params": {},
            "relative_to_level": False,
        },
        "catboost": {"library": "catboost", "num_rounds": 5, "params": {}},  # absent: absolute
    }
    fitted = {name: ("library", object()) for name in settings}

    assert relative_members(settings, fitted) == ["lightgbm"]
    assert relative_members(settings, {"xgboost": fitted["xgboost"]}) == []


def test_a_fitted_member_without_settings_is_refused_by_name():
    with pytest.raises(ValueError, match=r"\['xgboost'\].*relative_to_level"):
        relative_members({"lightgbm": LIGHTGBM}, {"lightgbm": (), "xgboost": ()})
