"""A tracking server that stops answering: short waits, one message, nothing left half-done.

MLflow's own HTTP client retries a request that gets no answer for minutes (7 retries with a
backoff factor of 2, and 120 s per request: a ``kedro run`` whose server was killed printed
retry lines for 8 minutes). Three pieces make a lost server a short, clear failure that the
project cleans up after:

- ``apply_retry_settings``: every ``kedro`` command sets MLflow's retry variables from
  ``tracking_server`` in ``conf/base/globals.yml`` (seconds, not minutes), unless the user set
  them in the environment.
- ``UnfinishedRuns``: each ``kedro run`` writes its MLflow run into ``data/.unfinished_runs.json``
  before its first node and takes it out once MLflow recorded the run's end. A run that could not
  tell the server it ended (the server was gone, or the process was killed) stays listed.
- ``settle``: the next command that talks to the same server (any ``kedro run`` or
  ``kedro model ...``) marks each listed run whose process is gone ``FAILED`` and marks every
  version it registered that the gate has not judged ``abandoned`` (``ModelRegistry.abandon``):
  a version whose registration did not complete is never gated or promoted.

``lost_server_message`` turns the error of a request that never got an answer into one line
naming the server.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rossmann_forecast.run_lock import LockOwner

logger = logging.getLogger(__name__)

RECORD_FILE = ".unfinished_runs.json"

# conf key (globals.yml ``tracking_server``) -> MLflow's environment variable
RETRY_VARIABLES = {
    "max_retries": "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
    "backoff_factor": "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
    "timeout_seconds": "MLFLOW_HTTP_REQUEST_TIMEOUT",
}

# What requests/urllib3 say when the server did not answer at all (as opposed to answering
# with an error, which MLflow reports with the server's own message).
_NO_ANSWER = (
    "Max retries exceeded",
    "Connection refused",
    "Failed to establish a new connection",
    "Connection aborted",
    "Connection reset",
    "Read timed out",
    "RemoteDisconnected",
)


def apply_retry_settings(settings: Mapping[str, Any] | None) -> dict[str, str]:
    """Set MLflow's HTTP retry variables from ``settings`` where the environment has none.

    Returns:
        The variables this call set (a user's own values are kept and not returned).
    """
    applied = {}
    for key, variable in RETRY_VARIABLES.items():
        value = (settings or {}).get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(
                f"globals.yml tracking_server.{key} must be a whole number >= 0, got {value!r}"
            )
        if variable not in os.environ:
            os.environ[variable] = applied[variable] = str(value)
    return applied


def retry_budget() -> str:
    """How long a request to a server that does not answer is tried, as MLflow is set now."""
    retries = int(os.environ.get(RETRY_VARIABLES["max_retries"], "7"))
    backoff = int(os.environ.get(RETRY_VARIABLES["backoff_factor"], "2"))
    # urllib3 retries at once after the first failure, then waits backoff * 2**(n - 1)
    # (plus up to 1 s of MLflow's jitter) before retry n.
    waits = sum(backoff * 2 ** (n - 1) for n in range(2, retries + 1))
    return f"{retries + 1} tries over about {waits + retries} s"


def _chain(error: BaseException | None) -> Iterator[BaseException]:
    """The error and every error it was raised from or while handling."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def no_answer(error: BaseException) -> str:
    """The reason a request got no answer from the server (e.g. ``Connection refused``), or
    ``""`` when ``error`` is something else (the server may have answered with an error)."""
    for cause in _chain(error):
        text = str(cause)
        if type(cause).__name__ in ("ConnectionError", "ConnectTimeout", "ReadTimeout") or (
            "API request to" in text and any(marker in text for marker in _NO_ANSWER)
        ):
            for marker in _NO_ANSWER[1:]:
                if marker in text:
                    return marker
            return "no answer"
    return ""


def is_remote(tracking_uri: str) -> bool:
    """Whether the tracking URI is a server reached over HTTP."""
    return tracking_uri.startswith(("http://", "https://"))


def lost_server_message(error: BaseException, tracking_uri: str, run_id: str | None) -> str:
    """One line naming the server when ``error`` says it did not answer; ``""`` otherwise."""
    reason = no_answer(error)
    if not reason:
        return ""
    run = f" (MLflow run {run_id})" if run_id else ""
    return (
        f"Lost the MLflow tracking server {tracking_uri}: {reason} ({retry_budget()}; "
        "tracking_server in conf/base/globals.yml). The run stopped. When the server answers "
        f"again, the next kedro command marks this run{run} FAILED and any version it "
        f"registered abandoned, never gated or promoted (data/{RECORD_FILE} lists the run "
        "until then)."
    )


@dataclass(frozen=True)
class UnfinishedRun:
    """A ``kedro run`` whose MLflow run has not been recorded as ended yet."""

    run_id: str
    tracking_uri: str
    model_name: str
    pid: int
    host: str
    command: str
    started: str

    def owner(self) -> LockOwner:
        return LockOwner(self.pid, self.host, self.command, self.started)


class UnfinishedRuns:
    """``data/.unfinished_runs.json``: the runs of this project folder not yet known ended.

    One writer at a time (the project's run lock), so a plain read-modify-replace is safe; the
    file is replaced atomically, never left half-written.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / RECORD_FILE

    def read(self) -> list[UnfinishedRun]:
        if not self.path.is_file():
            return []
        try:
            rows = json.loads(self.path.read_text(encoding="utf-8"))
            return [UnfinishedRun(**row) for row in rows]
        except (ValueError, TypeError) as exc:
            logger.warning("Ignoring %s: it cannot be read (%s)", self.path, exc)
            return []

    def _write(self, runs: list[UnfinishedRun]) -> None:
        if not runs:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        partial.write_text(json.dumps([asdict(r) for r in runs], indent=1), encoding="utf-8")
        os.replace(partial, self.path)

    def add(self, run_id: str, tracking_uri: str, model_name: str) -> None:
        """List the run this process is starting."""
        me = LockOwner.me()
        run = UnfinishedRun(run_id, tracking_uri, model_name, me.pid, me.host, me.command,
                            datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))  # fmt: skip
        self._write([r for r in self.read() if r.run_id != run_id] + [run])

    def remove(self, run_id: str) -> None:
        """The run's end is recorded in MLflow: take it off the list."""
        runs = self.read()
        if any(r.run_id == run_id for r in runs):
            self._write([r for r in runs if r.run_id != run_id])

    def mine(self) -> UnfinishedRun | None:
        """The entry of this process's run, if listed."""
        me = LockOwner.me()
        return next((r for r in self.read() if (r.pid, r.host) == (me.pid, me.host)), None)


def settle(
    records: UnfinishedRuns,
    tracking_uri: str,
    registry_settings: Mapping[str, Any],
    *,
    own_run: str | None = None,
) -> list[str]:
    """Finish what runs that lost the server (or were killed) left open on ``tracking_uri``.

    For each listed run of this tracking URI whose process is gone: its MLflow run, if still
    ``RUNNING``, is marked ``FAILED``; each version it registered that the gate has not judged
    is marked abandoned (under the registry lock); then the run leaves the list. A run whose
    process still runs is left alone; one the server still does not answer for stays listed.
    ``own_run``: settle only that run, this process's own failed one.

    Returns:
        One line per thing done, for the command to show.
    """
    from mlflow import MlflowClient  # noqa: PLC0415
    from mlflow.exceptions import MlflowException  # noqa: PLC0415

    from rossmann_forecast.registry import ModelRegistry, RegistryError  # noqa: PLC0415

    done: list[str] = []
    for run in records.read():
        if own_run is not None:
            if run.run_id != own_run:
                continue
        elif run.tracking_uri != tracking_uri or run.owner().alive() is not False:
            continue
        client = MlflowClient(tracking_uri=tracking_uri)
        try:
            status = client.get_run(run.run_id).info.status
            if status == "RUNNING":
                client.set_terminated(run.run_id, "FAILED")
                done.append(
                    f"MLflow run {run.run_id} ({run.command}, started {run.started}) never "
                    "recorded its end (the tracking server was lost or the process killed): "
                    "marked FAILED"
                )
            abandoned = []
            if run.model_name:
                found = client.search_model_versions(
                    f"name='{run.model_name}' and run_id='{run.run_id}'"
                )
                registry = ModelRegistry.from_params(
                    {"model_name": run.model_name, **registry_settings}, client
                )
                reason = (
                    f"its training run {run.run_id} did not finish (tracking server lost or "
                    "process killed): registration incomplete"
                )
                abandoned = [
                    version
                    for version in sorted(int(v.version) for v in found)
                    if registry.abandon(version, reason)
                ]  # the registry logs each one
            if abandoned:
                done.append(
                    f"version(s) {', '.join(map(str, abandoned))} of {run.model_name}, registered "
                    f"by run {run.run_id}, marked abandoned: never gated or promoted"
                )
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                records.remove(run.run_id)  # e.g. the server's database was replaced
                continue
            if no_answer(exc):
                logger.warning(
                    "The tracking server %s still does not answer: run %s stays listed in %s",
                    tracking_uri, run.run_id, records.path,
                )  # fmt: skip
                return done
            raise
        except RegistryError as exc:  # e.g. the registry lock stayed busy: next time
            logger.warning("Could not settle run %s yet: %s", run.run_id, exc)
            continue
        records.remove(run.run_id)
    return done
