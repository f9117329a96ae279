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
