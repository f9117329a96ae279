"""What the project's commands share: where the project is, its configuration, the Kedro
context a registry command needs, and the errors that become exit codes.

The Kedro context a registry command needs is made without a ``KedroSession``.

``kedro model status`` reads one parameter group and talks to MLflow. A session would also load
every plugin's hooks, describe the git checkout and keep a session store, and its context would
parse every parameter file of every pipeline. Here the context is made from the configuration
alone, holding only the parameter files that can define the group the command reads, and the
hooks that configure MLflow run on it (kedro-mlflow's, then the project's own, such as the check
of where MLflow writes). The command then talks to the same tracking server, with the same
credentials and the same safety checks, as ``kedro run`` of that environment.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click
import fsspec

from rossmann_forecast.startup import hook_manager

CONFIG_SUFFIXES = (".yml", ".yaml", ".json")
_GLOB_CHARACTERS = frozenset("*?[]{}")
EXIT_BUSY = 75  # EX_TEMPFAIL: the registry was locked by someone else for too long


class CommandError(click.ClickException):
    """A refusal or error for the user (message on stderr), with its exit code."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def project_path_of(metadata: Any) -> Path:
    """The project's root: from the ``metadata`` ``kedro`` passes, else found from the cwd."""
    if metadata is not None and getattr(metadata, "project_path", None):
        return Path(metadata.project_path)
    from kedro.utils import find_kedro_project  # noqa: PLC0415

    found = find_kedro_project(Path.cwd())
    if found is None:
        raise click.ClickException("Run this command inside the Kedro project.")
    return Path(found)


def bootstrapped(metadata: Any) -> tuple[Path, str]:
    """The project path and package name; the project is bootstrapped (settings, logging) by
    ``kedro`` itself when it passes ``metadata``, here otherwise."""
    if metadata is not None and getattr(metadata, "project_path", None):
        return Path(metadata.project_path), metadata.package_name
    from kedro.framework.startup import bootstrap_project  # noqa: PLC0415

    found = bootstrap_project(project_path_of(metadata))
    return Path(found.project_path), found.package_name


def project_config(metadata: Any, env: str | None) -> tuple[Path, Any]:
    """The project path and its config loader for ``env``, without starting a session.

    No session: nothing here needs MLflow, so the command neither opens nor writes to it.
    """
    from kedro.framework.project import settings  # noqa: PLC0415
    from kedro.framework.startup import bootstrap_project  # noqa: PLC0415

    project_path = project_path_of(metadata)
    bootstrap_project(project_path)
    config_loader = settings.CONFIG_LOADER_CLASS(
        conf_source=str(project_path / settings.CONF_SOURCE),
        env=env,
        **settings.CONFIG_LOADER_ARGS,
    )
    return project_path, config_loader


def lost_server(error: BaseException, project_path: Path | None = None) -> str:
    """The one-line message for an error that says the tracking server did not answer, or ""."""
    import mlflow  # noqa: PLC0415

    from rossmann_forecast.tracking_server import UnfinishedRuns, lost_server_message  # noqa: PLC0415

    mine = UnfinishedRuns(project_path / "data").mine() if project_path else None
    return lost_server_message(
        error,
        mine.tracking_uri if mine else mlflow.get_tracking_uri(),
        mine.run_id if mine else None,
    )


def files_mentioning(
    conf_dir: Path, envs: Iterable[str], patterns: Iterable[str], word: str
) -> list[str] | None:
    """The configuration files that ``patterns`` match in the ``envs`` folders of ``conf_dir``
    and whose text contains ``word``, as paths relative to their environment folder.

    A file can only define a top-level key ``word`` if its text contains it, so loading these
    files gives the same ``word`` group as loading every matched file. Globbing is fsspec's,
    as in Kedro's ``OmegaConfigLoader``.

    Returns:
        The sorted relative paths; None when a name holds a glob character (it cannot be
        passed back as a pattern that matches only itself).
    """
    fs = fsspec.filesystem("file")
    found: set[str] = set()
    for env in dict.fromkeys(envs):
        root = conf_dir / env
        if not root.is_dir():
            continue
        for pattern in patterns:
            for match in fs.glob((root / pattern).as_posix()):
                path = Path(match)
                if path.suffix.lower() not in CONFIG_SUFFIXES or not path.is_file():
                    continue
                if word not in path.read_text(encoding="utf-8", errors="replace"):
                    continue
                relative = path.relative_to(root).as_posix()
                if _GLOB_CHARACTERS & set(relative):
                    return None
                found.add(relative)
    return sorted(found)


def config_loader_for(
    conf_source: Path,
    env: str | None,
    group: str,
    loader_class: type,
    loader_args: dict[str, Any],
) -> Any:
    """The project's config loader for ``env`` whose ``parameters`` come only from the files
    that can define ``group`` (all parameter files if none or a glob-like name does).

    ``parameters[group]`` is the same as with every parameter file; the other groups may be
    missing.
    """
    config_loader = loader_class(conf_source=str(conf_source), env=env, **loader_args)
    patterns = config_loader.config_patterns.get("parameters")
    run_env = env or getattr(config_loader, "default_run_env", None)
    base_env = getattr(config_loader, "base_env", None)
    if not (patterns and run_env and base_env):
        return config_loader
    files = files_mentioning(conf_source, (base_env, run_env), patterns, group)
    if not files:
        return config_loader
    narrowed = {**(loader_args.get("config_patterns") or {}), "parameters": files}
    return loader_class(
        conf_source=str(conf_source), env=env, **{**loader_args, "config_patterns": narrowed}
    )


def registry_context(project_path: Path, package_name: str, env: str | None, group: str) -> Any:
    """A ``KedroContext`` of ``env`` whose ``parameters`` hold ``group`` (``config_loader_for``),
    after the ``after_context_created`` hooks that configure MLflow ran on it.

    As ``KedroSession`` does, ``env`` defaults to ``KEDRO_ENV`` and then to the config loader's
    default run environment. The hooks are the project's (``settings.HOOKS``) and kedro-mlflow's,
    unless ``settings.DISABLE_HOOKS_FOR_PLUGINS`` disables it; other plugins' hooks do not
    configure MLflow and are not loaded.
    """
    from kedro.framework.project import settings  # noqa: PLC0415

    env = env or os.getenv("KEDRO_ENV")
    config_loader = config_loader_for(
        project_path / settings.CONF_SOURCE,
        env,
        group,
        settings.CONFIG_LOADER_CLASS,
        dict(settings.CONFIG_LOADER_ARGS),
    )
    hooks = hook_manager()  # startup.py: why a hook manager of our own
    for hook in settings.HOOKS:
        hooks.register(hook)
    if "kedro-mlflow" not in settings.DISABLE_HOOKS_FOR_PLUGINS:
        from kedro_mlflow.framework.hooks import MlflowHook  # noqa: PLC0415

        hooks.register(MlflowHook())
    context = settings.CONTEXT_CLASS(
        package_name=package_name,
        project_path=project_path,
        config_loader=config_loader,
        env=env,
        hook_manager=hooks,
    )
    hooks.hook.after_context_created(context=context)
    return context
