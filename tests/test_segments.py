"""Segments of the forecast days: each flag on a calendar built so that the answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rossmann_forecast.segments import (
    concentration_text,
    error_concentration,
    label_segments,
    segment_table,
)

STORES = pd.DataFrame({"Store": [1, 2], "StoreType": ["a", "c"], "Assortment": ["a", "c"]})


def _calendar() -> pd.DataFrame:
    dates = pd.date_range("2015-03-20", "2015-04-20")
    rows = []
    for store in (1, 2):
        for d in dates:
            # Store 2 is shut 2015-03-25 .. 2015-03-29 (5 days); Good Friday and Easter
            # Monday (3 and 6 April 2015) are state holidays for both.
            shut = store == 2 and pd.Timestamp("2015-03-25") <= d <= pd.Timestamp("2015-03-29")
            holiday = "b" if d in (pd.Timestamp("2015-04-03"), pd.Timestamp("2015-04-06")) else "0"
            rows.append({"Store": store, "Date": d, "DayOfWeek": d.day_of_week + 1,
                         "Promo": int(d.day % 2 == 0), "SchoolHoliday": 0,
                         "Open": int(not shut), "StateHoliday": holiday,
                         "Sales": 0.0 if shut else 1000.0 * store})  # fmt: skip
    return pd.DataFrame(rows)


def _labelled() -> pd.DataFrame:
    calendar = _calendar()
    rows = calendar.loc[calendar["Open"] == 1].assign(prediction=lambda f: f["Sales"] * 1.1)
    return label_segments(rows, STORES, calendar).set_index(["Store", "Date"])


def test_the_days_after_a_closure_are_the_first_seven_open_days():
    labelled = _labelled()
    after = labelled["after_closure"].str.startswith("first 7 days")

    flagged = sorted(d.strftime("%m-%d") for (s, d) in labelled.index[after])
    assert all(s == 2 for s, _ in labelled.index[after])
    # Reopened 30 March: that day and the six after it.
    assert flagged == ["03-30", "03-31", "04-01", "04-02", "04-03", "04-04", "04-05"]


def test_days_around_a_state_holiday_exclude_the_holiday_itself():
    labelled = _labelled()
    near = labelled.loc[1, "holiday"].str.startswith("±3 days")

    days = sorted(labelled.loc[1].index[near].strftime("%m-%d"))
    assert days == ["03-31", "04-01", "04-02", "04-04", "04-05", "04-07", "04-08", "04-09"]


def test_easter_and_the_other_segments_are_labelled():
    labelled = _labelled()

    assert labelled.loc[(1, pd.Timestamp("2015-04-05")), "season"] == "Easter (±7 days)"
    assert labelled.loc[(1, pd.Timestamp("2015-03-20")), "season"] == "other days"
    assert labelled.loc[(2, pd.Timestamp("2015-04-05")), "StoreType"] == "StoreType c"
    assert labelled.loc[(1, pd.Timestamp("2015-03-23")), "weekday"] == "Mon"


def test_the_table_scores_every_segment_with_its_rows():
    table = segment_table(_labelled().reset_index()).set_index(["segmentation", "segment"])

    assert table.loc[("StoreType", "StoreType a"), "rmspe"] == pytest.approx(0.1)
    assert table.loc[("StoreType", "StoreType a"), "bias"] == pytest.approx(0.1)
    assert table.loc[("StoreType", "StoreType a"), "rows"] == 32
    assert table.loc[("StoreType", "StoreType c"), "rows"] == 27
    assert set(table.index.get_level_values(0)) == {
        "StoreType", "Assortment", "weekday", "promo", "holiday", "after_closure", "season"
    }  # fmt: skip


def test_the_error_concentration_names_the_store_that_costs_most_and_the_window_without_it():
    """Nine stores forecast 5% high every day and one 40% high: that one carries
    0.4^2 / (0.4^2 + 9 * 0.05^2) = 87.7% of the squared error, and without it the window
    scores 0.05, as the other nine do."""
    days = pd.date_range("2015-06-01", periods=10)
    rows = pd.DataFrame(
        [{"Store": s, "Date": d, "Sales": 1000.0 + s} for s in range(1, 11) for d in days]
    )
    factor = np.where(rows["Store"] == 7, 1.4, 1.05)
    rows = rows.assign(prediction=rows["Sales"] * factor, baseline=rows["Sales"] * 1.2)
    closed = pd.DataFrame({"Store": [7], "Date": [days[0]], "Sales": [0.0],
                           "prediction": [0.0], "baseline": [0.0]})  # fmt: skip

    result = error_concentration(pd.concat([rows, closed]), baseline="baseline", top=2)

    assert result["rows"] == 100 and result["stores"] == 10
    worst, second = result["top"]
    assert worst["store"] == 7 and worst["rows"] == 10
    assert worst["share"] == pytest.approx(0.16 / (0.16 + 9 * 0.0025))
    assert worst["rmspe"] == pytest.approx(0.4) and worst["bias"] == pytest.approx(0.4)
    assert second["store"] != 7 and second["share"] == pytest.approx(0.0025 / (0.16 + 0.0225))
    assert result["rmspe"] == pytest.approx(np.sqrt((0.16 + 9 * 0.0025) / 10))
    assert result["without_worst"]["rmspe"] == pytest.approx(0.05)
    assert result["without_worst"]["skill"] == pytest.approx(0.05 / 0.2)
    assert result["skill"] == pytest.approx(result["rmspe"] / 0.2)


def test_the_error_concentration_needs_two_stores_with_sales():
    one = pd.DataFrame({"Store": [1, 1], "Sales": [10.0, 12.0], "prediction": [11.0, 11.0]})
    with pytest.raises(ValueError, match="at least two stores"):
        error_concentration(one)
    with pytest.raises(ValueError, match="sales > 0"):
        error_concentration(one.assign(Sales=0.0))


def test_a_store_with_a_hole_in_its_forecast_comes_first_and_reads_as_missing():
    """A missing forecast is an error without bound, not a day left out of the store's sum."""
    rows = pd.DataFrame({"Store": [1, 1, 2, 2, 3, 3], "Sales": [10.0] * 6,
                         "prediction": [11.0, np.nan, 15.0, 15.0, 10.0, 10.5]})  # fmt: skip

    result = error_concentration(rows)

    assert [t["store"] for t in result["top"]] == [1, 2, 3]
    assert np.isinf(result["top"][0]["rmspe"]) and np.isnan(result["top"][0]["share"])
    assert result["without_worst"]["rmspe"] == pytest.approx(np.sqrt((0.25 + 0.25 + 0.0025) / 4))
    # The others' shares are of what the stores forecast on every day sum to.
    assert result["top"][1]["share"] == pytest.approx(0.5 / 0.5025)
    assert concentration_text(result["top"]) == (
        "1: forecast missing, 2: 99.5% (+50.0%), 3: 0.5% (+2.5%)"
    )


def test_the_table_shows_how_the_band_covers_each_segment():
    """A band that holds every ordinary day and misses every day around Easter's holidays
    covers the holiday segment 0% and the other days 100%: the overall share hides it."""
    labelled = _labelled().reset_index()
    near = labelled["holiday"].str.startswith("±3 days").to_numpy()
    # Actual sales 1000 x store; around the holidays they lie above the band.
    point = labelled["Sales"].to_numpy() * np.where(near, 0.7, 1.0)
    labelled = labelled.assign(
        prediction=point, Sales_p10=point * 0.9, Sales_p50=point, Sales_p90=point * 1.1
    )

    table = segment_table(labelled).set_index(["segmentation", "segment"])

    assert table.loc[("holiday", "±3 days of a state holiday"), "coverage"] == 0.0
    assert table.loc[("holiday", "other days"), "coverage"] == 1.0
    assert table.loc[("holiday", "other days"), "width"] == pytest.approx(0.2)
    assert table["quantile_loss"].notna().all()


def test_the_table_has_no_band_columns_for_rows_without_quantiles():
    labelled = _labelled().reset_index()
    no_median = labelled.assign(Sales_p10=labelled["Sales"], Sales_p90=labelled["Sales"])
    partial = labelled.assign(Sales_p10=np.nan, Sales_p50=labelled["Sales"], Sales_p90=np.nan)

    for rows in (labelled, no_median, partial):
        assert "coverage" not in segment_table(rows).columns
