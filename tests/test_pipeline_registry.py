"""The pipelines the project registers: building them is silent."""

import subprocess
import sys
import typing
import warnings
from pathlib import Path

from kedro.framework.startup import bootstrap_project
from kedro.pipeline import Node

from rossmann_forecast.pipeline_registry import register_pipelines


def test_registering_the_pipelines_raises_no_warning(monkeypatch):
    """Every `kedro` command builds every pipeline: a warning here would be printed on each.

    Kedro warns once per process about dotted dataset names (it keeps a flag on ``Node``), so
    the flag is cleared first: the test fails on such a name even if another test built the
    pipelines before.
    """
    bootstrap_project(Path(__file__).resolve().parents[1])
    monkeypatch.delattr(Node, "__dotted_dataset_name_warned__", raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pipelines = register_pipelines()
    assert {"data_processing", "training", "validation", "inference", "tuning"} <= set(pipelines)


def test_every_node_type_hint_resolves_at_run_time():
    """Kedro's parameter validation resolves each node function's type hints when a run
    starts, and logs a warning for every function whose hints name something only a type
    checker imports (``Figure`` did, twice on every `make run`)."""
    bootstrap_project(Path(__file__).resolve().parents[1])
    unresolved = {}
    for pipeline in register_pipelines().values():
        for node in pipeline.nodes:
            try:
                typing.get_type_hints(node.func)
            except NameError as error:
                unresolved[node.func.__name__] = str(error)
    assert unresolved == {}


def test_building_the_pipelines_leaves_validation_and_plotting_libraries_unimported():
    """Inference and the registry commands build every pipeline but never validate a raw file
    nor draw: pandera and matplotlib are imported where they are used, not at start-up."""
    root = Path(__file__).resolve().parents[1]
    code = (
        "import sys; from pathlib import Path; "
        "from kedro.framework.startup import bootstrap_project; "
        f"bootstrap_project(Path({str(root)!r})); "
        "from rossmann_forecast.pipeline_registry import register_pipelines; "
        "register_pipelines(); "
        "print(sorted(m for m in ('pandera', 'matplotlib') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_a_script_importing_the_settings_sees_no_warning_about_kedro_mlflows_model():
    """The benchmark and study scripts import the project's settings without the ``kedro``
    command, so Kedro's logging (which turns warnings into log records) is set up during that
    import: MLflow's warning about kedro-mlflow's untyped ``predict`` must stay caught there too.
    """
    code = "import rossmann_forecast.settings; print('imported')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert done.stdout.strip().splitlines()[-1] == "imported"
    assert "Add type hints" not in done.stdout + done.stderr, done.stdout + done.stderr
