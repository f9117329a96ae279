"""``kedro data ...``: the raw layer in data/01_raw (``kedro data synthesize``).

No session and no MLflow: the command reads the configuration alone (``context.project_config``).
"""

from __future__ import annotations

from typing import Any

import click

from rossmann_forecast.cli.context import project_config


@click.group()
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

    project_path, config_loader = project_config(metadata, env)
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
