"""Nodes of the raw data layer: validate and type the three Kaggle files, record their lineage.

Each raw file is validated on its own (``validate_*``), then ``check_sales_dates`` and
``check_stores_known`` check the cross-file rules (train.csv ends before test.csv starts and has
no row far past the other stores' end; every store in train.csv and test.csv is in store.csv)
and only then release the three validated tables. So a bad file stops the run before any validated table is written.

Raw-data lineage: reading files is I/O, so it does not happen in a node. The catalog's
``raw_data_fingerprint`` dataset (``RawFilesFingerprintDataset``) fingerprints the raw files when
it is loaded (path, sha256, DVC md5, synthetic or real); ``build_raw_data_lineage`` adds the
validated row counts and returns the ``raw_data_lineage`` record, which the catalog saves as JSON.
"""

from __future__ import annotations

import copy
import logging
import time
from typing import Any

import pandas as pd

from rossmann_forecast.model.features import FeatureConfig, build_training_table, feature_names
from rossmann_forecast.raw.files import STORE_FILE, TEST_FILE, TRAIN_FILE

# The pandera schemas (``rossmann_forecast.raw.schemas``) are imported where a table is checked:
# every `kedro` command builds every pipeline, and pandera's import (~0.15 s) would otherwise
# be paid by inference and the registry commands, which never validate a raw file.

logger = logging.getLogger(__name__)


def _validate(raw: pd.DataFrame, file_name: str) -> pd.DataFrame:
    from rossmann_forecast.raw.schemas import validate_raw_table  # noqa: PLC0415

    started = time.perf_counter()
    validated = validate_raw_table(raw, file_name)
    logger.info(
        "Validated %s: %s rows, %d columns in %.1f s",
        file_name,
        f"{len(validated):,}",
        validated.shape[1],
        time.perf_counter() - started,
    )
    return validated


def validate_sales(sales_raw: pd.DataFrame) -> pd.DataFrame:
    """Validate and type ``train.csv`` (daily sales per store).

    Args:
        sales_raw: ``train.csv`` as loaded.

    Returns:
        The typed table: Date ``datetime64[us]``, StateHoliday ``"0"/"a"/"b"/"c"``, the other
        columns ``int64``.

    Raises:
        RawDataError: The file breaks its schema.
    """
    return _validate(sales_raw, TRAIN_FILE)


def validate_stores(stores_raw: pd.DataFrame) -> pd.DataFrame:
    """Validate and type ``store.csv`` (one row of attributes per store).

    Args:
        stores_raw: ``store.csv`` as loaded.

    Returns:
        The typed table: categories as strings, CompetitionDistance ``float64``, competition and
        Promo2 dates nullable ``Int64``, Store and Promo2 ``int64``.

    Raises:
        RawDataError: The file breaks its schema.
    """
    return _validate(stores_raw, STORE_FILE)


def validate_test(test_raw: pd.DataFrame) -> pd.DataFrame:
    """Validate and type ``test.csv`` (the days to forecast).

    Args:
        test_raw: ``test.csv`` as loaded.

    Returns:
        The typed table as for ``validate_sales``, plus ``Id``; Open is nullable ``Int64``.

    Raises:
        RawDataError: The file breaks its schema.
    """
    return _validate(test_raw, TEST_FILE)


def check_sales_dates(
    sales: pd.DataFrame, test: pd.DataFrame, max_days_past_data_end: int
) -> pd.DataFrame:
    """Check that train.csv holds history only: no row after the data's end or in test.csv's days.

    A row dated after the other stores' last date (a typo'd year, one store's export run ahead)
    or on or after test.csv's first date would move the holdout and every store's forecast
    origin to it.

    Args:
        sales: Validated ``train.csv``.
        test: Validated ``test.csv``.
        max_days_past_data_end: ``params:data_processing.max_days_past_data_end``.

    Returns:
        ``sales`` unchanged, released only when the check passes.

    Raises:
        RawDataError: Naming the rows (line, Store, Date) and the rule they break.
    """
    from rossmann_forecast.raw.schemas import check_sales_dates as check  # noqa: PLC0415

    check(sales, test, max_days_past_data_end)
    return sales


def check_stores_known(
    sales: pd.DataFrame, stores: pd.DataFrame, test: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Check that every store in train.csv and test.csv is listed in store.csv.

    Args:
        sales: Validated ``train.csv``.
        stores: Validated ``store.csv``.
        test: Validated ``test.csv``.

    Returns:
        The three tables unchanged, released only when the check passes.

    Raises:
        RawDataError: A Store in train.csv or test.csv is not in store.csv.
    """
    from rossmann_forecast.raw.schemas import check_known_stores  # noqa: PLC0415

    known = stores["Store"]
    check_known_stores(sales, known, TRAIN_FILE)
    check_known_stores(test, known, TEST_FILE)
    logger.info(
        "Every store in %s (%d) and %s (%d) is in %s (%d)",
        TRAIN_FILE,
        sales["Store"].nunique(),
        TEST_FILE,
        test["Store"].nunique(),
        STORE_FILE,
        len(stores),
    )
    return sales, stores, test


def build_raw_data_lineage(
    raw_data_fingerprint: dict[str, Any],
    sales: pd.DataFrame,
    stores: pd.DataFrame,
    test: pd.DataFrame,
) -> dict[str, Any]:
    """The raw-data lineage record: source, synthetic parameters, and each file's identity.

    Args:
        raw_data_fingerprint: The ``raw_data_fingerprint`` dataset: ``{"source", "synthetic", "files": {name:
            {"path", "sha256", "dvc_md5"}}}``.
        sales: Validated ``train.csv``.
        stores: Validated ``store.csv``.
        test: Validated ``test.csv``.

    Returns:
        ``{"source": "synthetic"|"real", "synthetic": {"seed", "n_stores"}|None,
        "files": {name: {"path", "sha256", "dvc_md5", "rows"}}}``.
    """
    lineage = copy.deepcopy(raw_data_fingerprint)
    rows = {TRAIN_FILE: len(sales), STORE_FILE: len(stores), TEST_FILE: len(test)}
    for name, count in rows.items():
        lineage["files"][name]["rows"] = int(count)
    logger.info(
        "Raw data lineage: %s data, %s",
        lineage["source"],
        ", ".join(f"{name} {count:,} rows" for name, count in rows.items()),
    )
    return lineage


def resolve_feature_settings(
    sales_validated: pd.DataFrame, features: dict[str, Any]
) -> dict[str, Any]:
    """The feature settings this data allows: ``params:data_processing.features`` plus
    ``customers``, true when train.csv has a Customers column.

    Args:
        sales_validated: Typed train rows.
        features: ``params:data_processing.features``.

    Returns:
        The settings every later step uses (``FeatureConfig.from_params`` reads them).
    """
    settings = {**features, "customers": "Customers" in sales_validated.columns}
    if not settings["customers"]:
        full = set(feature_names(FeatureConfig.from_params({**features, "customers": True})))
        left_out = sorted(full - set(feature_names(FeatureConfig.from_params(settings))))
        logger.warning(
            "%s has no Customers column: training without the %d customer features (%s)",
            TRAIN_FILE,
            len(left_out),
            ", ".join(left_out),
        )
    return settings


def split_holdout(
    sales_validated: pd.DataFrame, data_processing: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """Cut the last ``holdout_days`` of train off as the holdout.

    Args:
        sales_validated: Typed train rows.
        data_processing: ``params:data_processing`` (``holdout_days``, ``features``).

    Returns:
        The training window (every row before the holdout), the holdout rows (all rows,
        closed days included, in the test format plus Sales and, if present, Customers), and
        the forecast origins: ``holdout_origin`` (the first holdout day, where the gate's
        backtest forecasts from), ``served_origin`` (the day after the last row, where the
        served model forecasts from) and ``first_date``, as ``YYYY-MM-DD``.

    Raises:
        ValueError: When train.csv is too short to hold a holdout and enough history.
    """
    days = int(data_processing["holdout_days"])
    history_days = int(data_processing["features"]["min_history_days"])
    block_days = int(data_processing["features"]["block_days"])
    first, last = sales_validated["Date"].min(), sales_validated["Date"].max()
    covered = (last - first).days + 1
    needed = days + history_days + 2 * block_days
    if covered < needed:
        raise ValueError(
            f"train.csv covers {covered} days ({first.date()} .. {last.date()}); forecasting "
            f"needs at least {needed}: the holdout ({days} days), the history the features look "
            f"back on ({history_days}) and two training blocks of {block_days} days. "
            "Use the full Kaggle train.csv (942 days) or remove the files to use synthetic data."
        )
    origin = last - pd.Timedelta(days=days - 1)
    before = sales_validated["Date"] < origin
    window = sales_validated.loc[before].sort_values(["Date", "Store"], ignore_index=True)
    holdout = sales_validated.loc[~before].sort_values(["Date", "Store"], ignore_index=True)
    origins = {
        "first_date": str(first.date()),
        "holdout_origin": str(origin.date()),
        "served_origin": str((last + pd.Timedelta(days=1)).date()),
    }
    logger.info(
        "Holdout %s .. %s: %d rows; training window %s .. %s: %d rows; the served model "
        "forecasts from %s",
        holdout["Date"].min().date(),
        holdout["Date"].max().date(),
        len(holdout),
        window["Date"].min().date(),
        window["Date"].max().date(),
        len(window),
        origins["served_origin"],
    )
    return window, holdout, origins


def build_model_input(
    sales_validated: pd.DataFrame,
    stores_validated: pd.DataFrame,
    feature_settings: dict[str, Any],
) -> pd.DataFrame:
    """Leak-free features for every open, selling day of train.csv, holdout included.

    The blocks align on the day after the last row (the served model's origin); the holdout's
    first day is a block start too, so the gate's backtest and the CV folds train on the rows
    before their origins of this same table, and only the served model sees the holdout.
    Closed days and zero-sales days are left out (a closed store is forecast 0 by the model).

    Args:
        sales_validated: Typed train rows.
        stores_validated: Typed store table.
        feature_settings: Output of ``resolve_feature_settings``.

    Returns:
        The training table: ``Store``, ``Date``, ``block_origin``, ``Sales`` and the features.
    """
    origin = sales_validated["Date"].max() + pd.Timedelta(days=1)
    return build_training_table(
        sales_validated, stores_validated, origin, FeatureConfig.from_params(feature_settings)
    )
