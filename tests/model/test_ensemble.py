"""The model's input contract, through the pyfunc as any caller meets it (issue 10).

Every refusal names the column, the rule and a few offending rows; what is accepted is
forecast exactly as its clean spelling. The property tests at the end generate rows in the
test.csv format with one field broken at a time.
"""

from __future__ import annotations

import copy
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from mlflow.exceptions import MlflowException

from rossmann_forecast.model.ensemble import InvalidInputError
from rossmann_forecast.model.intervals import DAY_CLASS_FEATURES, check_day_classes, day_classes
from tests.model.conftest import HORIZON_DAYS, NO_HISTORY_STORE


def refusal(tiny_model, rows: pd.DataFrame) -> str:
    with pytest.raises(InvalidInputError) as raised:
        tiny_model.pyfunc.predict(rows)
    message = str(raised.value)
    assert "\n" not in message, "a refusal is one line"
    return message


def test_valid_rows_are_forecast(tiny_model):
    rows = tiny_model.rows()

    sales = tiny_model.pyfunc.predict(rows)["Sales"]

    assert len(sales) == len(rows)
    assert (sales > 0).all()


@pytest.mark.parametrize(
    "bad_date",
    [
        "05/08/2015",  # day first or month first: a guess either way
        "2015-08-05T00:00:00-02:00",
        "2015-08-05T00:00:00+00:00",
        "2015-08-05T00:00:00+02:00",
        "2015-08-05 00:00:00",
        "2015-8-5",
        "20150805",
    ],
)
def test_a_date_not_written_yyyy_mm_dd_is_refused(tiny_model, bad_date):
    rows = tiny_model.rows(days=6)
    rows.loc[4, "Date"] = bad_date

    message = refusal(tiny_model, rows)

    assert "Column 'Date'" in message
    assert "YYYY-MM-DD" in message
    assert "row 5" in message and repr(bad_date) in message
    assert "DayOfWeek" not in message  # a date format problem, not a weekday one


def test_a_day_of_week_that_contradicts_the_date_is_refused(tiny_model):
    rows = tiny_model.rows()
    first = pd.Timestamp(rows.loc[0, "Date"])
    rows.loc[0, "DayOfWeek"] = first.day_of_week + 1 + (1 if first.day_of_week < 6 else -1)

    message = refusal(tiny_model, rows)

    assert "'DayOfWeek'" in message and "'Date'" in message
    assert "ISO weekday of Date (1 = Monday)" in message
    assert "row 1 " in message


def test_dates_before_the_models_origin_are_refused(tiny_model):
    rows = tiny_model.rows()
    before = tiny_model.origin - pd.Timedelta(days=3)
    rows.loc[1, ["Date", "DayOfWeek"]] = [before.strftime("%Y-%m-%d"), before.day_of_week + 1]

    message = refusal(tiny_model, rows)

    assert "Column 'Date'" in message
    assert f"before the model's origin {tiny_model.origin.date()}" in message
    assert before.strftime("%Y-%m-%d") in message


def test_dates_beyond_the_validated_horizon_are_forecast_and_flagged(tiny_model):
    rows = tiny_model.rows(days=HORIZON_DAYS + 2)

    sales = tiny_model.pyfunc.predict(rows)["Sales"]
    beyond = tiny_model.python_model.beyond_horizon(rows["Date"])

    assert len(sales) == len(rows)
    last_validated = tiny_model.origin + pd.Timedelta(days=HORIZON_DAYS - 1)
    assert beyond.tolist() == (pd.to_datetime(rows["Date"]) > last_validated).tolist()
    assert beyond.sum() == 2 * len(tiny_model.stores)


def test_the_answer_marks_and_warns_of_rows_past_the_validated_horizon(tiny_model, caplog):
    """Issue 20 case 8: any pyfunc caller (the scoring server) sees which rows lie past it."""
    rows = tiny_model.rows(days=HORIZON_DAYS + 2)
    last_validated = tiny_model.origin + pd.Timedelta(days=HORIZON_DAYS - 1)

    with caplog.at_level("WARNING"):
        answer = tiny_model.pyfunc.predict(rows)

    beyond = pd.to_datetime(rows["Date"]) > last_validated
    assert answer["beyond_validated_horizon"].tolist() == beyond.tolist()
    first = (last_validated + pd.Timedelta(days=1)).date()
    last = pd.to_datetime(rows["Date"]).max().date()
    assert f"{int(beyond.sum())} row(s) for {first}..{last} lie past the {HORIZON_DAYS} days" in (
        caplog.text
    )


def test_a_store_day_given_twice_is_refused_naming_it(tiny_model):
    """Issue 20 case 4: a second row for a store-day got a second forecast and changed the
    forecasts of the store's other rows (its closed days are events for the counters)."""
    rows = tiny_model.rows()
    repeat = rows.iloc[[len(tiny_model.stores) + 1]].assign(Id=len(rows) + 1)
    rows = pd.concat([rows, repeat], ignore_index=True)
    store, date = int(repeat["Store"].iloc[0]), repeat["Date"].iloc[0]

    message = refusal(tiny_model, rows)

    assert "Columns 'Store' and 'Date' must be unique" in message
    assert f"row {len(rows)} (Id={len(rows)}): Store={store}, Date='{date}'" in message
    assert f"repeats row {len(tiny_model.stores) + 2}" in message


def test_an_id_given_twice_is_refused_naming_it(tiny_model):
    rows = tiny_model.rows()
    rows.loc[4, "Id"] = 2

    message = refusal(tiny_model, rows)

    assert "Column 'Id' must be unique" in message
    assert "row 5 (Store=" in message and ": 2 repeats row 2" in message


def test_a_store_without_sales_history_is_refused_like_an_unknown_store(tiny_model):
    rows = tiny_model.rows(stores=[tiny_model.stores[0], NO_HISTORY_STORE])

    message = refusal(tiny_model, rows)

    assert "Column 'Store'" in message
    assert f"[{NO_HISTORY_STORE}]" in message
    assert "no sales" in message


def test_an_unknown_store_is_refused(tiny_model):
    rows = tiny_model.rows().assign(Store=9999)

    message = refusal(tiny_model, rows)

    assert "Unknown store(s) [9999] in column 'Store'" in message


# --- properties: one field broken at a time ----------------------------------------------------

# Other spellings of a clean value that mean the same: they must be forecast exactly as it.
SAME_VALUE = {
    "Store": lambda v: st.sampled_from([float(v), str(v)]),
    "DayOfWeek": lambda v: st.sampled_from([float(v), str(v)]),
    "Date": lambda v: st.sampled_from([f" {v}", f"{v} "]),
    "Open": lambda v: st.sampled_from([int(v), str(int(v))] + ([None] if v == 1 else [])),
    "Promo": lambda v: st.sampled_from([float(v), str(v)]),
    "StateHoliday": lambda v: st.sampled_from([f" {v}", f"{v} "]),
    "SchoolHoliday": lambda v: st.sampled_from([float(v), str(v)]),
}
# Values no clean row can have in that column.
_TEXT = st.text(alphabet="abcxyz-/:T +.", min_size=1, max_size=12)
BROKEN = {
    "Store": st.one_of(st.integers(-5, 0), st.integers(10_000, 10**6), st.just(NO_HISTORY_STORE),
                       st.floats(1.1, 5.9), _TEXT, st.none()),
    "DayOfWeek": st.one_of(st.integers(-3, 0), st.integers(8, 20), st.floats(1.1, 6.9), _TEXT),
    "Date": st.one_of(
        _TEXT,
        st.dates().map(lambda d: d.strftime("%d/%m/%Y")),
        st.dates().map(lambda d: d.strftime("%m/%d/%Y")),
        st.sampled_from(["T00:00:00", "T00:00:00+00:00", "T00:00:00-02:00", " 00:00", "Z"]),
        st.none(),
    ),
    "Open": st.one_of(st.integers(2, 9), st.integers(-9, -1), st.floats(0.1, 0.9), _TEXT),
    "Promo": st.one_of(st.integers(2, 9), st.integers(-9, -1), st.floats(0.1, 0.9), _TEXT),
    "StateHoliday": st.one_of(st.sampled_from(["d", "1", "A", "x", "0.5"]), _TEXT, st.none()),
    "SchoolHoliday": st.one_of(st.integers(2, 9), st.integers(-9, -1), st.floats(0.1, 0.9), _TEXT),
}  # fmt: skip
COLUMNS = list(BROKEN)


@st.composite
def clean_rows(draw, tiny_model) -> dict:
    """One valid row in the test.csv format, within the validated horizon."""
    date = tiny_model.origin + pd.Timedelta(days=draw(st.integers(0, HORIZON_DAYS - 1)))
    return {
        "Id": 1,
        "Store": draw(st.sampled_from(tiny_model.stores)),
        "DayOfWeek": date.day_of_week + 1,
        "Date": date.strftime("%Y-%m-%d"),
        "Open": draw(st.sampled_from([1.0, 0.0])),
        "Promo": draw(st.sampled_from([0, 1])),
        "StateHoliday": draw(st.sampled_from(["0", "a", "b", "c"])),
        "SchoolHoliday": draw(st.sampled_from([0, 1])),
    }


@st.composite
def rows_with_one_field_changed(draw, tiny_model) -> tuple[dict, dict, str]:
    clean = draw(clean_rows(tiny_model))
    column = draw(st.sampled_from(COLUMNS))
    value = draw(st.one_of(BROKEN[column], SAME_VALUE[column](clean[column])))
    if column == "Date" and isinstance(value, str) and value[:1] in "TZ 0":
        value = clean["Date"] + value  # a time or a zone glued to the clean date
    return clean, {**clean, column: value}, column


def _predict(tiny_model, row: dict) -> float:
    return float(tiny_model.pyfunc.predict(pd.DataFrame([row]))["Sales"].iloc[0])


FAST = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FAST
@given(data=st.data())
def test_a_broken_field_is_refused_naming_its_column_or_forecast_as_the_clean_row(tiny_model, data):
    clean, changed, column = data.draw(rows_with_one_field_changed(tiny_model))
    expected = _predict(tiny_model, clean)

    try:
        got = _predict(tiny_model, changed)
    except (InvalidInputError, MlflowException) as refused:
        message = str(refused)
        # The column is named as a word (not as part of another name, e.g. Open in "Opening").
        assert re.search(rf"\b{column}\b", message), (column, changed[column], message)
        event(f"{column}: refused by {type(refused).__name__}")
        return
    event(f"{column}: forecast as the clean row")
    assert got == expected, (column, changed[column])


@FAST
@given(data=st.data())
def test_valid_rows_are_never_refused(tiny_model, data):
    # One row per store-day: a store-day given twice is refused (issue 20).
    drawn = st.lists(
        clean_rows(tiny_model), min_size=1, max_size=5, unique_by=lambda r: (r["Store"], r["Date"])
    )
    rows = pd.DataFrame(data.draw(drawn)).assign(Id=lambda r: range(1, len(r) + 1))

    sales = tiny_model.pyfunc.predict(rows)["Sales"].to_numpy()

    assert np.isfinite(sales).all()
    assert (sales[rows["Open"].to_numpy() == 0] == 0).all()
    assert (sales[rows["Open"].to_numpy() == 1] > 0).all()


def test_the_input_example_logged_with_a_version_has_only_stores_it_can_forecast(tiny_model):
    """MLflow predicts the input example when it logs a version: it must not be refused."""
    example = tiny_model.python_model.input_example(n_rows=10)

    assert sorted(example["Store"]) == tiny_model.stores  # NO_HISTORY_STORE left out
    assert len(tiny_model.pyfunc.predict(example)) == len(tiny_model.stores)


def test_a_calibration_by_day_class_bands_the_days_around_a_holiday_apart(tiny_model):
    """The pyfunc reads each row's day class from its features: the days within three of a
    store's state holiday take the holiday's offsets, the other days their store type's."""
    model = copy.deepcopy(tiny_model.pyfunc.unwrap_python_model())
    settings = check_day_classes({"holiday_window_days": 3})
    weeks = model.intervals["offsets"]["all"]
    model.intervals = {
        **model.intervals,
        "day_classes": settings,
        "offsets": {**model.intervals["offsets"],
                    "day:holiday": {w: [-0.5, 0.0, 0.5] for w in weeks}},
    }  # fmt: skip
    store = tiny_model.stores[0]
    rows = tiny_model.rows(stores=[store], days=12)
    rows.loc[5, "StateHoliday"] = "a"

    answer = model.predict_sales(rows)
    classes = day_classes(model.feature_matrix(rows)[list(DAY_CLASS_FEATURES)], settings)

    holiday = classes == "holiday"
    assert holiday[2:9].all(), "the holiday and the three days either side"
    sales = answer["Sales"].to_numpy()
    assert answer["Sales_p90"].to_numpy()[holiday] == pytest.approx(sales[holiday] * np.exp(0.5))
    assert answer["Sales_p10"].to_numpy()[holiday] == pytest.approx(sales[holiday] * np.exp(-0.5))
    plain = copy.deepcopy(model)
    plain.intervals = {**model.intervals, "day_classes": None}
    ordinary = plain.predict_sales(rows)
    assert answer["Sales_p90"].to_numpy()[~holiday] == pytest.approx(
        ordinary["Sales_p90"].to_numpy()[~holiday]
    )
    assert (
        answer["Sales_p90"].to_numpy()[holiday] != ordinary["Sales_p90"].to_numpy()[holiday]
    ).all()
