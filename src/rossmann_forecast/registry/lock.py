"""The registry lock: a registered model whose name must be unique.

MLflow has no compare-and-set, but creating a registered model whose name already exists fails
with ``RESOURCE_ALREADY_EXISTS`` for all but one caller. The lock is the registered model
``<model>.lock``, created together with its owner, host, pid, token and expiry tags. A holder that
died (its pid is gone on this host) or whose lock expired (``ttl_seconds``) is broken by whoever
first creates the internal marker ``<model>.lock.internal.broken.<token>`` (again a one-winner
write), so only one process can break a given lock. Waiters retry with jitter for at most
``wait_seconds`` and then raise ``LockTimeout`` naming the holder. Markers are deleted by the
next process that takes the lock, so they never pile up in the model list.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import socket
import time
import uuid

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from rossmann_forecast.registry.errors import (
    ALREADY_EXISTS,
    DOES_NOT_EXIST,
    LockTimeout,
    RegistryError,
)
from rossmann_forecast.registry.plan import now_iso
from rossmann_forecast.registry.state import float_or_none

logger = logging.getLogger(__name__)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RegistryLock:
    """Acquire, release and break the lock of one registered model's lifecycle."""

    def __init__(
        self, client: MlflowClient, model_name: str, ttl_seconds: float, wait_seconds: float
    ) -> None:
        self.client = client
        self.model_name = model_name
        self.ttl_seconds = ttl_seconds
        self.wait_seconds = wait_seconds
        self.name = f"{model_name}.lock"
        self.token: str | None = None

    def marker_name(self, token: str) -> str:
        """The internal registered model whose creation wins the right to break lock ``token``."""
        return f"{self.name}.internal.broken.{token}"

    def read(self) -> dict[str, str] | None:
        """The holder's tags, or None when the lock is free."""
        try:
            model = self.client.get_registered_model(self.name)
        except MlflowException as exc:
            if exc.error_code == DOES_NOT_EXIST:
                return None
            raise
        tags = dict(model.tags or {})
        tags.setdefault("lock.created_ms", str(model.creation_timestamp or 0))
        return tags

    def stale_reason(self, tags: dict[str, str]) -> str:
        """Why the lock may be broken, or '' if its holder should be waited for."""
        expires = float_or_none(tags.get("lock.expires_at"))
        if expires is None:  # not one of ours: give it one TTL from creation
            expires = float(tags.get("lock.created_ms", "0")) / 1000 + self.ttl_seconds
        if time.time() > expires:
            return "it expired"
        pid = tags.get("lock.pid", "")
        same_host = tags.get("lock.host") == socket.gethostname()
        if same_host and pid.isdigit() and not _pid_alive(int(pid)):
            return f"its process {pid} is gone"
        return ""

    def acquire(self, operation: str, user: str) -> str:
        """Take the lock (waiting, breaking a stale one); returns our token.

        Raises:
            LockTimeout: When a live holder kept it longer than ``wait_seconds``.
        """
        token = uuid.uuid4().hex
        deadline = time.monotonic() + self.wait_seconds
        waited = False
        while True:
            lock_tags = {
                "lock.token": token,
                "lock.owner": user,
                "lock.operation": operation,
                "lock.host": socket.gethostname(),
                "lock.pid": str(os.getpid()),
                "lock.acquired_at": now_iso(),
                "lock.expires_at": repr(time.time() + self.ttl_seconds),
            }
            try:
                self.client.create_registered_model(
                    self.name,
                    tags=lock_tags,
                    description=f"Lock for lifecycle changes of {self.model_name}. Broken "
                    "automatically once expired or when its process is gone.",
                )
                if waited:
                    logger.info("Got the registry lock after waiting")
                self.token = token
                self.clean_broken_markers()
                return token
            except MlflowException as exc:
                if exc.error_code == DOES_NOT_EXIST:
                    # The insert collided with a held lock, and MLflow's SQL store then reads
                    # that lock back to report it; the holder released it in between, so the
                    # read says "not found". The lock is free now: try again.
                    continue
                if exc.error_code != ALREADY_EXISTS:
                    raise
            holder = self.read()
            if holder is None:
                continue  # released between our attempt and the read
            why = self.stale_reason(holder)
            if why:
                self.break_stale(holder, why)
                continue
            if time.monotonic() > deadline:
                raise LockTimeout(
                    f"The registry of {self.model_name} is locked by {holder.get('lock.owner')} "
                    f"({holder.get('lock.operation')}, pid {holder.get('lock.pid')} on "
                    f"{holder.get('lock.host')}, since {holder.get('lock.acquired_at')}); waited "
                    f"{self.wait_seconds:.0f} s. Nothing was changed; retry later. The lock "
                    "is broken automatically when it expires or its process is gone."
                )
            if not waited:
                logger.info(
                    "Registry locked by %s (%s); waiting up to %.0f s",
                    holder.get("lock.owner"),
                    holder.get("lock.operation"),
                    self.wait_seconds,
                )
                waited = True
            time.sleep(random.uniform(0.05, 0.25))

    def break_stale(self, holder: dict[str, str], why: str) -> None:
        """Delete a stale lock, if we are the one process that wins the right to."""
        stale_token = holder.get("lock.token") or holder.get("lock.created_ms", "unknown")
        try:
            # One winner per stale lock: only the creator of the marker may delete that lock.
            self.client.create_registered_model(
                self.marker_name(stale_token),
                tags={"lock.broken_at": now_iso(), "rossmann.internal": "true"},
                description=f"Internal: the lock of {self.model_name} with token {stale_token} "
                "was broken. Deleted by the next command that takes the lock.",
            )
        except MlflowException as exc:
            if exc.error_code == ALREADY_EXISTS:
                return
            raise
        current = self.read()
        current_token = current and (current.get("lock.token") or current.get("lock.created_ms"))
        if current_token == stale_token:
            logger.warning(
                "Breaking the registry lock of %s (pid %s on %s, %s) because %s",
                holder.get("lock.owner"),
                holder.get("lock.pid"),
                holder.get("lock.host"),
                holder.get("lock.operation"),
                why,
            )
            with contextlib.suppress(MlflowException):
                self.client.delete_registered_model(self.name)

    def clean_broken_markers(self) -> None:
        """Delete the markers of broken locks; called by the holder of a fresh lock.

        A marker only has to outlive the break it guards: its winner deleted the stale lock
        before anyone could create ours. A late loser that re-creates a marker finds our token
        on the lock and deletes nothing, so every marker but one naming our token can go.
        Markers of older releases (``<model>.lock.broken.<token>``) are cleaned too.
        """
        with contextlib.suppress(MlflowException):
            for model in self.client.search_registered_models(
                filter_string=f"name LIKE '{self.name}.%broken.%'"
            ):
                if self.token is None or not model.name.endswith(f".{self.token}"):
                    self.client.delete_registered_model(model.name)

    def assert_held(self) -> None:
        """Raise unless we still hold the lock (a holder that stalled past its TTL may not)."""
        holder = self.read()
        if holder is None or holder.get("lock.token") != self.token:
            raise RegistryError(
                f"Lost the registry lock of {self.model_name} (held longer than "
                f"{self.ttl_seconds:.0f} s?); nothing was changed by this step. Retry."
            )

    def release(self, token: str) -> None:
        self.token = None
        holder = self.read()
        if holder is not None and holder.get("lock.token") == token:
            with contextlib.suppress(MlflowException):
                self.client.delete_registered_model(self.name)
        else:
            logger.warning("The registry lock was no longer ours when releasing it")
