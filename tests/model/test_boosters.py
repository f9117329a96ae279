"""Every booster adapter fits, saves, loads and predicts the same numbers; unknown ones fail."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from rossmann_forecast.model.boosters import BOOSTERS, MEMBERS, booster
from rossmann_forecast.model.ensemble import MemberSpec

CONF = Path(__file__).resolve().parents[2] / "conf" / "base"


@pytest.mark.parametrize("name", MEMBERS)
def test_an_adapter_round_trips_through_its_own_file_format(name, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 5)).astype("float32")
    y = 8.0 + x[:, 0] - 0.5 * x[:, 1] + rng.normal(scale=0.1, size=400)
    members = yaml.safe_load((CONF / "parameters_training.yml").read_text())["training"]
    spec = MemberSpec.from_params(members["members"][name])
    adapter = booster(spec.library)

    model = adapter.fit(spec.params, 30, x, y)
    path = tmp_path / f"{name}.{adapter.suffix}"
    adapter.save(model, path)
    loaded = adapter.load(path)

    before = np.asarray(adapter.predict(model, x), dtype="float64")
    after = np.asarray(adapter.predict(loaded, x), dtype="float64")
    np.testing.assert_allclose(after, before, rtol=1e-6)
    assert np.corrcoef(before, y)[0, 1] > 0.8  # it learnt something


def test_every_member_in_conf_has_an_adapter_and_every_adapter_a_member():
    members = yaml.safe_load((CONF / "parameters_training.yml").read_text())["training"]
    assert set(members["members"]) == set(MEMBERS) == set(BOOSTERS)
    assert {m["library"] for m in members["members"].values()} == set(BOOSTERS)


def test_an_unknown_library_is_an_error_not_a_fallback():
    with pytest.raises(ValueError, match=r"Unknown booster library 'sklearn': use one of"):
        MemberSpec.from_params({"library": "sklearn", "num_rounds": 10, "params": {}})
    with pytest.raises(ValueError, match="Unknown booster library 'catboots'"):
        booster("catboots")


def _noisy_fit(name: str, seed: int) -> tuple[np.ndarray, np.ndarray, MemberSpec]:
    """2,000 noisy rows (so that sampling changes the trees) and the configured member."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2_000, 5)).astype("float32")
    y = 8.0 + x[:, 0] - 0.5 * x[:, 1] + rng.normal(scale=0.3, size=2_000)
    members = yaml.safe_load((CONF / "parameters_training.yml").read_text())["training"]
    return x, y, MemberSpec.from_params(members["members"][name])


@pytest.mark.parametrize("name", MEMBERS)
def test_each_booster_reads_its_row_share_parameter(name):
    """``Booster.row_share`` names the parameter the library samples each tree's rows by: the
    configured booster with a smaller share fits another model (a wrong name would be ignored
    or refused)."""
    x, y, spec = _noisy_fit(name, seed=1)
    adapter = booster(spec.library)
    share = adapter.row_share

    as_configured = adapter.predict(adapter.fit(spec.params, 20, x, y), x)
    sparser = adapter.predict(adapter.fit({**spec.params, share: 0.2}, 20, x, y), x)

    assert not np.allclose(as_configured, sparser)


@pytest.mark.parametrize("name", MEMBERS)
def test_each_booster_reads_its_seed_parameter(name):
    """``Booster.seed_param`` names the parameter that seeds the library's row and feature
    sampling, and ``Booster.seeded`` sets it (the tuning pipeline's seed check and the rounds
    study refit with it): the configured booster with another seed fits another model, with
    the configured one the same model, and the configured parameters are left as they were."""
    x, y, spec = _noisy_fit(name, seed=2)
    adapter = booster(spec.library)
    seed = adapter.seed_param
    assert seed in spec.params  # conf sets it, so tuning's trial 0 is what trains
    configured = dict(spec.params)

    as_configured = adapter.predict(adapter.fit(spec.params, 20, x, y), x)
    again = adapter.predict(
        adapter.fit(adapter.seeded(spec.params, spec.params[seed]), 20, x, y), x
    )
    reseeded_params = adapter.seeded(spec.params, 7)
    reseeded = adapter.predict(adapter.fit(reseeded_params, 20, x, y), x)

    assert reseeded_params[seed] == 7
    assert spec.params == configured
    np.testing.assert_array_equal(again, as_configured)
    assert not np.allclose(as_configured, reseeded)


def _member(**settings):
    return {"library": "catboost", "num_rounds": 10, "params": {"subsample": 0.7}, **settings}


def test_a_member_beyond_the_cap_samples_each_tree_as_at_the_cap():
    spec = MemberSpec.from_params(_member(draw_factor=2))
    assert spec.draw_factor == 2.0
    # Under or at the cap: as configured.
    assert spec.for_rows(300_000, 400_000) is spec
    assert spec.for_rows(400_000, 400_000) is spec
    assert spec.for_rows(900_000, None) is spec
    # 800,000 rows drawn: each tree samples 0.7 x 400,000 / 800,000 = 35% of them, as many
    # rows (280,000) as a tree samples at the cap; the other settings stay.
    wider = spec.for_rows(800_000, 400_000)
    assert wider.params == {"subsample": pytest.approx(0.35)}
    assert spec.params == {"subsample": 0.7} and wider.num_rounds == 10
    # A booster without the parameter set samples every row at the cap (share 1).
    xgboost = MemberSpec.from_params({"library": "xgboost", "num_rounds": 5, "params": {}})
    assert xgboost.for_rows(500, 400).params == {"subsample": pytest.approx(0.8)}
    lightgbm = MemberSpec.from_params(
        {"library": "lightgbm", "num_rounds": 5, "params": {"bagging_fraction": 0.5}}
    )
    assert lightgbm.for_rows(1_000, 400).params == {"bagging_fraction": pytest.approx(0.2)}


@pytest.mark.parametrize("tree_method", ["hist", "approx"])
def test_xgboost_fits_the_trees_a_dmatrix_gives(tree_method):
    """The adapter quantises XGBoost's rows once (a QuantileDMatrix, for ``hist``) to hold
    less memory: the model must be the one ``xgb.train`` fits on a plain DMatrix."""
    import xgboost as xgb  # noqa: PLC0415

    rng = np.random.default_rng(3)
    x = rng.normal(size=(20_000, 6)).astype("float32")
    y = 8.0 + x[:, 0] - 0.5 * x[:, 1] * x[:, 2] + rng.normal(scale=0.3, size=20_000)
    members = yaml.safe_load((CONF / "parameters_training.yml").read_text())["training"]
    params = {**members["members"]["xgboost"]["params"], "tree_method": tree_method}
    adapter = booster("xgboost")

    through_adapter = adapter.predict(adapter.fit(params, 30, x, y), x)
    plain = xgb.train(params, xgb.DMatrix(x, y), num_boost_round=30).inplace_predict(x)

    np.testing.assert_array_equal(through_adapter, plain)


@pytest.mark.parametrize("factor", [0.5, 0, "2", True, None])
def test_a_draw_factor_under_one_or_not_a_number_is_refused_naming_the_member(factor):
    with pytest.raises(ValueError, match="draw_factor of the catboost member must be a number"):
        MemberSpec.from_params(_member(draw_factor=factor))
