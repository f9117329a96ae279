"""The project's commands, as Kedro finds them: it imports ``rossmann_forecast.cli``, adds the
commands of its ``cli`` group to ``kedro`` (ahead of plugins' and its own, so ``run`` here
replaces Kedro's), and ``python -m rossmann_forecast`` runs its ``run`` (``find_run_command``).

- ``kedro model status|promote|history|describe|retain|check|notifications``: ``model.py``,
  the registry without a session; ``kedro model predict|review``: ``model_pipelines.py``,
  a pipeline in a session.
- ``kedro data synthesize``: ``data.py``.
- ``kedro run``: ``kedro_run.py``, Kedro's command with a failure reported once.
- ``context.py``: what they share (project path, configuration, the registry's context,
  exit codes).
"""

import click

from rossmann_forecast.cli import data, model, model_pipelines

# Kedro reads ``cli.run`` as the run command, so the module that defines it is not named run.py
# (the command would hide the module of the same name). Likewise the groups are reached through
# their modules (``model.model``), so that ``rossmann_forecast.cli.model`` stays the module.
from rossmann_forecast.cli.kedro_run import run

__all__ = ["cli", "run"]


@click.group(name="rossmann_forecast")
def cli() -> None:
    """Project commands."""


model.model.add_command(model_pipelines.predict)
model.model.add_command(model_pipelines.review)
cli.add_command(model.model)
cli.add_command(data.data)
cli.add_command(run)
