"""Project hooks: they orchestrate and check, and never produce data.

- ``RawFilesCheckHook`` stops a run that reads the raw files when they are missing, partial or
  empty, before any node runs, with one line saying what to do (``kedro run`` never writes raw
  files: ``kedro data synthesize`` does, on request).
- ``ParametersCheckHook`` refuses parameters that would fail a run late (the forecast
  quantile levels) before any node runs, naming the parameter.
- ``NodeTimingHook`` shows progress and where the run's time went.
- ``FailedRunHook`` marks a version registered by a run that then failed as abandoned.
- ``MlflowLocationHook`` stops every command of a copied project folder before it writes runs
  and models into the original's artifact folder.
- ``RunLockHook`` lets one pipeline run at a time use the project's ``data/``.
- ``PreviousOutputsHook`` keeps the files a run rewrites under ``data/`` aside until it ends, so
  that a failed or refused run leaves them as the last good run left them.
- ``TrackingRetriesHook`` and ``UnfinishedRunsHook``: a lost tracking server costs seconds, and
  the next command finishes what a run that lost it left open (``tracking_server``).
"""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import click
from kedro.framework.hooks import hook_impl
from kedro.pipeline import Pipeline

from rossmann_forecast.registry import ModelRegistry, RegistryError
from rossmann_forecast.run_lock import RunLock
from rossmann_forecast.run_outputs import OutputsGuard, dataset_file
from rossmann_forecast.tracking_server import UnfinishedRuns, apply_retry_settings, settle

logger = logging.getLogger(__name__)

# The catalog's raw Kaggle files and the dataset that fingerprints them.
RAW_DATASETS = ("sales_raw", "stores_raw", "test_raw")
FINGERPRINT_DATASET = "raw_data_fingerprint"


class RawFilesCheckHook:
    """Fails fast, before any node, when a pipeline reads raw files that are not usable."""

    @hook_impl
    def before_pipeline_run(self, pipeline: Pipeline, catalog: Any) -> None:
        """Check the raw folder if the pipeline reads it.

        Args:
            pipeline: The pipeline about to run.
            catalog: The run's data catalog.

        Raises:
            RawDataError: A Kaggle file is missing or empty, or only some of them exist.
        """
        if not pipeline.inputs() & {*RAW_DATASETS, FINGERPRINT_DATASET}:
            return
        # A catalog may hold the fingerprint in memory (e.g. a test's): only a dataset that
        # fingerprints files can check them.
        check = getattr(catalog.get(FINGERPRINT_DATASET), "check", None)
        if callable(check):
            check()


class ParametersCheckHook:
    """Refuses, before any node, parameters a pipeline would only trip on late in the run."""

    @hook_impl
    def before_pipeline_run(self, pipeline: Pipeline, catalog: Any) -> None:
        """Check the feature settings (``data_processing.features``) if the pipeline builds
        features, each booster's settings (``training.members.<name>``: library, rounds,
        ``relative_to_level``), ``training.fit_rows.cv_max_rows`` and
        ``training.quantiles.levels`` if the pipeline reads them
        (training does, after minutes of cross-validation), and the gate's estimate settings
        if it gates (the gate runs after training and registration).

        Raises:
            click.ClickException: A feature setting is unknown or its windows are not whole
                days, ``cv_max_rows`` is not a positive whole number, the levels are not
                an increasing list inside (0, 1) with 0.5, or
                ``validation.estimate``, ``estimate_fallback``, ``baseline_ratio_exponent``
                or ``season_change_factor`` is not one the gate knows; the message names the
                parameter.
        """
        inputs = pipeline.inputs()
        try:
            if "params:data_processing.features" in inputs:
                from rossmann_forecast.model.features import FeatureConfig  # noqa: PLC0415

                FeatureConfig.from_params(catalog.load("params:data_processing.features"))
            prefix = "params:training.members."
            for dataset in sorted(i for i in inputs if i.startswith(prefix)):
                from rossmann_forecast.model.ensemble import MemberSpec  # noqa: PLC0415

                try:
                    MemberSpec.from_params(catalog.load(dataset) or {})
                except (KeyError, ValueError) as exc:
                    raise ValueError(
                        f"Parameter {dataset.removeprefix('params:')}: {exc}"
                    ) from None
            if "params:training.fit_rows" in inputs:
                from rossmann_forecast.pipelines.training.nodes import (  # noqa: PLC0415
                    cv_fit_rows,
                )

                cv_fit_rows(catalog.load("params:training.fit_rows"))
            if "params:training.quantiles" in inputs:
                from rossmann_forecast.model.intervals import (  # noqa: PLC0415
                    check_day_classes,
                    check_levels,
                )

                quantiles = catalog.load("params:training.quantiles") or {}
                check_levels(quantiles.get("levels"))
                check_day_classes(quantiles.get("day_classes"))
            if "params:validation" in inputs:
                from rossmann_forecast.pipelines.validation.estimate import (  # noqa: PLC0415
                    check_estimate_settings,
                )

                check_estimate_settings(catalog.load("params:validation") or {})
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc


def peak_rss_gib() -> float:
    """The process's peak resident memory so far, in GiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


class NodeTimingHook:
    """Shows progress (node k of n, elapsed, peak memory so far) and, at the end, where the
    run's time went. The peak after each node says which step set the run's peak RSS."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}
        self._durations: dict[str, float] = {}
        self._total_nodes = 0
        self._run_started = 0.0

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline) -> None:
        """Reset the clock for a new run."""
        self._started.clear()
        self._durations.clear()
        self._total_nodes = len(pipeline.nodes)
        self._run_started = time.perf_counter()

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        """Start the node's clock."""
        self._started[node.name] = time.perf_counter()

    @hook_impl
    def after_node_run(self, node: Any) -> None:
        """Log the node's duration and the run's progress."""
        duration = time.perf_counter() - self._started.pop(node.name, time.perf_counter())
        self._durations[node.name] = duration
        logger.info(
            "[%d/%d] %s done in %.1f s (%.0f s elapsed, peak RSS %.2f GiB)",
            len(self._durations),
            self._total_nodes,
            node.name,
            duration,
            time.perf_counter() - self._run_started,
            peak_rss_gib(),
        )

    @hook_impl
    def after_pipeline_run(self) -> None:
        """Log the slowest nodes: where the time went."""
        total = time.perf_counter() - self._run_started
        slowest = sorted(self._durations.items(), key=lambda item: -item[1])[:8]
        logger.info(
            "Run finished in %.1f s; slowest nodes: %s",
            total,
            ", ".join(f"{name} {seconds:.1f} s" for name, seconds in slowest),
        )


class FailedRunHook:
    """A run that fails after registering a version leaves that version abandoned.

    The registry must not hold a usable entry from a failed run: the version stays (nothing is
    deleted outside retention) but is marked ``validation.status=abandoned`` with the error, so
    the gate never picks it up by itself and it can never be promoted without a verdict.
    """

    def __init__(
        self, model_dataset: str = "ensemble_model", registry_params: str = "params:registry"
    ) -> None:
        self._model_dataset = model_dataset
        self._registry_params = registry_params

    @hook_impl
    def on_pipeline_error(self, error: Exception, catalog: Any) -> None:
        """Abandon the version this run registered, if any."""
        try:
            dataset = catalog.get(self._model_dataset)
        except Exception:  # noqa: BLE001 - no such dataset in this catalog
            return
        info = getattr(dataset, "model_info", None)
        version = getattr(info, "registered_model_version", None)
        if version is None or self._registry_params not in catalog:
            return
        # The registered model's name comes from conf (registry.model_name, the same
        # globals entry the model dataset registers under), not from the dataset's internals.
        try:
            ModelRegistry.from_params(catalog.load(self._registry_params)).abandon(
                int(version),
                f"the run that registered it failed: {type(error).__name__}: {error}"[:500],
            )
        except RegistryError as exc:  # e.g. the lock stayed busy: the run's own error matters
            logger.warning("Could not mark version %s abandoned: %s", version, exc)


class ArtifactLocationMismatch(click.ClickException):
    """The MLflow database keeps this project's artifacts somewhere else than conf says.

    A ``ClickException`` so that every ``kedro`` command (``run``, ``model ...``) shows the
    message alone and exits 1.
    """


class MlflowLocationHook:
    """Refuses to start when the local MLflow database was made by another project folder.

    A project folder copied with ``cp -r`` brings ``mlflow/mlflow.db`` along, whose experiment
    stores the *original's* absolute artifact folder: MLflow would write the copy's runs and
    models there. Compared right after kedro-mlflow has set up tracking, before any run starts.
    Only for a SQLite database and local artifact folders (a tracking server owns its layout).
    """

    @hook_impl(trylast=True)  # after kedro-mlflow's after_context_created has set up MLflow
    def after_context_created(self, context: Any) -> None:
        """Compare the configured artifact root with the database's experiment.

        Raises:
            ArtifactLocationMismatch: They differ; the message says how to fix it.
        """
        config = getattr(context, "mlflow", None)  # kedro-mlflow's config, set by its hook
        if config is None:
            return
        uri = str(config.server.mlflow_tracking_uri or "")
        experiment_conf = config.tracking.experiment
        configured = _local_path(experiment_conf.create_experiment_kwargs.artifact_location)
        if not uri.startswith("sqlite:") or configured is None:
            return
        from mlflow import MlflowClient  # noqa: PLC0415

        experiment = MlflowClient(tracking_uri=uri).get_experiment_by_name(experiment_conf.name)
        stored = _local_path(experiment.artifact_location) if experiment else None
        if stored is None or stored == configured:
            return
        database = uri.removeprefix("sqlite:///")
        raise ArtifactLocationMismatch(
            f"The MLflow database {database} keeps the artifacts of experiment "
            f"'{experiment_conf.name}' in {stored}, but this project's artifact root is "
            f"{configured} (conf/base/mlflow.yml). Is this a copy of another project folder? "
            "Its runs and models would be written into the other folder; nothing was written.\n"
            f"Fix: to give this folder its own registry, delete its database and artifacts "
            f"(rm -rf {Path(database).parent}) and run again; to keep using the original "
            f"registry, run from the original folder, or set ROSSMANN_ARTIFACT_ROOT={stored}."
        )


def _local_path(location: str | None) -> Path | None:
    """A local artifact location as a resolved path; ``None`` for remote ones or none."""
    if not location:
        return None
    parsed = urlparse(str(location))
    if parsed.scheme not in ("", "file"):
        return None
    return Path(unquote(parsed.path) if parsed.scheme else str(location)).resolve()


class RunLockHook:
    """One run at a time reads and writes a project's ``data/`` (``run_lock.RunLock``).

    Taken before every other hook starts the run (before kedro-mlflow opens an MLflow run),
    given back after every other hook has finished with the run's files.
    """

    def __init__(self) -> None:
        self._lock: RunLock | None = None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        """Read ``run_lock`` from ``globals.yml``."""
        settings = dict(context.config_loader["globals"].get("run_lock") or {})
        self._lock = RunLock(
            Path(context.project_path) / "data",
            wait_seconds=float(settings.get("wait_seconds", 0)),
            poll_seconds=float(settings.get("poll_seconds", 1)),
        )

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self) -> None:
        """Take the lock, or stop with a message naming the run that holds it."""
        if self._lock is not None:
            self._lock.acquire()

    # Wrappers: the lock is given back after every other hook, even when one of them raises
    # (kedro-mlflow's end of the MLflow run fails when the tracking server is gone).
    @hook_impl(wrapper=True)
    def after_pipeline_run(self) -> Iterator[None]:
        """Give the lock back."""
        try:
            return (yield)
        finally:
            if self._lock is not None:
                self._lock.release()

    @hook_impl(wrapper=True)
    def on_pipeline_error(self) -> Iterator[None]:
        """Give the lock back."""
        try:
            return (yield)
        finally:
            if self._lock is not None:
                self._lock.release()


class PreviousOutputsHook:
    """A failed or refused run never leaves ``data/`` with half-built tables.

    Before the first node (and after every check that can stop a run before it starts) the
    files the pipeline writes under ``data/`` are moved aside; a run that succeeds drops them,
    a run that fails puts them back (``run_outputs.OutputsGuard``).
    """

    def __init__(self) -> None:
        self._guard: OutputsGuard | None = None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        """Remember the project's ``data/`` folder."""
        self._guard = OutputsGuard(Path(context.project_path) / "data")

    @hook_impl(trylast=True)  # after the checks that stop a run before it starts
    def before_pipeline_run(self, pipeline: Pipeline, catalog: Any) -> None:
        """Move aside the files of the previous run that this run will write."""
        if self._guard is None:
            return
        paths = []
        for name in pipeline.all_outputs():
            try:
                dataset = catalog.get(name)
            except Exception:  # noqa: BLE001 - an output without a catalog entry is in memory
                continue
            path = dataset_file(dataset)
            if path is not None:
                paths.append(path)
        self._guard.keep_aside(paths)

    @hook_impl(tryfirst=True)  # before the run lock is given back
    def after_pipeline_run(self) -> None:
        """The run succeeded: its files stand, the previous ones go."""
        if self._guard is not None:
            self._guard.commit()

    @hook_impl(tryfirst=True)  # before the run lock is given back
    def on_pipeline_error(self) -> None:
        """The run failed: put the previous files back."""
        if self._guard is None:
            return
        restored = self._guard.roll_back()
        if restored:
            logger.warning(
                "The run failed: %d file(s) under data/ are back as the last run that finished "
                "left them",
                len(restored),
            )


class TrackingRetriesHook:
    """A tracking server that does not answer costs seconds, not minutes: MLflow's HTTP retries
    come from ``tracking_server`` in ``globals.yml`` (an environment variable the user set
    wins), set before kedro-mlflow's hook first calls the server."""

    @hook_impl(tryfirst=True)
    def after_context_created(self, context: Any) -> None:
        """Set MLflow's retry variables."""
        apply_retry_settings(context.config_loader["globals"].get("tracking_server"))


class UnfinishedRunsHook:
    """What a run that lost its tracking server (or was killed) left open is finished by the
    next command (``tracking_server``).

    - Each ``kedro run`` is listed in ``data/.unfinished_runs.json`` from its start until MLflow
      has recorded its end (or its failure, with its versions abandoned).
    - Every command, once kedro-mlflow has pointed MLflow at the tracking URI, settles the
      listed runs of that URI whose process is gone: FAILED, and their pending versions
      abandoned (``tracking_server.settle``), before it reads or changes anything.
    """

    def __init__(self, registry_params: str = "params:registry") -> None:
        self._registry_params = registry_params
        self._records: UnfinishedRuns | None = None
        self._registry_settings: dict[str, Any] = {}
        self._run_id: str | None = None

    @hook_impl(trylast=True)  # after kedro-mlflow's hook set the tracking URI
    def after_context_created(self, context: Any) -> None:
        """Settle what earlier runs of this folder left open on this tracking server."""
        import mlflow  # noqa: PLC0415

        lock = dict(context.config_loader["globals"].get("registry_lock") or {})
        self._registry_settings = {
            "lock_ttl_seconds": lock.get("ttl_seconds", 120),
            "lock_wait_seconds": lock.get("wait_seconds", 60),
        }
        self._records = UnfinishedRuns(Path(context.project_path) / "data")
        if self._records.read():
            self._settle(mlflow.get_tracking_uri())

    def _settle(self, tracking_uri: str, own_run: str | None = None) -> None:
        assert self._records is not None
        for line in settle(self._records, tracking_uri, self._registry_settings, own_run=own_run):
            logger.warning("%s", line)

    @hook_impl(trylast=True)  # after kedro-mlflow opened the MLflow run
    def before_pipeline_run(self, catalog: Any) -> None:
        """List the MLflow run this ``kedro run`` logs to."""
        import mlflow  # noqa: PLC0415

        run = mlflow.active_run()
        if self._records is None or run is None:
            return
        model_name = ""
        if self._registry_params in catalog:
            model_name = str(catalog.load(self._registry_params).get("model_name", ""))
        self._run_id = run.info.run_id
        self._records.add(self._run_id, mlflow.get_tracking_uri(), model_name)

    @hook_impl(trylast=True)  # after kedro-mlflow recorded the run's end
    def after_pipeline_run(self) -> None:
        """The run's end is recorded: take it off the list."""
        if self._records is not None and self._run_id is not None:
            self._records.remove(self._run_id)
        self._run_id = None

    @hook_impl(trylast=True)  # after kedro-mlflow ended the run FAILED, if it could
    def on_pipeline_error(self) -> None:
        """Settle this run now if the server answers (every version it registered abandoned,
        even one whose save did not return); else it stays listed for the next command."""
        import mlflow  # noqa: PLC0415

        if self._records is None or self._run_id is None:
            return
        try:
            self._settle(mlflow.get_tracking_uri(), own_run=self._run_id)
        except Exception as exc:  # noqa: BLE001 - the run's own error is the one to report
            logger.warning("Run %s stays listed in %s: %s", self._run_id, self._records.path, exc)
        self._run_id = None
