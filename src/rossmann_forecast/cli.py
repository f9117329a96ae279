"""Project commands: ``kedro model ...`` (``kedro registry`` is already a Kedro command).

The commands are thin: they load the Kedro context of the chosen environment (so kedro-mlflow's
hook points MLflow at the same tracking URI as ``kedro run``), read the ``registry`` parameters and
call ``rossmann_forecast.registry``, where every lifecycle rule lives.

Exit codes: 0 success; 1 refusal or error (message on stderr); 75 registry busy (lock timeout,
retry later); ``check`` exits 1 when it finds problems.
"""

from __future__ import annotations

import functools
import gc
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from rossmann_forecast.registry import (
    GATE_METRIC,
    PRODUCTION,
    STAGING,
    LockTimeout,
    ModelRegistry,
    RegistryError,
    Transition,
)

EXIT_BUSY = 75  # EX_TEMPFAIL: the registry was locked by someone else for too long


class _RegistryCommandError(click.ClickException):
    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _project_path(metadata: Any) -> Path:
    if metadata is not None and getattr(metadata, "project_path", None):
        return Path(metadata.project_path)
    from kedro.utils import find_kedro_project  # noqa: PLC0415

    found = find_kedro_project(Path.cwd())
    if found is None:
        raise click.ClickException("Run this command inside the Kedro project.")
    return Path(found)


def _open_registry(metadata: Any, env: str | None) -> tuple[ModelRegistry, dict[str, Any]]:
    """The registry, with MLflow pointed where ``kedro run`` of ``env`` logs, and the
    ``registry`` parameters (``tracking_uri`` added).

    No session: the context is made from the config, with only the parameter files that can
    hold ``registry``, and only the hooks that configure MLflow (kedro-mlflow's, the project's
    location check) run on it; see ``command_context``.
    """
    import mlflow  # noqa: PLC0415

    from rossmann_forecast.command_context import registry_context  # noqa: PLC0415

    project_path, package_name = _bootstrapped(metadata)
    # Kedro and kedro-mlflow log their start-up chatter at INFO; the command's own output is
    # what a user reads here, so only their warnings and errors are let through.
    for name in ("kedro", "kedro_mlflow"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # The imports of Kedro's CLI, MLflow and MLflow's SQL store leave about 300,000 objects
    # that live as long as the command. Each of Python's full garbage collections, set off by
    # the allocations of the next imports and of the first registry reads, walks them all
    # again: about 1 s of a 50-version `status` on 2 cores. Frozen, they are skipped; objects
    # made after the freeze are collected as usual.
    gc.freeze()
    context = registry_context(project_path, package_name, env, "registry")
    gc.freeze()
    # The config loader, not context.params: that one also builds every pipeline.
    params = dict(context.config_loader["parameters"].get("registry") or {})
    if "model_name" not in params:
        raise click.ClickException(
            "No `registry.model_name` parameter: add conf/base/parameters_registry.yml."
        )
    registry = ModelRegistry.from_params(params)
    params["tracking_uri"] = mlflow.get_tracking_uri()
    return registry, params


def _bootstrapped(metadata: Any) -> tuple[Path, str]:
    """The project path and package name; the project is bootstrapped (settings, logging) by
    ``kedro`` itself when it passes ``metadata``, here otherwise."""
    if metadata is not None and getattr(metadata, "project_path", None):
        return Path(metadata.project_path), metadata.package_name
    from kedro.framework.startup import bootstrap_project  # noqa: PLC0415

    found = bootstrap_project(_project_path(metadata))
    return Path(found.project_path), found.package_name


def _registry_command(func: Callable[..., None]) -> Callable[..., None]:
    """Add ``--env/-e``, pass the registry in and turn registry errors into clean exits."""

    @click.option("--env", "-e", default=None, help="Kedro environment (default: local).")
    @click.pass_obj
    @functools.wraps(func)
    def wrapper(metadata: Any, env: str | None, **kwargs: Any) -> None:
        try:
            registry, params = _open_registry(metadata, env)
            func(registry, params, **kwargs)
        except LockTimeout as exc:
            raise _RegistryCommandError(str(exc), EXIT_BUSY) from exc
        except RegistryError as exc:
            raise _RegistryCommandError(str(exc)) from exc
        except Exception as exc:
            lost = _lost_server(exc)
            if lost:
                raise _RegistryCommandError(lost) from exc
            raise

    return wrapper


@click.group(name="rossmann_forecast")
def cli() -> None:
    """Project commands."""


@cli.group()
def model() -> None:
    """Model lifecycle in the MLflow registry: status, promote, rollback, history, retention."""


@model.command()
@_registry_command
def status(registry: ModelRegistry, params: dict[str, Any]) -> None:
    """Every version with its stage, holdout RMSPE, data and who promoted it."""
    rows = registry.status()
    click.echo(f"Model {registry.model_name}  (tracking: {params['tracking_uri']})")
    for line in registry.open_operations():
        click.echo(f"⚠ {line}; `kedro model check --repair` settles it now")
    if not rows:
        click.echo("No versions registered yet. Train one with `kedro run`.")
        return
    table = []
    for row in rows:
        rmspe = f"{row.holdout_rmspe:.4f}" if row.holdout_rmspe is not None else "-"
        data = " ".join(part for part in (row.data_source, row.data_version) if part) or "-"
        table.append(
            [row.version, row.stage, row.validation_status, rmspe, row.registered_at, data,
             row.promoted_by or "-", row.note or ""]
        )  # fmt: skip
    _echo_table(
        [
            "VERSION",
            "STAGE",
            "GATE",
            "HOLDOUT RMSPE",
            "REGISTERED (UTC)",
            "DATA",
            "PROMOTED BY",
            "NOTE",
        ],
        table,
        right={"VERSION", "HOLDOUT RMSPE"},
    )


def _one_line(value: Any) -> str:
    """A cell on one line: line breaks and tabs in a note (an error's text) written as \\n,
    \\r and \\t, so that every row of a table is one line."""
    return str(value).replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")


def _echo_table(headers: list[str], rows: list[list[Any]], right: set[str] = frozenset()) -> None:
    """Columns as wide as their widest cell, so they line up for any content; one line a row."""
    cells = [[_one_line(c) for c in row] for row in rows]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]

    def line(values: list[str]) -> str:
        parts = [
            v.rjust(w) if h in right else v.ljust(w)
            for h, v, w in zip(headers, values, widths, strict=True)
        ]
        return "  ".join(parts).rstrip()

    click.echo(line(headers))
    for row in cells:
        click.echo(line(row))


@model.command()
@click.option("--reason", required=True, help="Why: recorded in the history.")
@click.option("--version", "version", type=int, default=None, help="Promote/roll back to N.")
@click.option("--user", default=None, help="Who (default: MLFLOW_TRACKING_USERNAME or OS user).")
@_registry_command
def promote(
    registry: ModelRegistry,
    params: dict[str, Any],
    reason: str,
    version: int | None,
    user: str | None,
) -> None:
    """Put the Staging version (or --version N, a rollback) in Production."""
    result = registry.promote(reason=reason, version=version, user=user)
    click.echo(f"✓ Model version {result.version} is now in Production")
    if result.previous_production is not None:
        click.echo(f"✓ Previous Production model (version {result.previous_production}) archived")
    click.echo(f"  {result.operation} #{result.seq} by {result.user}: {result.reason}")
    click.echo(f"  Load it with {result.model_uri}")


def _format_metrics(metrics: dict[str, float]) -> str:
    # The estimate of the next weeks is what the gate compared with its threshold (issue #19).
    keys = ("estimate_rmspe", GATE_METRIC, "holdout_bias")
    shown = {k: v for k, v in metrics.items() if k in keys} or metrics
    return " ".join(f"{k}={v:.4f}" for k, v in sorted(shown.items())[:3]) or "-"


def _echo_history(transitions: list[Transition]) -> None:
    table = []
    for t in transitions:
        why = t.reason + (f" [{t.note}]" if t.note else "")
        state = "" if t.state == "complete" else f" ({t.state})"
        table.append(
            [t.seq, t.at, t.version, f"{t.from_stage} -> {t.to_stage}", t.user,
             _format_metrics(t.metrics), why + state]
        )  # fmt: skip
    _echo_table(
        ["#", "WHEN (UTC)", "VERSION", "FROM -> TO", "WHO", "METRICS", "WHY"],
        table,
        right={"#", "VERSION"},
    )


@model.command()
@click.option("--version", "version", type=int, default=None, help="Only this version.")
@_registry_command
def history(registry: ModelRegistry, params: dict[str, Any], version: int | None) -> None:
    """Every transition in time order: version, from, to, who, when, why, metrics."""
    transitions = registry.history()
    if version is not None:
        transitions = [t for t in transitions if t.version == version]
    if not transitions:
        click.echo(f"No transitions recorded for {registry.model_name} yet.")
        return
    _echo_history(transitions)


@model.command()
@click.argument("version", type=int)
@_registry_command
def describe(registry: ModelRegistry, params: dict[str, Any], version: int) -> None:
    """A version's stage, validation, lineage (run, commit, data hashes), CV metrics, history."""
    info = registry.describe(version)
    click.echo(f"{info['model']} version {info['version']}: {info['stage']}")
    click.echo(f"  uri: {info['uri']}   aliases: {', '.join(info['aliases']) or '-'}")
    click.echo(f"  registered: {info['registered_at']}   run: {info['run_id']}")
    if info["description"]:
        click.echo("  description:")
        for line in info["description"].splitlines():
            click.echo(f"    {line}")
    for group in ("lifecycle", "validation", "lineage", "cv", "other"):
        if info[group]:
            click.echo(f"{group}:")
            for key, value in info[group].items():
                click.echo(f"  {key}: {value}")
    if info["history"]:
        click.echo("history:")
        _echo_history(info["history"])


@model.command()
@click.option("--keep", type=int, default=None, help="Archived versions to keep (conf default).")
@click.option("--dry-run", is_flag=True, help="Only say what would be deleted.")
@click.option("--user", default=None, help="Who (default: MLFLOW_TRACKING_USERNAME or OS user).")
@_registry_command
def retain(
    registry: ModelRegistry,
    params: dict[str, Any],
    keep: int | None,
    dry_run: bool,
    user: str | None,
) -> None:
    """Delete Archived versions beyond the newest --keep; never Production or Staging."""
    keep = int(params.get("keep_archived", 3)) if keep is None else keep
    report = registry.apply_retention(keep=keep, dry_run=dry_run, user=user)
    verb = "Would delete" if dry_run else "Deleted"
    click.echo(f"Kept Production: {report.production or '-'}, Staging: {report.staging or '-'}")
    click.echo(f"Kept archived (newest {keep}): {', '.join(map(str, report.kept_archived)) or '-'}")
    click.echo(f"{verb}: {', '.join(f'version {v}' for v in report.deleted) or 'nothing'}")
    if report.untouched:
        click.echo(
            "Not in scope (stage None: pending, rejected or superseded): "
            + ", ".join(map(str, report.untouched))
        )


@model.command()
@click.option("--repair", "do_repair", is_flag=True, help="Complete and fix what is found.")
@click.option("--user", default=None, help="Who (default: MLFLOW_TRACKING_USERNAME or OS user).")
@_registry_command
def check(
    registry: ModelRegistry, params: dict[str, Any], do_repair: bool, user: str | None
) -> None:
    """Check the lifecycle invariants (aliases vs tags, interrupted operations) and that every
    version's model is there to load."""
    problems = registry.repair(user=user) if do_repair else registry.check_invariants()
    broken = registry.broken_versions()
    for problem in problems + broken:
        click.echo(f"✗ {problem}")
    if do_repair:
        remaining = registry.check_invariants()
        click.echo("✓ Registry repaired" if not remaining else "✗ Problems remain")
        if remaining:
            raise _RegistryCommandError("; ".join(remaining))
    elif problems:
        raise _RegistryCommandError("Run `kedro model check --repair` to fix them.")
    if broken:
        raise _RegistryCommandError(
            f"{len(broken)} version(s) cannot be loaded and must not be promoted; restore their "
            "artifacts or train again (`--repair` cannot bring artifacts back)."
        )
    if not do_repair:
        click.echo("✓ Registry consistent")


@model.command()
@click.option("--disable", is_flag=True, help="Keep the webhook but stop deliveries.")
@_registry_command
def notifications(registry: ModelRegistry, params: dict[str, Any], disable: bool) -> None:
    """Send registry events to the team's endpoint: MLflow's webhook (URL, secret from env)."""
    setting = registry.configure_notifications(
        params.get("notifications") or {}, enabled=not disable
    )
    click.echo(f"✓ Webhook {setting.name!r} {setting.action} ({setting.webhook_id}): {setting.url}")
    click.echo(f"  events: {', '.join(setting.events)}")


# --------------------------------------------------------------------------------------------
# Commands that run project pipelines (kedro-mlflow logs them exactly like `kedro run`)
# --------------------------------------------------------------------------------------------
def _run_pipeline(
    metadata: Any, env: str | None, pipeline: str, runtime_params: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run one pipeline in a KedroSession; node errors become clean command errors.

    Returns:
        The run's free output datasets by name (``session.run``'s result) and the pipeline's
        parameter group as the run saw it (conf merged with ``runtime_params``).
    """
    from kedro.framework.session import KedroSession  # noqa: PLC0415
    from kedro.framework.startup import bootstrap_project  # noqa: PLC0415
    from kedro.io import DatasetError  # noqa: PLC0415
    from kedro.runner import SequentialRunner  # noqa: PLC0415

    from rossmann_forecast.model.ensemble import InvalidInputError  # noqa: PLC0415

    project_path = _project_path(metadata)
    bootstrap_project(project_path)
    try:
        with KedroSession.create(
            project_path=project_path, env=env, runtime_params=runtime_params
        ) as session:
            params = session.load_context().config_loader["parameters"].get(pipeline) or {}
            return session.run(pipeline_names=[pipeline], runner=SequentialRunner()), dict(params)
    except LockTimeout as exc:
        raise _RegistryCommandError(str(exc), EXIT_BUSY) from exc
    except (RegistryError, InvalidInputError) as exc:
        raise _RegistryCommandError(str(exc)) from exc
    except DatasetError as exc:
        # A model dataset that could not resolve its version (nothing in the stage, no such
        # version), or an input file that cannot be read as rows (empty): Kedro wraps the
        # message; show that message alone.
        cause = exc.__cause__
        while cause is not None and not isinstance(cause, (RegistryError, InvalidInputError)):
            cause = cause.__cause__
        if cause is not None:
            raise _RegistryCommandError(str(cause)) from exc
        raise


@model.command()
@click.option(
    "--stage",
    type=click.Choice([PRODUCTION, STAGING], case_sensitive=False),
    default=PRODUCTION,
    show_default=True,
    help="Predict with the version in this stage.",
)
@click.option("--version", "version", type=int, default=None, help="Predict with version N.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Kaggle submission CSV (Id,Sales); the detailed CSV goes beside it as "
    "<name>_detailed.csv. Default: data/07_model_output/.",
)
@click.option(
    "--input",
    "input_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Rows in the test.csv format (default: data/01_raw/test.csv).",
)
@click.option("--env", "-e", default=None, help="Kedro environment (default: local).")
@click.pass_obj
def predict(
    metadata: Any,
    stage: str,
    version: int | None,
    output: Path | None,
    input_path: Path | None,
    env: str | None,
) -> None:
    """Batch predictions with a stage's version: `kedro run --pipelines inference`, logged."""
    inference: dict[str, Any] = {"stage": stage.lower()}
    if version is not None:
        inference["version"] = version
    if input_path is not None:
        inference["input_path"] = input_path.resolve().as_posix()
    if output is not None:
        output = output.resolve()
        inference["output_path"] = output.as_posix()
        inference["predictions_path"] = output.with_name(f"{output.stem}_detailed.csv").as_posix()
    try:
        outputs, params = _run_pipeline(metadata, env, "inference", {"inference": inference})
    except _RegistryCommandError as exc:
        # The model names the column and rows; the file they are in is the one given here.
        from rossmann_forecast.model.ensemble import InvalidInputError  # noqa: PLC0415

        refused = isinstance(exc.__cause__, InvalidInputError)
        if refused and input_path is not None and not exc.message.startswith(input_path.name):
            exc.message = f"{input_path.name}: {exc.message}"
        raise
    record = outputs["inference_record"].load()
    click.echo(
        f"✓ {record['predicted_rows']:,} predictions by {record['model_name']} version "
        f"{record['model_version']} ({record['model_stage']}) for "
        f"{record['date_start']}..{record['date_end']}"
    )
    click.echo(f"  submission: {params['output_path']}")
    click.echo(f"  detailed:   {params['predictions_path']}")


@model.command()
@click.option("--env", "-e", default=None, help="Kedro environment (default: local).")
@click.pass_obj
def review(metadata: Any, env: str | None) -> None:
    """Staging vs Production on the holdout: checklist, plots, report (`--pipelines review`)."""
    outputs, _ = _run_pipeline(metadata, env, "review", {})
    summary = outputs["review_summary"].load()
    production = summary["production_version"]
    click.echo(
        f"Review of {summary['model_name']} version {summary['staging_version']} (Staging) "
        + (
            f"against version {production} (Production)"
            if production is not None
            else "alone: no version is in Production yet"
        )
    )
    for item in summary["checklist"]:
        mark = {"pass": "✓", "fail": "✗"}.get(item["status"], "-")
        click.echo(f"  {mark} {item['item']}: {item['detail']}")
    click.echo(f"Verdict: {summary['verdict']}")
    click.echo(f"Report: {outputs['review_report'].report_path}")
    if summary["logged_on_run"]:
        click.echo(
            f"  logged on run {summary['logged_on_run']} (version's validation) under review/"
        )


# --------------------------------------------------------------------------------------------
# kedro data ...: the raw layer
# --------------------------------------------------------------------------------------------
def _project_config(metadata: Any, env: str | None) -> tuple[Path, Any]:
    """The project path and its config loader for ``env``, without starting a session.

    No session: nothing here needs MLflow, so the command neither opens nor writes to it.
    """
    from kedro.framework.project import settings  # noqa: PLC0415
    from kedro.framework.startup import bootstrap_project  # noqa: PLC0415

    project_path = _project_path(metadata)
    bootstrap_project(project_path)
    config_loader = settings.CONFIG_LOADER_CLASS(
        conf_source=str(project_path / settings.CONF_SOURCE),
        env=env,
        **settings.CONFIG_LOADER_ARGS,
    )
    return project_path, config_loader


@cli.group()
def data() -> None:
    """The raw data in data/01_raw: the Kaggle files or their synthetic stand-in."""


@data.command()
@click.option(
    "--n-stores",
    type=click.IntRange(min=1),
    default=None,
    help="Stores to generate (default: data_processing.synthetic.n_stores in conf).",
)
@click.option(
    "--seed", type=int, default=None, help="Random seed (default: data_processing.synthetic.seed)."
)
@click.option("--env", "-e", default=None, help="Kedro environment (default: local).")
@click.pass_obj
def synthesize(metadata: Any, n_stores: int | None, seed: int | None, env: str | None) -> None:
    """Write synthetic train.csv, store.csv and test.csv; never over real files."""
    from rossmann_forecast.raw.files import display, synthesize_raw_data  # noqa: PLC0415
    from rossmann_forecast.raw.schemas import RawDataError  # noqa: PLC0415

    project_path, config_loader = _project_config(metadata, env)
    conf = (config_loader["parameters"].get("data_processing") or {}).get("synthetic") or {}
    n_stores = int(conf.get("n_stores", 1115)) if n_stores is None else n_stores
    seed = int(conf.get("seed", 42)) if seed is None else seed
    raw_dir = project_path / config_loader["catalog"]["raw_data_fingerprint"]["path"]
    try:
        result = synthesize_raw_data(raw_dir, n_stores=n_stores, seed=seed)
    except RawDataError as exc:
        raise click.ClickException(str(exc)) from exc
    what = f"{n_stores:,} stores, seed {seed}"
    where = display(result.raw_dir)
    if result.action == "unchanged":
        click.echo(f"✓ {where} already holds synthetic Rossmann data ({what}): nothing to do")
        return
    if result.action == "replaced":
        previous = result.previous or {}
        click.echo(
            f"✓ Replaced the synthetic data in {where} ({previous.get('n_stores', 0):,} stores, "
            f"seed {previous.get('seed')}) with synthetic Rossmann data ({what})"
        )
    else:
        click.echo(f"✓ Wrote synthetic Rossmann data ({what}) to {where}")
    click.echo("  train.csv, store.csv, test.csv and synthetic.json; next: `kedro run`")


# --------------------------------------------------------------------------------------------
# kedro run: Kedro's own command, with a failure reported once, at the end
# --------------------------------------------------------------------------------------------
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


def _lost_server(error: BaseException, project_path: Path | None = None) -> str:
    """The one-line message for an error that says the tracking server did not answer, or ""."""
    import mlflow  # noqa: PLC0415

    from rossmann_forecast.tracking_server import UnfinishedRuns, lost_server_message  # noqa: PLC0415

    mine = UnfinishedRuns(project_path / "data").mine() if project_path else None
    return lost_server_message(
        error,
        mine.tracking_uri if mine else mlflow.get_tracking_uri(),
        mine.run_id if mine else None,
    )


def _refuse_unknown_params(metadata: Any, env: str | None, given: dict[str, Any]) -> None:
    """Stop before anything runs when a ``--params`` key names no parameter of the project."""
    from kedro.framework.project import settings  # noqa: PLC0415

    from rossmann_forecast.runtime_params import (  # noqa: PLC0415
        catalog_runtime_keys,
        unknown_params,
    )

    project_path, config_loader = _project_config(metadata, env)
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


@cli.command(
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
    # The imports so far (Kedro, MLflow through the project's hooks, their dependencies) live
    # as long as the run; frozen, Python's full garbage collections stop walking them again
    # and again during the run (see `_registry` above). Later objects are collected as usual.
    gc.freeze()
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
        lost = _lost_server(exc, _project_path(ctx.obj))
        raise click.ClickException(lost or _failure_message(exc)) from exc
    finally:
        for handler in console:
            handler.removeFilter(node_failure)
