"""The naive forecast every model is judged against: each store's median sales by weekday and
promo, from the days before the forecast origin.

The rolling benchmark scores it on the same days as the model (its skill is the model's RMSPE
divided by this one's), and the gate requires a candidate to beat it on the windows it judges,
so that a hard season (Christmas) is told apart from a bad model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KEYS = ["Store", "DayOfWeek", "Promo"]


def median_baseline(history: pd.DataFrame, rows: pd.DataFrame) -> np.ndarray:
    """Per-(Store, DayOfWeek, Promo) median of the open, selling ``history`` rows, for ``rows``.

    A combination the history lacks falls back to the store's median; a store without
    history gets NaN.

    Args:
        history: Rows with ``Store``, ``DayOfWeek``, ``Promo``, ``Open``, ``Sales`` (only the
            days before the forecast origin should be passed).
        rows: The rows to forecast (``Store``, ``DayOfWeek``, ``Promo``).

    Returns:
        The baseline forecast, aligned with ``rows``.
    """
    history = history.loc[(history["Open"] == 1) & (history["Sales"] > 0)]
    median = history.groupby(KEYS)["Sales"].median().rename("baseline")
    keys = rows[KEYS].astype("int64")
    baseline = keys.join(median, on=KEYS)["baseline"]
    baseline = baseline.fillna(keys["Store"].map(history.groupby("Store")["Sales"].median()))
    return baseline.to_numpy(dtype="float64")
