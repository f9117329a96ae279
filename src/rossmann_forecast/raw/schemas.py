"""Pandera schemas for the three raw Kaggle files and the one error a bad file raises.

Each raw file has one schema: the exact set of columns, their types, ranges, allowed categories
and keys. ``validate_raw_table`` normalises the known quirks (StateHoliday mixes the int 0 and the
string "0"), validates lazily, and on failure raises a single ``RawDataError`` whose message names
the file, the column, the rule and a few offending rows (as CSV line numbers), e.g.::

    train.csv failed validation: 1 rule broken
      - column 'Sales', rule 'greater_than_or_equal_to(0)': 2 rows, e.g. line 3 (Store=2,
        Date=2015-07-31): -5; line 9 (Store=8, Date=2015-07-31): -1

Dates are read in one spelling only, ``YYYY-MM-DD``: ``31/07/2015`` or a date with a time or a
zone (``2015-07-31T00:00:00-02:00``) is refused as a date format, naming the rows, instead of
being guessed (day or month first) or shifted by its zone. A column that no schema knows (an
export's ``Note``, a written index) is dropped with a warning naming it: it never reaches the
model.

Validated tables are typed: ``Date`` is ``datetime64[us]`` (what pandas 3 parses and what Parquet
gives back), categories are strings, integer columns without gaps are ``int64`` and integer
columns with gaps (``test.csv`` Open, the competition and Promo2 dates) are nullable ``Int64``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import pandas as pd
import pandera.errors as pa_errors
import pandera.pandas as pa

# The file names and the error are the raw files' (raw_data: no pandera, so that commands that
# only check or fingerprint the files do not import it); schemas re-exports them.
from rossmann_forecast.raw.files import (  # noqa: F401
    STORE_FILE,
    TEST_FILE,
    TRAIN_FILE,
    RawDataError,
)

logger = logging.getLogger(__name__)


STATE_HOLIDAYS = ["0", "a", "b", "c"]
STORE_TYPES = ["a", "b", "c", "d"]
ASSORTMENTS = ["a", "b", "c"]
PROMO_INTERVALS = ["Jan,Apr,Jul,Oct", "Feb,May,Aug,Nov", "Mar,Jun,Sept,Dec"]
DATE_FORMAT = "%Y-%m-%d"
# The one date spelling accepted (ISO 8601 calendar date, no time, no zone): pandas alone would
# read 2015-7-31 and, with a time after it, 2015-07-31T00:00:00-02:00 too.
DATE_PATTERN = r"\d{4}-\d{2}-\d{2}"
DATE_DTYPE = "datetime64[us]"

# How many rules and offending rows an error message shows: enough to act on, not a wall of text.
MAX_RULES_SHOWN = 8
MAX_ROWS_SHOWN = 5
# read_csv gives a RangeIndex: row i of the frame is line i + 2 of the file (line 1 is the header).
HEADER_LINES = 2


def _flag() -> pa.Column:
    return pa.Column("Int64", pa.Check.isin([0, 1]))


def _day_of_week_matches_date(df: pd.DataFrame) -> pd.Series:
    # DayOfWeek 1 = Monday, as in the Kaggle files.
    return df["DayOfWeek"] == df["Date"].dt.day_of_week + 1


def _closed_days_have_zero_sales(df: pd.DataFrame) -> pd.Series:
    return (df["Open"] != 0) | (df["Sales"] == 0)


def _promo2_details_iff_promo2(df: pd.DataFrame) -> pd.Series:
    # In store.csv Promo2SinceWeek/Year and PromoInterval are missing exactly where Promo2 = 0.
    has_promo2 = df["Promo2"] == 1
    details = ["Promo2SinceWeek", "Promo2SinceYear", "PromoInterval"]
    return df[details].notna().eq(has_promo2, axis=0).all(axis=1)


_STORE_KEY = pa.Column("Int64", pa.Check.ge(1))
_DAY_OF_WEEK = pa.Column("Int64", pa.Check.in_range(1, 7))
_DATE = pa.Column("datetime64[ns]")
_STATE_HOLIDAY = pa.Column(str, pa.Check.isin(STATE_HOLIDAYS))
_YEAR = pa.Column("Int64", pa.Check.in_range(1900, 2100), nullable=True)

TRAIN_SCHEMA = pa.DataFrameSchema(
    {
        "Store": _STORE_KEY,
        "DayOfWeek": _DAY_OF_WEEK,
        "Date": _DATE,
        "Sales": pa.Column("Int64", pa.Check.ge(0)),
        # Optional: the public copies of the Kaggle data often lack it. When present it is
        # checked like any other column; when absent the customer statistics are left out.
        "Customers": pa.Column("Int64", pa.Check.ge(0), required=False),
        "Open": _flag(),
        "Promo": _flag(),
        "StateHoliday": _STATE_HOLIDAY,
        "SchoolHoliday": _flag(),
    },
    checks=[
        pa.Check(_day_of_week_matches_date, name="day_of_week_matches_date"),
        pa.Check(_closed_days_have_zero_sales, name="closed_days_have_zero_sales"),
    ],
    unique=["Store", "Date"],
    strict=True,
    coerce=True,
    name=TRAIN_FILE,
)

STORE_SCHEMA = pa.DataFrameSchema(
    {
        "Store": pa.Column("Int64", pa.Check.ge(1), unique=True),
        "StoreType": pa.Column(str, pa.Check.isin(STORE_TYPES)),
        "Assortment": pa.Column(str, pa.Check.isin(ASSORTMENTS)),
        "CompetitionDistance": pa.Column("float64", pa.Check.gt(0), nullable=True),
        "CompetitionOpenSinceMonth": pa.Column("Int64", pa.Check.in_range(1, 12), nullable=True),
        "CompetitionOpenSinceYear": _YEAR,
        "Promo2": _flag(),
        "Promo2SinceWeek": pa.Column("Int64", pa.Check.in_range(1, 53), nullable=True),
        "Promo2SinceYear": _YEAR,
        "PromoInterval": pa.Column(str, pa.Check.isin(PROMO_INTERVALS), nullable=True),
    },
    checks=[pa.Check(_promo2_details_iff_promo2, name="promo2_details_present_iff_promo2")],
    strict=True,
    coerce=True,
    name=STORE_FILE,
)

TEST_SCHEMA = pa.DataFrameSchema(
    {
        "Id": pa.Column("Int64", pa.Check.ge(1), unique=True),
        "Store": _STORE_KEY,
        "DayOfWeek": _DAY_OF_WEEK,
        "Date": _DATE,
        # test.csv has a few rows with Open missing (all one store in the Kaggle file).
        "Open": pa.Column("Int64", pa.Check.isin([0, 1]), nullable=True),
        "Promo": _flag(),
        "StateHoliday": _STATE_HOLIDAY,
        "SchoolHoliday": _flag(),
    },
    checks=[pa.Check(_day_of_week_matches_date, name="day_of_week_matches_date")],
    unique=["Store", "Date"],
    strict=True,
    coerce=True,
    name=TEST_FILE,
)

RAW_SCHEMAS: dict[str, pa.DataFrameSchema] = {
    TRAIN_FILE: TRAIN_SCHEMA,
    STORE_FILE: STORE_SCHEMA,
    TEST_FILE: TEST_SCHEMA,
}

_STRUCTURAL_RULES = ("column_in_schema", "column_in_dataframe")
_RULE_HINTS = {
    "column_in_dataframe": "required column is missing",
    "column_in_schema": "column is not in the Kaggle file",
    "not_nullable": "no missing values allowed",
    "field_uniqueness": "values must be unique",
    "multiple_fields_uniqueness": "key must be unique",
    "day_of_week_matches_date": "DayOfWeek must be the ISO weekday of Date (1 = Monday)",
    "closed_days_have_zero_sales": "Sales must be 0 where Open = 0",
    "promo2_details_present_iff_promo2": (
        "Promo2SinceWeek, Promo2SinceYear and PromoInterval are set exactly where Promo2 = 1"
    ),
    "known_to_store_csv": "every Store must appear in store.csv",
}
# Table-wide rules and the columns they read (pandera lists every column of a failing row).
_TABLE_RULE_COLUMNS = {
    "day_of_week_matches_date": ["DayOfWeek", "Date"],
    "closed_days_have_zero_sales": ["Open", "Sales"],
    "promo2_details_present_iff_promo2": [
        "Promo2",
        "Promo2SinceWeek",
        "Promo2SinceYear",
        "PromoInterval",
    ],
}


def normalise_raw_quirks(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy with the raw files' known quirks straightened out.

    StateHoliday mixes the int 0 and the string "0" in the Kaggle files: both become "0".

    Args:
        df: A raw table as loaded from CSV.

    Returns:
        A new frame; ``df`` is not changed.
    """
    if "StateHoliday" not in df.columns:
        return df.copy()
    holiday = df["StateHoliday"]
    as_text = holiday.astype("str").str.strip().where(holiday.notna())
    # A column read as numbers turns 0 into "0" or "0.0"; both mean "no state holiday".
    as_text = as_text.mask(as_text.isin(["0.0", "0"]), "0")
    return df.assign(StateHoliday=as_text)


def validate_raw_table(df: pd.DataFrame, file_name: str) -> pd.DataFrame:
    """Validate one raw Kaggle table and return it typed.

    Args:
        df: The table as loaded from ``file_name`` (default RangeIndex, as ``read_csv`` gives).
        file_name: ``train.csv``, ``store.csv`` or ``test.csv``; picks the schema.

    Returns:
        A new, typed frame with the columns in Kaggle order.

    Raises:
        RawDataError: The table is empty or breaks its schema; the message names the file, the
            column, the rule and a few offending rows.
    """
    schema = RAW_SCHEMAS[file_name]
    if df.columns.empty:
        raise RawDataError(f"{file_name} is empty: it has no header and no rows.", file_name)
    if df.empty:
        raise RawDataError(
            f"{file_name} is empty: it has a header but no rows "
            f"(columns: {', '.join(map(str, df.columns))}).",
            file_name,
        )
    normalised = _drop_unused_columns(normalise_raw_quirks(df), schema, file_name)
    # Dates first: pandera's coercion would guess a spelling (day or month first, any zone).
    date_problems = _date_format_problems(normalised, schema)
    if date_problems:
        raise RawDataError(_message(file_name, date_problems), file_name)
    try:
        validated = schema.validate(_parse_dates(normalised, schema), lazy=True)
    except pa_errors.SchemaErrors as exc:
        # Rows are shown as the file has them (dates as written).
        message = format_failure_cases(file_name, exc.failure_cases, normalised, schema)
        raise RawDataError(message, file_name, exc.failure_cases) from None
    columns = [name for name in schema.columns if name in validated.columns]
    return _finalise_types(validated[columns], schema)


def check_known_stores(df: pd.DataFrame, known_stores: Iterable[int], file_name: str) -> None:
    """Raise if ``df`` has a Store that store.csv does not list.

    Args:
        df: A validated ``train.csv`` or ``test.csv`` table.
        known_stores: The Store ids in store.csv.
        file_name: The file ``df`` came from, for the message.

    Raises:
        RawDataError: Some rows name an unknown store.
    """
    known = pd.Index(pd.unique(pd.Series(list(known_stores), dtype="int64")))
    schema = pa.DataFrameSchema(
        {
            "Store": pa.Column(
                checks=pa.Check(lambda s: s.isin(known), name="known_to_store_csv"),
            )
        },
        name=file_name,
    )
    try:
        schema.validate(df, lazy=True)
    except pa_errors.SchemaErrors as exc:
        message = format_failure_cases(file_name, exc.failure_cases, df, schema)
        raise RawDataError(message, file_name, exc.failure_cases) from None


def format_failure_cases(
    file_name: str,
    failure_cases: pd.DataFrame,
    df: pd.DataFrame,
    schema: pa.DataFrameSchema,
) -> str:
    """Turn pandera's failure cases into a short message: file, column, rule, a few rows.

    Args:
        file_name: The file the frame came from.
        failure_cases: ``SchemaErrors.failure_cases``.
        df: The frame that was validated (for the context of offending rows).
        schema: The schema it was validated against (for the expected types).

    Returns:
        A message of one line per broken rule, each with up to ``MAX_ROWS_SHOWN`` rows.
    """
    return _message(file_name, _problems(failure_cases, df, schema))


def _message(file_name: str, problems: list[str]) -> str:
    noun = "rule" if len(problems) == 1 else "rules"
    lines = [f"{file_name} failed validation: {len(problems)} {noun} broken"]
    lines += [f"  - {problem}" for problem in problems[:MAX_RULES_SHOWN]]
    if len(problems) > MAX_RULES_SHOWN:
        lines.append(f"  - ... and {len(problems) - MAX_RULES_SHOWN} more")
    return "\n".join(lines)


def _problems(
    failure_cases: pd.DataFrame, df: pd.DataFrame, schema: pa.DataFrameSchema
) -> list[str]:
    cases = failure_cases.assign(check=failure_cases["check"].astype(str)).reset_index(drop=True)
    is_type = cases["check"].str.startswith(("dtype(", "coerce_dtype("))
    is_structural = cases["check"].isin(_STRUCTURAL_RULES)
    has_rows = cases["index"].notna()
    # A check that errored (no row index) or a table-wide rule that fails on every row of a
    # wrongly typed column is a knock-on effect of a missing column or a wrong type: report the
    # cause alone; the user sees any remaining problem once the cause is fixed.
    if (is_type | is_structural).any():
        knock_on = ~has_rows | cases["check"].isin(_TABLE_RULE_COLUMNS)
        keep = is_type | is_structural | ~knock_on
    else:
        keep = has_rows
    if not keep.any():
        keep = pd.Series(True, index=cases.index)
    cases, is_type, is_structural = cases[keep], is_type[keep], is_structural[keep]
    has_rows = cases["index"].notna()

    problems: list[str] = []
    for _, case in cases[is_structural].iterrows():
        rule = case["check"]
        problems.append(f"column '{case['failure_case']}', {_rule_label(rule)}")
    for column in cases.loc[is_type, "column"].dropna().unique():
        problems.append(_type_problem(column, df, schema))

    rows = cases[has_rows & ~is_type]
    for (context, rule), group in rows.groupby(["schema_context", "check"], sort=False):
        if context == "Column":
            for column, by_column in group.groupby("column", sort=False):
                problems.append(_row_problem([column], rule, by_column, df))
        else:
            columns = _TABLE_RULE_COLUMNS.get(rule) or list(group["column"].dropna().unique())
            problems.append(_row_problem(columns, rule, group, df))

    for _, case in cases[~has_rows & ~is_type & ~is_structural].iterrows():
        column = case["column"] if pd.notna(case["column"]) else "(table)"
        problems.append(f"column '{column}', {_rule_label(case['check'])}: {case['failure_case']}")
    return problems


def _drop_unused_columns(
    df: pd.DataFrame, schema: pa.DataFrameSchema, file_name: str
) -> pd.DataFrame:
    """Drop the columns the schema does not know, with a warning that names them."""
    unused = [column for column in df.columns if column not in schema.columns]
    if not unused:
        return df
    logger.warning(
        "%s has %s the model does not use: %s (ignored)",
        file_name,
        "a column" if len(unused) == 1 else f"{len(unused)} columns",
        ", ".join(repr(str(column)) for column in unused),
    )
    return df.drop(columns=unused)


def _date_columns(df: pd.DataFrame, schema: pa.DataFrameSchema) -> list[str]:
    """The schema's date columns that ``df`` holds as text (as read from CSV)."""
    return [
        name
        for name, column in schema.columns.items()
        if str(column.dtype).startswith("datetime64")
        and name in df.columns
        and not pd.api.types.is_datetime64_any_dtype(df[name])
    ]


def _date_format_problems(df: pd.DataFrame, schema: pa.DataFrameSchema) -> list[str]:
    return [
        _type_problem(name, df, schema)
        for name in _date_columns(df, schema)
        if not _rows_not_of_type(df[name], str(schema.columns[name].dtype)).empty
    ]


def _parse_dates(df: pd.DataFrame, schema: pa.DataFrameSchema) -> pd.DataFrame:
    parsed = {
        name: pd.to_datetime(df[name], format=DATE_FORMAT) for name in _date_columns(df, schema)
    }
    return df.assign(**parsed)


def _rule_label(rule: str) -> str:
    hint = _RULE_HINTS.get(rule)
    return f"rule '{rule}' ({hint})" if hint else f"rule '{rule}'"


def _row_problem(columns: list[str], rule: str, group: pd.DataFrame, df: pd.DataFrame) -> str:
    where = (
        f"column '{columns[0]}'"
        if len(columns) == 1
        else "columns " + ", ".join(f"'{c}'" for c in columns)
    )
    indices = pd.unique(group["index"].astype("int64"))
    examples = "; ".join(_describe_row(df, int(i), columns) for i in indices[:MAX_ROWS_SHOWN])
    noun = "row" if len(indices) == 1 else "rows"
    return f"{where}, {_rule_label(rule)}: {len(indices)} {noun}, e.g. {examples}"


def _describe_row(df: pd.DataFrame, index: int, columns: list[str]) -> str:
    line = f"line {index + HEADER_LINES}" if isinstance(df.index, pd.RangeIndex) else f"row {index}"
    if index not in df.index:
        return line
    row = df.loc[index]
    keys = [k for k in _ROW_KEYS if k in df.columns and k not in columns]
    context = ", ".join(f"{k}={_show(row[k], quote=False)}" for k in keys)
    values = ", ".join(f"{c}={_show(row[c])}" for c in columns if c in df.columns)
    return f"{line} ({context}): {values}" if context else f"{line}: {values}"


def _show(value: object, quote: bool = True) -> str:
    if isinstance(value, pd.Timestamp):
        return value.strftime(DATE_FORMAT)
    if pd.isna(value):
        return "<missing>"
    return repr(value) if quote and isinstance(value, str) else str(value)


def _type_problem(column: str, df: pd.DataFrame, schema: pa.DataFrameSchema) -> str:
    expected = str(schema.columns[column].dtype)
    kind, words = _TYPE_WORDS.get(expected, (expected, expected))
    label = f"column '{column}', rule 'type {kind}' ({words})"
    found = f"found dtype {df[column].dtype}"
    bad = _rows_not_of_type(df[column], expected)
    if bad.empty:
        return f"{label}: {found}"
    examples = "; ".join(_describe_row(df, int(i), [column]) for i in bad[:MAX_ROWS_SHOWN])
    noun = "row" if len(bad) == 1 else "rows"
    return f"{label}: {found}, {len(bad)} {noun}, e.g. {examples}"


_ROW_KEYS = ("Id", "Store", "Date")
_TYPE_WORDS = {
    "Int64": ("integer", "whole numbers"),
    "float64": ("float", "numbers"),
    "datetime64[ns]": ("date", "dates as YYYY-MM-DD, no time, no zone"),
    "str": ("string", "text"),
}


def _rows_not_of_type(values: pd.Series, expected: str) -> pd.Index:
    present = values.notna()
    if expected == "Int64":
        numbers = pd.to_numeric(values, errors="coerce")
        ok = numbers.notna() & (numbers == numbers.round())
    elif expected == "float64":
        ok = pd.to_numeric(values, errors="coerce").notna()
    elif expected.startswith("datetime64"):
        text = values.astype("string")
        iso = text.str.fullmatch(DATE_PATTERN).fillna(False).astype(bool)
        ok = iso & pd.to_datetime(text.where(iso), errors="coerce", format=DATE_FORMAT).notna()
    else:
        return pd.Index([])
    return values.index[present & ~ok]


def _finalise_types(df: pd.DataFrame, schema: pa.DataFrameSchema) -> pd.DataFrame:
    """Int64 columns without gaps -> int64, dates -> datetime64[us]; the rest as validated."""
    typed = {}
    for name in df.columns:
        dtype = str(df[name].dtype)
        if dtype == "Int64" and not schema.columns[name].nullable:
            typed[name] = df[name].astype("int64")
        elif dtype.startswith("datetime64"):
            typed[name] = df[name].astype(DATE_DTYPE)
    return df.assign(**typed)


def check_sales_dates(sales: pd.DataFrame, test: pd.DataFrame, max_days_past_end: int) -> None:
    """Raise if train.csv has rows dated after the data's end.

    The data's end is the day most stores' rows stop (the median over stores of each store's
    last date): a row more than ``max_days_past_end`` days after it is a typo'd year or a store
    whose export ran ahead of the others. A row on or after test.csv's first date is a day to
    forecast, never history. Either would move the holdout and the forecast origin of every
    store.

    Args:
        sales: Validated ``train.csv``.
        test: Validated ``test.csv``.
        max_days_past_end: Tolerance in days past the data's end (conf:
            ``data_processing.max_days_past_data_end``).

    Raises:
        RawDataError: Naming the file, the rule and the offending rows (line, Store, Date).
    """
    data_end = sales.groupby("Store")["Date"].max().median()
    limit = data_end + pd.Timedelta(days=int(max_days_past_end))
    test_start = test["Date"].min()
    rules = [
        (
            sales["Date"] > limit,
            f"rule 'within_data_end' (at most {int(max_days_past_end)} days after "
            f"{data_end.strftime(DATE_FORMAT)}, the last date of the other stores)",
        ),
        (
            sales["Date"] >= test_start,
            f"rule 'before_test_start' (history must end before {TEST_FILE} starts, "
            f"{test_start.strftime(DATE_FORMAT)})",
        ),
    ]
    problems = []
    for bad, label in rules:
        if not bool(bad.any()):
            continue
        index = sales.index[bad.to_numpy()]
        examples = "; ".join(_describe_row(sales, int(i), ["Date"]) for i in index[:MAX_ROWS_SHOWN])
        noun = "row" if len(index) == 1 else "rows"
        problems.append(f"column 'Date', {label}: {len(index)} {noun}, e.g. {examples}")
    if problems:
        raise RawDataError(_message(TRAIN_FILE, problems), TRAIN_FILE)
