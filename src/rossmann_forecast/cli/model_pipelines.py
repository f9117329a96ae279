"""``kedro model predict`` and ``kedro model review``: the model commands that run a project
pipeline (``inference``, ``review``) in a ``KedroSession``, so kedro-mlflow logs them exactly like
``kedro run``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from rossmann_forecast.cli.context import EXIT_BUSY, CommandError, project_path_of
from rossmann_forecast.registry import PRODUCTION, STAGING, LockTimeout, RegistryError


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

    project_path = project_path_of(metadata)
    bootstrap_project(project_path)
    try:
        with KedroSession.create(
            project_path=project_path, env=env, runtime_params=runtime_params
        ) as session:
            params = session.load_context().config_loader["parameters"].get(pipeline) or {}
            return session.run(pipeline_names=[pipeline], runner=SequentialRunner()), dict(params)
    except LockTimeout as exc:
        raise CommandError(str(exc), EXIT_BUSY) from exc
    except (RegistryError, InvalidInputError) as exc:
        raise CommandError(str(exc)) from exc
    except DatasetError as exc:
        # A model dataset that could not resolve its version (nothing in the stage, no such
        # version), or an input file that cannot be read as rows (empty): Kedro wraps the
        # message; show that message alone.
        cause = exc.__cause__
        while cause is not None and not isinstance(cause, (RegistryError, InvalidInputError)):
            cause = cause.__cause__
        if cause is not None:
            raise CommandError(str(cause)) from exc
        raise


@click.command()
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
    except CommandError as exc:
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


@click.command()
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
