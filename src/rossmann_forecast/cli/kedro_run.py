"""``kedro run``: Kedro's own command, with a failure reported once, at the end.

The options are Kedro's (``kedro.framework.cli.project.run``) plus ``--verbose``; a ``--params``
key that names no parameter is refused before anything runs. Kedro finds this command as
``rossmann_forecast.cli.run`` (``cli/__init__.py`` re-exports it under that name).
"""

from __future__ import annotations

import logging
from typing import Any

import click

from rossmann_forecast.cli.context import lost_server, project_config, project_path_of
from rossmann_forecast.registry import RegistryError
from rossmann_forecast.startup import freeze_imported_objects

# Where a failed run's traceback goes (conf/logging.yml sends it to the log file only).
FAILURE_LOGGER = "rossmann_forecast.run_failure"


class _NodeFailureFilter(logging.Filter):
    """Drops Kedro's "Node ... failed with error: <message>" record from a console handler.

    The run command prints that message once, at the end; the log file keeps the record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "kedro.pipeline.node" and record.levelno >= logging.ERROR)


def _failure_message(error: BaseException) -> str:
    """The error a user acts on: the project's own error if one is in the chain (Kedro wraps
    dataset errors), else the exception's type and message and where the traceback is."""
    from rossmann_forecast.model.ensemble import InvalidInputError  # noqa: PLC0415
    from rossmann_forecast.raw.schemas import RawDataError  # noqa: PLC0415

    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, RawDataError | RegistryError | InvalidInputError):
            return str(cause)
        cause = cause.__cause__
    where = _file_error(error)
    if where:
        # A full disk, a read-only or forbidden folder: the path first, not the repr of the
        # dataset that was saving (Kedro's DatasetError starts with it, input example and all).
        return (
            f"{where}\n(the traceback: `kedro run --verbose`, or the log file, info.log by default)"
        )
    return (
        f"{type(error).__name__}: {error}\n"
        "(the traceback: `kedro run --verbose`, or the log file, info.log by default)"
    )


def _file_error(error: BaseException) -> str:
    """``No space left on device (errno 28): <path>`` for an ``OSError`` on a file in the
    chain (the path written to, for a copy), or ``""``."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno and (cause.filename or cause.filename2):
            path = cause.filename2 or cause.filename
            return f"{cause.strerror} (errno {cause.errno}): {path}"
        cause = cause.__cause__
    return ""


def _fail_active_mlflow_runs() -> None:
    """Mark a run still open as FAILED: an error raised before the pipeline started (in a
    ``before_pipeline_run`` hook) skips ``on_pipeline_error``, and MLflow's exit handler would
    record the run FINISHED. With the server gone the run stays listed as unfinished
    (``tracking_server``), and the next command marks it FAILED."""
    import mlflow  # noqa: PLC0415
    from mlflow.exceptions import MlflowException  # noqa: PLC0415

    while mlflow.active_run() is not None:
        try:
            mlflow.end_run(status="FAILED")
        except MlflowException:
            return


def _refuse_unknown_params(metadata: Any, env: str | None, given: dict[str, Any]) -> None:
    """Stop before anything runs when a ``--params`` key names no parameter of the project."""
    from kedro.framework.project import settings  # noqa: PLC0415

    from rossmann_forecast.runtime_params import (  # noqa: PLC0415
        catalog_runtime_keys,
        unknown_params,
    )

    project_path, config_loader = project_config(metadata, env)
    conf = project_path / settings.CONF_SOURCE
    envs = [config_loader.base_env, env or config_loader.default_run_env]
    problems = unknown_params(
        given, config_loader["parameters"], catalog_runtime_keys(conf / e for e in envs if e)
    )
    if problems:
        raise click.ClickException(
            f"Unknown parameter{'s' if len(problems) > 1 else ''} in --params: "
            f"{'; '.join(problems)}. Nothing was run: a misspelt key would be ignored and the "
            "run would use the value in conf (`kedro run --help`; parameters live in "
            "conf/base/parameters_*.yml)."
        )


def _kedro_run_command() -> click.Command:
    from kedro.framework.cli.project import run as kedro_run  # noqa: PLC0415

    return kedro_run


_KEDRO_RUN = _kedro_run_command()


@click.command(
    name="run",
    params=[
        *_KEDRO_RUN.params,
        click.Option(
            ["--verbose", "-v"],
            is_flag=True,
            help="On failure, print the traceback too (it is always in the log file).",
        ),
    ],
    help=_KEDRO_RUN.help,
    short_help=_KEDRO_RUN.short_help,
)
@click.pass_context
def run(ctx: click.Context, verbose: bool, **kwargs: Any) -> Any:
    """Kedro's ``kedro run``; a failure ends with its message once, not a traceback."""
    freeze_imported_objects()  # startup.py: what it saves
    if kwargs.get("params"):
        _refuse_unknown_params(ctx.obj, kwargs.get("env"), kwargs["params"])
    console = [
        handler
        for handler in logging.getLogger().handlers
        if not isinstance(handler, logging.FileHandler)
    ]
    node_failure = _NodeFailureFilter()
    for handler in console:
        handler.addFilter(node_failure)
    try:
        return ctx.invoke(_KEDRO_RUN, **kwargs)
    except click.ClickException:
        _fail_active_mlflow_runs()
        raise  # already a message for the user (e.g. the MLflow location check, the run lock)
    except Exception as exc:
        _fail_active_mlflow_runs()
        logging.getLogger(FAILURE_LOGGER).error("kedro run failed", exc_info=exc)
        if verbose:
            import traceback  # noqa: PLC0415

            click.echo("".join(traceback.format_exception(exc)), err=True, nl=False)
        lost = lost_server(exc, project_path_of(ctx.obj))
        raise click.ClickException(lost or _failure_message(exc)) from exc
    finally:
        for handler in console:
            handler.removeFilter(node_failure)
