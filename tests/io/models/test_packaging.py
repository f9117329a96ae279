"""What travels with a logged ensemble: the model's code slice alone, pinned requirements."""

from __future__ import annotations

from importlib.metadata import version

from rossmann_forecast.io.models.packaging import (
    MODEL_ENTRYPOINT,
    model_code_tree,
    model_pip_requirements,
)


def test_the_code_tree_holds_the_model_package_and_nothing_else(tmp_path):
    package = model_code_tree(tmp_path)

    assert package.name == "rossmann_forecast"
    assert sorted(p.name for p in package.iterdir()) == ["__init__.py", "model"]
    assert (package / "model" / MODEL_ENTRYPOINT.name).is_file()
    assert not (package / "model" / "datasets.py").exists()


def test_requirements_are_pinned_to_the_installed_versions():
    pins = dict(line.split("==") for line in model_pip_requirements())

    assert pins["mlflow"] == version("mlflow")
    assert {"pandas", "numpy", "pyarrow", "lightgbm"} <= set(pins)
