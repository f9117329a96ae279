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
    return float(np.sqrt(max(0.0, 1.0 - float(np.mean(ratio)) ** 2 / second)))


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
