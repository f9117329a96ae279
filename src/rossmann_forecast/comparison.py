"""Two versions' forecasts of the same store-days, compared with the stores resampled.

The gate asks whether a candidate is worse than the Production version on the holdout
(``validation.production_tolerance``), and the review shows a reviewer the same comparison
for Staging. One six-week holdout is a draw of stores and days: two versions fit on the same
rows differ on it by a few percent (on the 82 real stores of the dev slice, up to 5% with only
the boosters' seed changed). So the comparison comes with an interval over bootstrap resamples
of the stores (``metrics.paired_store_bootstrap``), set by ``production_bootstrap`` in
``conf/base/globals.yml``. A resampled comparison judges the stores as a population, so the
review also looks store by store (``store_comparison``): a candidate much worse on one or two
stores only shows there.

Pure functions: numpy and pandas only.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from rossmann_forecast.metrics import best_scale, paired_store_bootstrap

logger = logging.getLogger(__name__)

# The parameter named in a refusal (the review reads the same global setting).
BOOTSTRAP_PARAMETER = "validation.production_bootstrap"
BOOTSTRAP_KEYS = ("confidence", "resamples", "min_stores", "seed")
STORE_CHECK_PARAMETER = "validation.store_check"
STORE_CHECK_KEYS = ("min_days", "max_rmspe_increase")
# Store RMSPE increases that agree to this many decimals are a tie (float noise is ~1e-16).
_TIE_DECIMALS = 12


def _settings_block(settings: Any, keys: tuple[str, ...], parameter: str) -> str:
    """``Parameter <parameter>`` for the refusals of a block of settings, once the block is
    a mapping of exactly ``keys``.

    Raises:
        ValueError: It is not, naming ``parameter``.
    """
    where = f"Parameter {parameter}"
    if not isinstance(settings, dict) or set(settings) != set(keys):
        raise ValueError(f"{where} must be null or hold exactly {list(keys)}, not {settings!r}")
    return where


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
    where = _settings_block(settings, BOOTSTRAP_KEYS, parameter)
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


def _paired(candidate: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """The store-days both forecast: ``Store, Date, Sales, prediction, prediction_reference``."""
    return candidate[["Store", "Date", "Sales", "prediction"]].merge(
        reference[["Store", "Date", "prediction"]],
        on=["Store", "Date"],
        suffixes=("", "_reference"),
        validate="one_to_one",
    )


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
    pairs = _paired(candidate, reference)
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

    def change(ratio: float) -> str:
        # Rounded first, so that one model compared with itself reads +0.0%, not -0.0%.
        return f"{round(ratio - 1, 3) + 0.0:+.1%}"

    return (
        f"{change(comparison['ratio'])}, {share:.0%} sure {change(comparison['low'])} to "
        f"{change(comparison['high'])} over {comparison['stores']} stores resampled"
    )


def store_comparison(
    candidate: pd.DataFrame, reference: pd.DataFrame, min_days: int, *, rescaled: bool = False
) -> pd.DataFrame:
    """Each store's RMSPE under the two versions on the store-days both forecast, the stores
    where the candidate lost most first.

    The resampled comparison judges the stores as a population: a candidate much worse on one
    or two stores (a broken history, a store the new code mishandles) is not shown worse.
    This table is where such a store shows.

    Args:
        candidate, reference: ``Store, Date, Sales, prediction`` (the reference's ``Sales``
            is not read).
        min_days: Stores with fewer days with sales are left out (too few to score).
        rescaled: Each version's forecast at its one best constant scale over all the rows
            (``metrics.best_scale``), as the gate compares the two versions by default. Two
            versions' levels on a holdout differ by their blends' scales (each fitted for
            the season it serves), by 4-5% at seasonal origins, and as forecast that alone
            moved a store by up to 0.049 RMSPE points (synthetic rolling benchmark). One
            scale for all the stores leaves a store forecast off its own level in view.

    Returns:
        ``Store``, ``days`` (with sales), ``rmspe`` (the candidate's), ``rmspe_reference``
        and ``increase`` (their difference, in RMSPE points), sorted by ``increase``,
        largest first, ties by store; a forecast that is not finite scores NaN, sorted
        first. The scales are in ``attrs["scale"]`` and ``attrs["scale_reference"]`` (1.0
        unless rescaled).
    """
    pairs = _paired(candidate, reference)
    selling = pairs[pairs["Sales"] > 0]
    sales = selling["Sales"].to_numpy(dtype="float64")
    scales, squares = {}, {"Store": selling["Store"].to_numpy()}
    for name, column in (("rmspe", "prediction"), ("rmspe_reference", "prediction_reference")):
        forecast = selling[column].to_numpy(dtype="float64")
        scale = best_scale(sales, forecast) if rescaled and len(sales) else 1.0
        scales[name] = scale
        squares[name] = (scale * forecast / sales - 1) ** 2
    grouped = pd.DataFrame(squares).groupby("Store")
    table = np.sqrt(grouped[["rmspe", "rmspe_reference"]].mean()).assign(days=grouped.size())
    table = table.loc[table["days"] >= int(min_days)].reset_index()
    table["increase"] = table["rmspe"] - table["rmspe_reference"]
    # Ties broken by store: where the two versions forecast alike (a refit of unchanged
    # code), every increase is float noise, and the worst store named changed from run to run.
    order = table.assign(tied=table["increase"].round(_TIE_DECIMALS))
    order = order.sort_values(
        ["tied", "Store"], ascending=[False, True], na_position="first", kind="stable"
    )
    table = table.loc[order.index]
    columns = ["Store", "days", "rmspe", "rmspe_reference", "increase"]
    table = table[columns].reset_index(drop=True)
    table.attrs.update(scale=scales["rmspe"], scale_reference=scales["rmspe_reference"])
    return table


def store_records(table: pd.DataFrame, rows: int) -> list[dict[str, Any]]:
    """The first ``rows`` of ``store_comparison``'s table as plain records (for JSON)."""
    return [
        {"Store": int(row.Store), "days": int(row.days), "rmspe": float(row.rmspe),
         "rmspe_reference": float(row.rmspe_reference), "increase": float(row.increase)}
        for row in table.head(int(rows)).itertuples()
    ]  # fmt: skip


def above_limit(table: pd.DataFrame, limit: float) -> pd.Series:
    """The stores of ``store_comparison``'s table (or its records) the candidate forecasts
    more than ``limit`` above the reference, or not at all (a hole in the candidate's
    forecast); a hole in the reference's is not the candidate's fault."""
    return table["rmspe"].isna() | (table["increase"] > limit)


def check_store_check(settings: Any, parameter: str = STORE_CHECK_PARAMETER) -> dict | None:
    """The gate's store check, checked: ``None`` (no check) or ``min_days`` a whole number of
    at least 1 and ``max_rmspe_increase`` a number above 0.

    Raises:
        ValueError: Naming ``parameter`` and what is wrong with it.
    """
    if settings is None:
        return None
    where = _settings_block(settings, STORE_CHECK_KEYS, parameter)
    days, limit = settings["min_days"], settings["max_rmspe_increase"]
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"{where}.min_days must be a whole number of at least 1, not {days!r}")
    if isinstance(limit, bool) or not isinstance(limit, int | float) or not limit > 0:
        raise ValueError(
            f"{where}.max_rmspe_increase must be a number above 0 (RMSPE points, such as "
            f"0.05), not {limit!r}"
        )
    return {"min_days": days, "max_rmspe_increase": float(limit)}


def store_check(
    candidate: pd.DataFrame,
    reference: pd.DataFrame,
    settings: Any,
    rows: int = 3,
    *,
    rescaled: bool = False,
) -> dict[str, Any] | None:
    """How many stores the candidate forecasts more than ``max_rmspe_increase`` worse than
    the reference (``store_comparison``, ``rescaled`` or as is; a store forecast with holes
    counts), and the worst.

    Returns:
        ``None`` without settings; else ``min_days``, ``limit``, ``rescaled``, ``scale`` and
        ``scale_reference`` (each version's, 1.0 as is), ``compared`` (stores with enough
        days), ``above`` (how many are over the limit) and ``worst`` (the first ``rows``
        stores, ``store_records``).
    """
    checked = check_store_check(settings)
    if checked is None:
        return None
    table = store_comparison(candidate, reference, checked["min_days"], rescaled=rescaled)
    limit = checked["max_rmspe_increase"]
    return {
        "min_days": checked["min_days"],
        "limit": limit,
        "rescaled": bool(rescaled),
        "scale": float(table.attrs["scale"]),
        "scale_reference": float(table.attrs["scale_reference"]),
        "compared": len(table),
        "above": int(above_limit(table, limit).sum()),
        "worst": store_records(table, rows),
    }
