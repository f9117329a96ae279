"""The project's run lock: one writing ``kedro`` run at a time in a project folder.

Two runs in one folder share ``data/``: a second ``kedro run`` would rewrite the tables the first
one is fitting and gating on, and the first version's recorded lineage (parameters, holdout
origin) would describe data it never saw. Every pipeline run takes this lock before its first
node and releases it at its end; a second run waits up to ``run_lock.wait_seconds`` (conf
``globals.yml``, 0 by default: it stops at once) and then stops with a message naming the run
that holds the lock.

The lock is ``data/.run.lock``, created exclusively (``O_CREAT | O_EXCL``) with its owner: pid,
host, command and start time. A lock whose owner process is gone (same host, pid not running,
e.g. a run killed with ``kill -9``) is stale: it is broken and taken, with a warning. A lock
held from another host cannot be judged from here; the message says how to remove it.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import socket
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click

logger = logging.getLogger(__name__)

LOCK_FILE = ".run.lock"


# EX_TEMPFAIL, as for a busy registry: nothing was done, try again later.
EXIT_BUSY = 75


class RunLockBusy(click.ClickException):
    """Another run holds the project's run lock; a ``ClickException`` so that ``kedro run``
    shows the message alone, and exits 75 (try again later)."""

    exit_code = EXIT_BUSY


@dataclass(frozen=True)
class LockOwner:
    """Who holds the lock."""

    pid: int
    host: str
    command: str
    started: str

    @classmethod
    def me(cls) -> LockOwner:
        return cls(
            pid=os.getpid(),
            host=socket.gethostname(),
            command=" ".join(Path(a).name if i == 0 else a for i, a in enumerate(sys.argv)),
            started=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )

    def alive(self) -> bool | None:
        """Whether the owner process runs; None when it is on another host."""
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # someone else's process: it exists
            return True
        return True

    def is_me(self) -> bool:
        """Whether this process is the owner."""
        return self.pid == os.getpid() and self.host == socket.gethostname()

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, `{self.command}`, started {self.started} UTC"


class RunLock:
    """``data/.run.lock``: taken with ``acquire``, given back with ``release``.

    Args:
        data_dir: The project's ``data/`` folder.
        wait_seconds: How long to wait for another run to finish before ``RunLockBusy``.
        poll_seconds: How often to look again while waiting.
    """

    def __init__(self, data_dir: Path, wait_seconds: float = 0.0, poll_seconds: float = 1.0):
        self.path = data_dir / LOCK_FILE
        self.wait_seconds = float(wait_seconds)
        self.poll_seconds = float(poll_seconds)
        self.broke_stale: LockOwner | None = None
        self._held = False

    def owner(self) -> LockOwner | None:
        """The current holder, or None when the lock is free (or unreadable mid-write)."""
        try:
            return LockOwner(**json.loads(self.path.read_text()))
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return None

    def acquire(self) -> None:
        """Take the lock, breaking a stale one; wait up to ``wait_seconds`` for a live one.

        Raises:
            RunLockBusy: Another live run still holds it after ``wait_seconds``.
        """
        deadline = time.monotonic() + self.wait_seconds
        waited = False
        while True:
            if self._try_create():
                return
            owner = self.owner()
            if owner is not None and owner.is_me():
                # Left by an earlier run of this process that a hook stopped before its
                # pipeline started (no end-of-run hook): runs in one process are sequential.
                self._held = True
                return
            if owner is not None and owner.alive() is False:
                self._break(owner)
                continue
            if time.monotonic() >= deadline:
                raise RunLockBusy(self._busy_message(owner))
            if not waited and owner is not None:
                logger.warning(
                    "Another run holds the project's run lock (%s): waiting up to %.0f s",
                    owner.describe(),
                    self.wait_seconds,
                )
                waited = True
            time.sleep(self.poll_seconds)

    def release(self) -> None:
        """Give the lock back, if this process holds it."""
        if not self._held:
            return
        owner = self.owner()
        if owner is not None and owner.pid == os.getpid():
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        self._held = False

    def _try_create(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(descriptor, "w") as file:
            json.dump(LockOwner.me().__dict__, file)
        self._held = True
        # A run stopped by a hook before its pipeline started gets no end-of-run hook: the
        # lock goes when the process does.
        atexit.register(self.release)
        return True

    def _break(self, owner: LockOwner) -> None:
        """Remove a dead owner's lock; renamed first so that two breakers cannot both win."""
        stale = self.path.with_name(f"{LOCK_FILE}.stale.{os.getpid()}")
        try:
            os.rename(self.path, stale)
        except FileNotFoundError:
            return  # another process broke it first
        current = self.owner_of(stale)
        if current is not None and current != owner and current.alive() is not False:
            # The lock changed hands between the read and the rename: give it back.
            with contextlib.suppress(OSError):
                os.link(stale, self.path)
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
        logger.warning(
            "Broke a stale run lock: its run (%s) is no longer running", owner.describe()
        )
        self.broke_stale = owner

    @staticmethod
    def owner_of(path: Path) -> LockOwner | None:
        try:
            return LockOwner(**json.loads(path.read_text()))
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return None

    def _busy_message(self, owner: LockOwner | None) -> str:
        who = owner.describe() if owner is not None else "a run that is starting"
        waited = f" after waiting {self.wait_seconds:.0f} s" if self.wait_seconds > 0 else ""
        remedy = (
            "Run again when it has finished, or let runs wait for each other: "
            "run_lock.wait_seconds in conf/<env>/globals.yml."
        )
        if owner is not None and owner.alive() is None:
            remedy += f" If that run is gone, delete {self.path}."
        return (
            f"Another run is using this project's data/ ({who}){waited}: two runs at once "
            f"would read each other's tables. Nothing was run. {remedy}"
        )
