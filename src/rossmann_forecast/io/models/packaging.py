"""What travels with a logged ensemble: the model's code slice and its pinned requirements."""

from __future__ import annotations

import shutil
from importlib.metadata import version as installed_version
from pathlib import Path

import rossmann_forecast.model
from rossmann_forecast.model.boosters import BOOSTERS

# What the pyfunc imports when it loads; pinned to what trained it. Listed explicitly because
# MLflow's inference of requirements costs seconds per save and guesses.
MODEL_REQUIREMENTS = (
    "mlflow",
    "pandas",
    "numpy",
    "pyarrow",
    *(b.requirement for b in BOOSTERS.values()),
)
# The code logged with the model: this subpackage only (see its docstring).
MODEL_PACKAGE = Path(rossmann_forecast.model.__file__).parent
# MLflow "models from code": the file MLflow runs to build the model on load.
MODEL_ENTRYPOINT = MODEL_PACKAGE / "entrypoint.py"
# The package's __init__.py in the code logged with the model.
_SLICE_INIT = '''"""The model-only slice of rossmann_forecast, logged with a registered model.

It holds ``rossmann_forecast.model`` and nothing else of the project.
"""
'''


def model_pip_requirements() -> list[str]:
    """Exact versions of the libraries the registered model needs to load and predict."""
    return [f"{name}=={installed_version(name)}" for name in MODEL_REQUIREMENTS]


def model_code_tree(directory: Path) -> Path:
    """Write the code logged with the model in ``directory``; return the ``code_paths`` entry.

    MLflow copies each ``code_paths`` entry to ``<model>/code/<basename>`` and puts ``code/``
    first on ``sys.path`` when it loads the model. The entry is a ``rossmann_forecast`` folder
    holding a bare ``__init__.py`` and ``model/*.py``, so the model's code imports under its real
    name, ``rossmann_forecast.model``, and nothing else of the project is shipped.
    """
    package = directory / "rossmann_forecast"
    (package / "model").mkdir(parents=True)
    (package / "__init__.py").write_text(_SLICE_INIT)
    for source in sorted(MODEL_PACKAGE.glob("*.py")):
        shutil.copy2(source, package / "model" / source.name)
    return package
