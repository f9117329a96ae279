"""``kedro model ...``: the registry commands (``kedro registry`` is already a Kedro command).

The commands are thin: they load the Kedro context of the chosen environment (so kedro-mlflow's
hook points MLflow at the same tracking URI as ``kedro run``), read the ``registry`` parameters and
call ``rossmann_forecast.registry``, where every lifecycle rule lives. They open no session
(``context.registry_context``); ``predict`` and ``review``, which run a pipeline, are in
``model_pipelines``.

Exit codes: 0 success; 1 refusal or error (message on stderr); 75 registry busy (lock timeout,
retry later); ``check`` exits 1 when it finds problems.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import click

from rossmann_forecast.cli.context import (
    EXIT_BUSY,
    CommandError,
    bootstrapped,
    lost_server,
    registry_context,
)
from rossmann_forecast.registry import (
    GATE_METRIC,
    LockTimeout,
    ModelRegistry,
    RegistryError,
    Transition,
)
from rossmann_forecast.startup import freeze_imported_objects


def _open_registry(metadata: Any, env: str | None) -> tuple[ModelRegistry, dict[str, Any]]:
    """The registry, with MLflow pointed where ``kedro run`` of ``env`` logs, and the
    ``registry`` parameters (``tracking_uri`` added).

    No session: the context is made from the config, with only the parameter files that can
    hold ``registry``, and only the hooks that configure MLflow (kedro-mlflow's, the project's
    location check) run on it; see ``context.registry_context``.
    """
    import mlflow  # noqa: PLC0415

    project_path, package_name = bootstrapped(metadata)
    # Kedro and kedro-mlflow log their start-up chatter at INFO; the command's own output is
    # what a user reads here, so only their warnings and errors are let through.
    for name in ("kedro", "kedro_mlflow"):
        logging.getLogger(name).setLevel(logging.WARNING)
    freeze_imported_objects()  # startup.py: what it saves
    context = registry_context(project_path, package_name, env, "registry")
    freeze_imported_objects()  # and again after the context's imports (MLflow's SQL store)
    # The config loader, not context.params: that one also builds every pipeline.
    params = dict(context.config_loader["parameters"].get("registry") or {})
    if "model_name" not in params:
        raise click.ClickException(
            "No `registry.model_name` parameter: add conf/base/parameters_registry.yml."
        )
    registry = ModelRegistry.from_params(params)
    params["tracking_uri"] = mlflow.get_tracking_uri()
    return registry, params


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
            raise CommandError(str(exc), EXIT_BUSY) from exc
        except RegistryError as exc:
            raise CommandError(str(exc)) from exc
        except Exception as exc:
            lost = lost_server(exc)
            if lost:
                raise CommandError(lost) from exc
            raise

    return wrapper


@click.group()
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
             row.input_drift, row.promoted_by or "-", row.note or ""]
        )  # fmt: skip
    _echo_table(
        [
            "VERSION",
            "STAGE",
            "GATE",
            "HOLDOUT RMSPE",
            "REGISTERED (UTC)",
            "DATA",
            "INPUT DRIFT",
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
    live = registry.live_comparison(result.version)
    click.echo(
        f"  Live: {live}"
        if live
        else "  Live: no comparison on actual sales yet (a Staging version is scored in "
        "Production's shadow by every inference run; `kedro run --pipelines monitoring` "
        "compares them once sales arrive)"
    )


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
            raise CommandError("; ".join(remaining))
    elif problems:
        raise CommandError("Run `kedro model check --repair` to fix them.")
    if broken:
        raise CommandError(
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
