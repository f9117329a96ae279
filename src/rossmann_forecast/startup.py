"""What makes a ``kedro`` command start fast and quietly, in one place.

``kedro model status`` on a 50-version registry is mostly start-up (importing Kedro, MLflow and
the project), not registry reads. What each trick saves, measured on 2026-12-03 with the registry
``scripts/command_speed.py`` builds (50 versions, SQLite), 2 cores shared with other work (load
about 4-5), each trick removed in turn, 7 interleaved runs, medians; ``status`` took 4.4 s wall,
3.3 s CPU with every trick in place:

1. ``main_settings.py`` and ``global_main_settings.py``, empty, beside ``settings.py``. Kedro's
   settings loader (dynaconf) imports ``<env>_settings`` and ``global_<env>_settings`` (``main``:
   Kedro uses no dynaconf environments); when one is missing, dynaconf searches the call stack,
   resolving the path of every module imported so far. Saves 0.16 s per command (dynaconf's
   fallback search timed in-process: 0.13-0.22 s over 7 runs, 0 with the files). They must stay
   where dynaconf looks for them, so they are files of their own.
2. ``freeze_imported_objects`` (``gc.freeze``) once the imports are done, in the registry
   commands and ``kedro run``. The imports of Kedro's CLI, MLflow and MLflow's SQL store leave
   about 300,000 objects that live as long as the command; each of Python's full garbage
   collections, set off by the allocations of later imports and reads, walks them all again.
   Frozen, they are skipped; objects made after the freeze are collected as usual. Saves 1.3 s
   wall, 1.1 s CPU of ``status`` (5.7 s and 4.4 s without it), the largest of the five.
3. ``hook_manager``: the registry commands build their context without a ``KedroSession``
   (``cli/context.py``: only the hooks that configure MLflow). A session would also load every
   plugin's hooks, describe the git checkout and keep a session store. Kedro offers no public
   way to make the hook manager a context needs: ``_create_hook_manager`` is private (kedro
   1.7; it is what ``KedroSession`` calls), so it is called here alone, and a Kedro upgrade
   that moves it breaks this one function (the tests of ``kedro model`` would fail).
4. Only the parameter files that can hold ``registry`` (``cli/context.config_loader_for``).
   3 and 4 together save 0.4 s: the command's registry set-up, timed in-process, takes 1.47 s;
   1.66 s parsing every parameter file; 1.84 s from a session (which parses them all).
5. ``import_pipeline_model_quietly``, called by ``settings.py``: saves no time (4.9 s wall
   without it, within the noise: the class is imported by kedro-mlflow's hook anyway) but one
   warning at the top of every command's output; see its docstring.
"""

from __future__ import annotations

import gc
import warnings
from typing import Any


def freeze_imported_objects() -> None:
    """Move every object alive now out of the garbage collector's sight (see 2. above)."""
    gc.freeze()


def hook_manager() -> Any:
    """An empty Kedro hook manager with the project's hook specifications (see 3. above)."""
    from kedro.framework.hooks import _create_hook_manager  # noqa: PLC0415

    return _create_hook_manager()


def import_pipeline_model_quietly() -> None:
    """Import kedro-mlflow's ``KedroPipelineModel`` without MLflow's warning about it.

    kedro-mlflow 2.0.3 defines ``KedroPipelineModel.predict`` without type hints, and MLflow
    warns about it ("Add type hints to the `predict` method") when that class is first
    imported: by kedro-mlflow's hook, at the start of every ``kedro`` command, before the
    command's answer. It is not about our model (whose predict is typed). MLflow raises it
    inside its own ``catch_warnings`` + ``simplefilter("once")``, which overrides any
    filterwarnings entry, so the class is imported here (settings load before plugin hooks)
    while that one warning is caught; any other warning raised by the import is shown as usual.
    Kedro's logging is set up first: its handler sends warnings to logging
    (``logging.captureWarnings``), and set up inside the catch, as a script importing the
    project's settings without the ``kedro`` command would, it let the warning through.
    """
    import kedro.framework.project  # noqa: F401, PLC0415

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import kedro_mlflow.mlflow.kedro_pipeline_model  # noqa: F401, PLC0415
    for warning in caught:
        if "Add type hints to the `predict` method" not in str(warning.message):
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
