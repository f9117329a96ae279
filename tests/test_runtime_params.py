"""``--params`` keys checked against the project's parameters (issue 20 case 6)."""

from __future__ import annotations

from rossmann_forecast.runtime_params import catalog_runtime_keys, unknown_params

PARAMETERS = {
    "validation": {"threshold": 0.1, "recent_days": 14},
    "training": {"members": {"lightgbm": {"num_rounds": 300, "params": {"num_leaves": 63}}}},
}


def test_known_keys_at_any_level_are_accepted():
    given = {"validation": {"threshold": 0.05}, "training": {"members": {"lightgbm": {}}}}

    assert unknown_params(given, PARAMETERS, []) == []


def test_a_library_parameter_not_in_conf_is_accepted():
    given = {"training": {"members": {"lightgbm": {"params": {"max_bin": 63}}}}}

    assert unknown_params(given, PARAMETERS, []) == []


def test_a_misspelt_key_names_the_nearest_known_one():
    given = {"validation": {"treshold": 0.05}}

    assert unknown_params(given, PARAMETERS, []) == [
        "'validation.treshold' (did you mean 'validation.threshold'?)"
    ]


def test_an_unknown_group_lists_the_groups():
    assert unknown_params({"zzz": 1}, PARAMETERS, []) == ["'zzz' (groups: training, validation)"]


def test_keys_the_catalog_reads_from_runtime_params_are_known(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "catalog_x.yml").write_text(
        "m:\n  model_version: ${runtime_params:validation.version,null}\n"
    )

    keys = catalog_runtime_keys([tmp_path / "base"])

    assert keys == {"validation.version"}
    assert unknown_params({"validation": {"version": 7}}, PARAMETERS, keys) == []
