"""The competition metric (RMSPE) and a bias measure, both over days with positive sales.

Closed days and days with zero sales are ignored, as in the Kaggle competition: a percentage
error is undefined when the true value is zero.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def _positive_pairs(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Return (y, yhat) as float arrays restricted to the rows where y > 0."""
    y = np.asarray(y_true, dtype=float).ravel()
    yhat = np.asarray(y_pred, dtype=float).ravel()
    if y.shape != yhat.shape:
        raise ValueError(
            f"y_true and y_pred must have the same length, got {y.size} and {yhat.size}"
        )
    keep = y > 0
    if not keep.any():
        raise ValueError(
            "no row has y_true > 0: RMSPE is only defined over days with positive sales"
        )
    return y[keep], yhat[keep]


def rmspe(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared percentage error over the rows where ``y_true > 0``.

    Args:
        y_true: Actual sales (array-like or Series).
        y_pred: Predicted sales, same length.

    Returns:
        ``sqrt(mean(((y - yhat) / y) ** 2))`` over rows with positive actual sales.

    Raises:
        ValueError: If the lengths differ or no row has ``y_true > 0``.
    """
    y, yhat = _positive_pairs(y_true, y_pred)
    return float(np.sqrt(np.mean(((y - yhat) / y) ** 2)))


def mean_percentage_error(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean signed percentage error (bias) over the rows where ``y_true > 0``.

    Args:
        y_true: Actual sales (array-like or Series).
        y_pred: Predicted sales, same length.

    Returns:
        ``mean((yhat - y) / y)``: positive means over-prediction.

    Raises:
        ValueError: If the lengths differ or no row has ``y_true > 0``.
    """
    y, yhat = _positive_pairs(y_true, y_pred)
    return float(np.mean((yhat - y) / y))


def best_scale(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """The one constant factor for ``y_pred`` that minimises RMSPE on these rows:
    ``mean(r) / mean(r^2)`` with ``r = yhat / y`` over the rows with ``y > 0`` and a finite
    forecast (1.0 when none is left or the forecast is zero everywhere). ``rescaled_rmspe``
    is the RMSPE at this scale.

    Raises:
        ValueError: If the lengths differ or no row has ``y_true > 0``.
    """
    y, yhat = _positive_pairs(y_true, y_pred)
    ratio = yhat / y
    ratio = ratio[np.isfinite(ratio)]
    second = float(np.mean(ratio**2)) if ratio.size else 0.0
    return float(np.mean(ratio)) / second if second > 0.0 else 1.0


def rescaled_rmspe(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """RMSPE after the one constant rescale of ``y_pred`` that minimises it on these rows.

    With ``r = yhat / y`` the best scale is ``mean(r) / mean(r^2)`` and what is left is
    ``sqrt(1 - mean(r)^2 / mean(r^2))``: how well the forecast follows the stores and days,
    whatever its level on this window. Two forecasts that differ by a constant factor score
    the same.

    Raises:
        ValueError: If the lengths differ or no row has ``y_true > 0``.
    """
    y, yhat = _positive_pairs(y_true, y_pred)
    ratio = yhat / y
    second = float(np.mean(ratio**2))
    if second == 0.0:
        return 1.0  # a forecast of zero everywhere: no scale helps
    # np.maximum, not max: a forecast with a hole (NaN) scores NaN, as in rmspe, not 0.
    return float(np.sqrt(np.maximum(0.0, 1.0 - float(np.mean(ratio)) ** 2 / second)))


def error_summary(y_true: ArrayLike, y_pred: ArrayLike) -> dict[str, float | int]:
    """RMSPE, bias and the number of rows with positive actuals (NaN scores when none)."""
    actual = np.asarray(y_true, dtype="float64")
    predicted = np.asarray(y_pred, dtype="float64")
    selling = actual > 0
    if not selling.any():
        return {"rmspe": float("nan"), "bias": float("nan"), "rows": 0}
    return {
        "rmspe": rmspe(actual[selling], predicted[selling]),
        "bias": mean_percentage_error(actual[selling], predicted[selling]),
        "rows": int(selling.sum()),
    }


def paired_store_bootstrap(
    stores: ArrayLike,
    y_true: ArrayLike,
    candidate: ArrayLike,
    reference: ArrayLike,
    *,
    rescaled: bool,
    tolerance: float,
    confidence: float,
    resamples: int,
    seed: int,
) -> dict[str, float | int | bool]:
    """How much worse ``candidate`` forecasts than ``reference`` on the same rows, and how sure.

    Two forecasts of the same store-days are compared on RMSPE (``rescaled``: each at its own
    best constant scale, ``rescaled_rmspe``) over bootstrap resamples of the stores: a store's
    days err together, so the store, not the day, is what is drawn (with replacement, all of
    its days at once). Each resample's scores come from per-store sums (rows, ``sum r``,
    ``sum r^2`` with ``r = forecast / actual``), so a resample costs a matrix product.

    The candidate is ``worse`` only when even the ``1 - confidence`` quantile of its excess
    over the reference, ``candidate - (1 + tolerance) * reference``, is above zero: it is
    worse by more than ``tolerance`` with that confidence, not by a draw of the stores.

    Returns:
        ``ratio`` (candidate / reference on all rows), ``low`` and ``high`` (the ratio's
        ``1 - confidence`` and ``confidence`` quantiles over resamples), ``worse``,
        ``stores``, ``resamples``, ``confidence``, ``tolerance``.

    Raises:
        ValueError: If the lengths differ, or no row has ``y_true > 0``.
    """
    y = np.asarray(y_true, dtype=float).ravel()
    arrays = [np.asarray(a).ravel() for a in (stores, candidate, reference)]
    if any(a.shape != y.shape for a in arrays):
        raise ValueError(
            "stores, y_true and both forecasts must have the same length, got "
            f"{[y.size, *(a.size for a in arrays)]}"
        )
    keep = y > 0
    if not keep.any():
        raise ValueError(
            "no row has y_true > 0: RMSPE is only defined over days with positive sales"
        )
    store, forecasts = arrays[0][keep], [a[keep].astype(float) / y[keep] for a in arrays[1:]]
    _, code = np.unique(store, return_inverse=True)
    k = int(code.max()) + 1
    rows = np.bincount(code, minlength=k).astype(float)
    sums = [
        (np.bincount(code, r, minlength=k), np.bincount(code, r * r, minlength=k))
        for r in forecasts
    ]
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(k, np.full(k, 1.0 / k), size=int(resamples)).astype(float)
    weights = np.vstack([np.ones(k), draws])  # row 0: every store once (the rows as they are)

    def score(first: np.ndarray, second: np.ndarray) -> np.ndarray:
        n, s1, s2 = weights @ rows, weights @ first, weights @ second
        if rescaled:
            with np.errstate(divide="ignore", invalid="ignore"):
                left = np.where(s2 > 0, 1.0 - s1**2 / (n * s2), 1.0)
        else:
            left = (n - 2.0 * s1 + s2) / n
        return np.sqrt(np.clip(left, 0.0, None))

    ours, theirs = (score(*pair) for pair in sums)
    excess = ours[1:] - (1.0 + tolerance) * theirs[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = ours / theirs
    finite = ratio[1:][np.isfinite(ratio[1:])]
    low, high = (
        np.quantile(finite, [1.0 - confidence, confidence]) if finite.size else (np.nan, np.nan)
    )
    return {
        "ratio": float(ratio[0]),
        "low": float(low),
        "high": float(high),
        "worse": bool(np.quantile(excess, 1.0 - confidence) > 0.0),
        "stores": k,
        "resamples": int(resamples),
        "confidence": float(confidence),
        "tolerance": float(tolerance),
    }
