"""The drift checks on their own: a clean future period passes, each kind of bad batch is
flagged by name, and what cannot be judged says why (the pipeline tests run them through
``kedro run``)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from rossmann_forecast.drift import (
    DRIFT,
    NO_DRIFT,
    SKIPPED,
    TOO_FEW_ROWS,
    build_reference,
    check_batch,
    render_html,
)
from rossmann_forecast.paths import project_root
from rossmann_forecast.raw.synthetic import generate

SETTINGS = yaml.safe_load((project_root() / "conf/base/parameters_drift.yml").read_text())["drift"]


@pytest.fixture(scope="module")
def world():
    """A version trained on the days before the last six weeks of a 40-store synthetic train,
    and those six weeks as the next batch, forecast at the level they really sold."""
    data = generate(n_stores=40, seed=3)
    train = data.train
    origin = train["Date"].max() - pd.Timedelta(days=41)
    history = train[train["Date"] < origin]
    future = train[train["Date"] >= origin]
    batch = future.drop(columns=["Sales", "Customers"])
    forecasts = future[["Store", "Date", "Open", "Sales"]].copy()
    reference = build_reference(history, data.store, SETTINGS)
    return batch, forecasts, reference, data.store


def _judge(world, batch=None, forecasts=None, stores=None):
    clean_batch, clean_forecasts, reference, clean_stores = world
    return check_batch(
        clean_batch if batch is None else batch,
        clean_forecasts if forecasts is None else forecasts,
        reference,
        SETTINGS,
        clean_stores if stores is None else stores,
    )


def test_a_clean_future_period_is_no_alarm(world):
    verdict = _judge(world)
    assert verdict["status"] == NO_DRIFT, verdict
    assert verdict["drifted"] == []
    assert {c["check"] for c in verdict["checks"]} >= {
        "Dates", "Stores present", "Promo share", "Promo uniformity", "Forecast level",
        "store.csv CompetitionDistance",
    }  # fmt: skip


def test_the_reference_is_json_and_small(world):
    reference = world[2]
    text = json.dumps(reference)
    assert len(text) < 5 * 2**20 * 40 / 1115  # scaled: under 5 MiB at 1,115 stores
    assert json.loads(text)["trained_through"] < world[0]["Date"].min().date().isoformat()


def test_promo_flipped_on_half_the_rows_is_flagged(world):
    batch = world[0].copy()
    flip = np.random.default_rng(0).random(len(batch)) < 0.5
    batch.loc[flip, "Promo"] = 1 - batch.loc[flip, "Promo"]
    verdict = _judge(world, batch=batch)
    assert verdict["status"] == DRIFT
    assert "Promo uniformity" in verdict["drifted"]


def test_half_of_the_stores_missing_is_flagged_and_named(world):
    batch, forecasts = world[0], world[1]
    kept = sorted(batch["Store"].unique())[::2]
    verdict = _judge(
        world,
        batch=batch[batch["Store"].isin(kept)],
        forecasts=forecasts[forecasts["Store"].isin(kept)],
    )
    assert verdict["drifted"] == ["Stores present"]
    check = next(c for c in verdict["checks"] if c["check"] == "Stores present")
    assert check["value"] == pytest.approx(0.5, abs=0.03)
    assert "missing: 2, 4" in check["detail"]


def test_competition_distance_in_another_unit_is_flagged(world):
    stores = world[3].copy()
    stores["CompetitionDistance"] = stores["CompetitionDistance"] * 1000
    verdict = _judge(world, stores=stores)
    assert verdict["drifted"] == ["store.csv CompetitionDistance"]
    check = next(c for c in verdict["checks"] if c["check"] == "store.csv CompetitionDistance")
    assert "median new/old 1e+03" in check["detail"]


def test_forecasts_scaled_up_30_percent_are_flagged(world):
    forecasts = world[1].assign(Sales=world[1]["Sales"] * 1.3)
    verdict = _judge(world, forecasts=forecasts)
    assert verdict["drifted"] == ["Forecast level"]
    check = next(c for c in verdict["checks"] if c["check"] == "Forecast level")
    assert check["value"] == pytest.approx(1.3, rel=0.06)


@pytest.mark.parametrize("shift", [364, -364])
def test_dates_a_year_off_are_flagged(world, shift):
    batch = world[0].assign(Date=world[0]["Date"] + pd.Timedelta(days=shift))
    forecasts = world[1].assign(Date=batch["Date"])
    verdict = _judge(world, batch=batch, forecasts=forecasts)
    assert verdict["status"] == DRIFT
    assert "Dates" in verdict["drifted"]


def test_one_store_is_too_few_rows_to_judge_and_no_alarm(world):
    batch, forecasts = world[0], world[1]
    one = batch["Store"].iloc[0]
    verdict = _judge(
        world, batch=batch[batch["Store"] == one], forecasts=forecasts[forecasts["Store"] == one]
    )
    assert verdict["status"] == TOO_FEW_ROWS
    assert verdict["drifted"] == []
    assert "too few rows to judge: 42 rows of 1 stores" in verdict["reason"]


def test_a_version_without_reference_is_skipped_with_the_reason(world):
    verdict = check_batch(world[0], world[1], None, SETTINGS, world[3])
    assert verdict["status"] == SKIPPED
    assert "no drift reference" in verdict["reason"]


def test_the_report_leads_with_what_drifted(world):
    forecasts = world[1].assign(Sales=world[1]["Sales"] * 1.3)
    verdict = {**_judge(world, forecasts=forecasts), "version": 7}
    html = render_html(verdict, world[0], world[2])
    assert "Drift: Forecast level" in html
    assert html.index("Forecast level") < html.index("Promo share")
    assert "data:image/png;base64," in html
