"""The project's commands, as Kedro finds them: it imports ``rossmann_forecast.cli``, adds the
commands of its ``cli`` group to ``kedro`` (ahead of plugins' and its own, so ``run`` here
replaces Kedro's), and ``python -m rossmann_forecast`` runs its ``run`` (``find_run_command``).

- ``kedro model status|promote|history|describe|retain|check|notifications``: ``model.py``,
  the registry without a session; ``kedro model predict|review``: ``model_pipelines.py``,
  a pipeline in a session.
- ``kedro data synthesize``: ``data.py``.
- ``kedro run``: ``run.py``, Kedro's command with a failure reported once.
- ``context.py``: what they share (project path, configuration, the registry's context,
  exit codes).
"""

import click

from rossmann_forecast.cli.data import data
from rossmann_forecast.cli.model import model
from rossmann_forecast.cli.model_pipelines import predict, review

# Binds the command over the submodule of the same name: Kedro reads ``cli.run`` as a command.
# Import the module's other names with ``from rossmann_forecast.cli.run import ...``.
from rossmann_forecast.cli.run import run

__all__ = ["cli", "run"]


@click.group(name="rossmann_forecast")
def cli() -> None:
    """Project commands."""


model.add_command(predict)
model.add_command(review)
cli.add_command(model)
cli.add_command(data)
cli.add_command(run)
