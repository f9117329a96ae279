"""Two versions' forecasts of the same store-days, compared with the stores resampled.

The gate asks whether a candidate is worse than the Production version on the holdout
(``validation.production_tolerance``), and the review shows a reviewer the same comparison
for Staging. One six-week holdout is a draw of stores and days: two versions fit on the same
rows differ on it by a few percent (on the 82 real stores of the dev slice, up to 5% with only
the boosters' seed changed). So the comparison comes with an interval over bootstrap resamples
of the stores (``metrics.paired_store_bootstrap``), set by ``production_bootstrap`` in
``conf/base/globals.yml``.

Pure functions: numpy and pandas only.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from rossmann_forecast.metrics import paired_store_bootstrap

logger = logging.getLogger(__name__)

# The parameter named in a refusal (the review reads the same global setting).
BOOTSTRAP_PARAMETER = "validation.production_bootstrap"
BOOTSTRAP_KEYS = ("confidence", "resamples", "min_stores", "seed")


def check_production_bootstrap(
    settings: Any, parameter: str = BOOTSTRAP_PARAMETER
) -> dict[str, Any] | None:
    """The resampling settings, checked: ``None`` (compare the two figures as they are) or
    ``confidence`` in (0.5, 1), ``resamples`` and ``min_stores`` positive whole numbers, and
    a whole-number ``seed``.

    Raises:
        ValueError: Naming ``parameter`` and what is wrong with it.
    """
    if settings is None:
        return None
    where = f"Parameter {parameter}"
    if not isinstance(settings, dict) or set(settings) != set(BOOTSTRAP_KEYS):
        raise ValueError(
            f"{where} must be null or hold exactly {list(BOOTSTRAP_KEYS)}, not {settings!r}"
        )
    confidence = settings["confidence"]
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or not (0.5 < confidence < 1.0)
    ):
        raise ValueError(f"{where}.confidence must be a share in (0.5, 1), not {confidence!r}")
    for key in ("resamples", "min_stores", "seed"):
        value, least = settings[key], 0 if key == "seed" else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(
                f"{where}.{key} must be a whole number of at least {least}, not {value!r}"
            )
    return dict(settings)


def resampled_comparison(
    candidate: pd.DataFrame,
    reference: pd.DataFrame,
    settings: Any,
    *,
    rescaled: bool,
    tolerance: float,
    parameter: str = BOOTSTRAP_PARAMETER,
) -> dict[str, Any] | None:
    """``candidate``'s forecast against ``reference``'s on the store-days both forecast.

    Args:
        candidate, reference: ``Store, Date, Sales, prediction`` (the reference's ``Sales``
            is not read).
        settings: ``production_bootstrap`` (``check_production_bootstrap``).
        rescaled: Each at its best constant scale (``metrics.rescaled_rmspe``), or as is.
        tolerance: The share by which the candidate may be worse before it is ``worse``.
        parameter: Where ``settings`` come from, named in a refusal.

    Returns:
        ``metrics.paired_store_bootstrap``'s answer; ``None`` when ``settings`` is null, the
        rows hold fewer stores with sales than ``min_stores`` (too few to resample) or a
        forecast that is not finite: the two figures are then compared as they are.
    """
    checked = check_production_bootstrap(settings, parameter)
    if checked is None:
        return None
    pairs = candidate[["Store", "Date", "Sales", "prediction"]].merge(
        reference[["Store", "Date", "prediction"]],
        on=["Store", "Date"],
        suffixes=("", "_reference"),
        validate="one_to_one",
    )
    selling = pairs[pairs["Sales"] > 0]
    if not np.isfinite(selling[["prediction", "prediction_reference"]].to_numpy()).all():
        # No interval for a forecast with holes: the figures as they are judge it (a
        # non-finite RMSPE is never within a tolerance).
        logger.warning("Compared without resampling the stores: a forecast is not finite")
        return None
    stores = int(selling["Store"].nunique())
    if stores < checked["min_stores"]:
        logger.info(
            "Compared without resampling the stores: %d store(s) with sales, fewer than "
            "%s.min_stores (%d)",
            stores,
            parameter,
            checked["min_stores"],
        )
        return None
    return paired_store_bootstrap(
        pairs["Store"].to_numpy(),
        pairs["Sales"].to_numpy(),
        pairs["prediction"].to_numpy(),
        pairs["prediction_reference"].to_numpy(),
        rescaled=rescaled,
        tolerance=tolerance,
        confidence=float(checked["confidence"]),
        resamples=int(checked["resamples"]),
        seed=int(checked["seed"]),
    )


def resampled_text(comparison: dict[str, Any] | None) -> str:
    """``+4.1%, 90% sure +0.8% to +6.6% over 82 stores resampled`` (empty without one): by
    how much, and how sure (the central interval whose lower end the gate reads)."""
    if comparison is None:
        return ""
    share = 2 * comparison["confidence"] - 1
    return (
        f"{comparison['ratio'] - 1:+.1%}, {share:.0%} sure {comparison['low'] - 1:+.1%} to "
        f"{comparison['high'] - 1:+.1%} over {comparison['stores']} stores resampled"
    )
