"""Node tests of the training pipeline: the blend weights."""

import numpy as np
import pandas as pd
import pytest

from rossmann_forecast.pipelines.training.nodes import fit_ensemble_weights, simplex_grid


def _oof(actual: np.ndarray, noise: float, bias: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    log_prediction = np.log1p(actual) + bias + rng.normal(0, noise, len(actual))
    return pd.DataFrame(
        {
            "Store": np.arange(len(actual)) % 50,
            "Date": pd.Timestamp("2015-05-01") + pd.to_timedelta(np.arange(len(actual)) // 50, "D"),
            "Sales": actual,
            "fold": 1 + (np.arange(len(actual)) >= len(actual) // 2),
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

    blend = fit_ensemble_weights(good, worse, worst, {"weight_step": 0.02})

    weights = blend["weights"]
    assert sum(weights.values()) == pytest.approx(1.0)
    assert min(weights.values()) >= 0
    assert weights["lightgbm"] > weights["xgboost"] > weights["catboost"]
    metrics = blend["metrics"]
    assert metrics["rmspe_ensemble"] <= min(metrics[f"rmspe_{m}"] for m in weights)
    # The +2% bias of the best model is taken out by the scale.
    assert blend["scale"] < 1.0


def test_rows_that_do_not_line_up_are_refused():
    actual = np.full(100, 5000.0)
    shuffled = _oof(actual, 0.1, 0.0, 2).sample(frac=1.0, random_state=0)
    with pytest.raises(ValueError, match="do not line up"):
        fit_ensemble_weights(_oof(actual, 0.1, 0, 1), shuffled, _oof(actual, 0.1, 0, 3),
                             {"weight_step": 0.1})  # fmt: skip
