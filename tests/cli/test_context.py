"""The config a registry command loads: only the parameter files that can define its group."""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.config import OmegaConfigLoader

from rossmann_forecast.cli.context import config_loader_for, files_mentioning
from rossmann_forecast.settings import CONFIG_LOADER_ARGS

PROJECT_CONF = Path(__file__).resolve().parents[2] / "conf"
PARAMETER_PATTERNS = ["parameters*", "parameters*/**", "**/parameters*"]
LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "merge_strategy": {"parameters": "soft"},
}


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_files_mentioning_keeps_parameter_files_that_name_the_group(tmp_path):
    _write(tmp_path / "base" / "parameters_registry.yml", "registry:\n  model_name: m\n")
    _write(tmp_path / "base" / "parameters_training.yml", "training:\n  trees: 10\n")
    _write(tmp_path / "base" / "catalog.yml", "registry_lock:\n  type: MemoryDataset\n")
    _write(tmp_path / "base" / "parameters" / "extra.yaml", "registry: {keep_archived: 2}\n")
    _write(tmp_path / "local" / "parameters.yml", "registry:\n  keep_archived: 5\n")
    _write(tmp_path / "other" / "parameters.yml", "registry:\n  keep_archived: 9\n")
    _write(tmp_path / "base" / "parameters_notes.txt", "registry\n")

    found = files_mentioning(tmp_path, ["base", "local"], PARAMETER_PATTERNS, "registry")

    assert found == ["parameters.yml", "parameters/extra.yaml", "parameters_registry.yml"]


def test_files_mentioning_gives_up_on_names_that_are_glob_patterns(tmp_path):
    _write(tmp_path / "base" / "parameters[1].yml", "registry:\n  model_name: m\n")

    assert files_mentioning(tmp_path, ["base"], PARAMETER_PATTERNS, "registry") is None


def test_files_mentioning_skips_missing_environment_folders(tmp_path):
    _write(tmp_path / "base" / "parameters.yml", "training: {}\n")

    assert files_mentioning(tmp_path, ["base", "local"], PARAMETER_PATTERNS, "registry") == []


@pytest.mark.parametrize("env", [None, "test", "server"])
def test_the_narrowed_loader_gives_the_same_registry_group_as_the_full_one(env):
    full = OmegaConfigLoader(conf_source=str(PROJECT_CONF), env=env, **CONFIG_LOADER_ARGS)

    narrowed = config_loader_for(
        PROJECT_CONF, env, "registry", OmegaConfigLoader, CONFIG_LOADER_ARGS
    )

    assert "parameters_registry.yml" in narrowed.config_patterns["parameters"]
    assert "parameters_training.yml" not in narrowed.config_patterns["parameters"]
    assert narrowed["parameters"]["registry"] == full["parameters"]["registry"]
    assert "training" in full["parameters"]
    assert "training" not in narrowed["parameters"]


def test_an_override_in_another_parameter_file_still_applies(tmp_path):
    conf = tmp_path / "conf"
    _write(conf / "base" / "globals.yml", "name: rossmann-ensemble\n")
    _write(conf / "base" / "parameters_registry.yml", "registry:\n  model_name: ${globals:name}\n")
    _write(conf / "base" / "parameters_training.yml", "training:\n  trees: 10\n")
    _write(conf / "local" / "parameters.yml", "registry:\n  keep_archived: 7\n")

    narrowed = config_loader_for(conf, None, "registry", OmegaConfigLoader, LOADER_ARGS)

    assert narrowed.config_patterns["parameters"] == ["parameters.yml", "parameters_registry.yml"]
    assert narrowed["parameters"] == {
        "registry": {"model_name": "rossmann-ensemble", "keep_archived": 7}
    }


def test_without_any_file_naming_the_group_every_parameter_file_is_loaded(tmp_path):
    conf = tmp_path / "conf"
    _write(conf / "base" / "parameters_training.yml", "training:\n  trees: 10\n")
    (conf / "local").mkdir()

    loader = config_loader_for(conf, None, "registry", OmegaConfigLoader, LOADER_ARGS)

    assert loader.config_patterns["parameters"] == PARAMETER_PATTERNS
    assert loader["parameters"] == {"training": {"trees": 10}}
