"""A failed or refused run leaves the project's data files as the last good run left them.

Kedro writes each output as its node finishes: a run that fails at its fifth node has already
rewritten the files of the first four, next to files of the previous run that it never got to.
``OutputsGuard`` keeps the previous files aside while a run writes: before the first node, each
file the pipeline will write under ``data/`` is moved (renamed, so at no cost) into
``data/.previous_outputs/``; a run that succeeds deletes them, a run that fails puts them back
and deletes what it wrote. A run killed on the spot leaves them there: the next run (which holds
the project's run lock, so the killed one is gone) puts them back before it starts.

Only files a dataset names with ``filepath`` under ``data/`` are guarded. Folders (the
prediction log, the review report) only gain files, and files outside ``data/`` (``--output``
of ``kedro model predict``) are the user's.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

PREVIOUS_DIR = ".previous_outputs"
MANIFEST = "manifest.json"


def dataset_file(dataset: Any) -> Path | None:
    """The local file a catalog dataset writes, through wrappers (cached, MLflow); or None."""
    seen = 0
    while dataset is not None and seen < 5:  # noqa: PLR2004 - wrappers nest two or three deep
        filepath = getattr(dataset, "_filepath", None)
        protocol = getattr(dataset, "_protocol", "file")
        if filepath is not None and not getattr(dataset, "_version", None):
            return Path(str(filepath)) if protocol in ("file", None) else None
        dataset = getattr(dataset, "_dataset", None)
        seen += 1
    return None


class OutputsGuard:
    """Keeps a run's output files of the previous run aside until the run ends.

    Args:
        data_dir: The project's ``data/`` folder.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.previous_dir = self.data_dir / PREVIOUS_DIR
        self._moved: dict[Path, Path | None] = {}

    def guarded(self, paths: Iterable[Path]) -> list[Path]:
        """The paths under ``data/`` (files, not folders), resolved."""
        found = []
        for path in paths:
            resolved = path.resolve()
            if resolved.is_relative_to(self.data_dir) and not resolved.is_dir():
                found.append(resolved)
        return sorted(set(found))

    def restore_leftovers(self) -> list[Path]:
        """Put back the files a killed run left aside; returns them."""
        manifest = self.previous_dir / MANIFEST
        if not manifest.exists():
            shutil.rmtree(self.previous_dir, ignore_errors=True)
            return []
        entries = json.loads(manifest.read_text())
        restored = self._put_back({Path(k): (Path(v) if v else None) for k, v in entries.items()})
        logger.warning(
            "A run was killed before it finished: put back the %d file(s) it had kept aside (%s)",
            len(restored),
            ", ".join(self._show(p) for p in restored) or "-",
        )
        return restored

    def keep_aside(self, paths: Iterable[Path]) -> None:
        """Move the files ``paths`` into ``data/.previous_outputs`` before the run writes them."""
        self.restore_leftovers()
        self.previous_dir.mkdir(parents=True, exist_ok=True)
        moved: dict[Path, Path | None] = {}
        for number, path in enumerate(self.guarded(paths)):
            if path.exists():
                aside = self.previous_dir / f"{number}_{path.name}"
                moved[path] = aside
            else:
                moved[path] = None  # did not exist: a failed run must not leave one either
        # The manifest first: a kill between two renames still finds every moved file.
        self._write_manifest(moved)
        for path, aside in moved.items():
            if aside is not None:
                os.replace(path, aside)
        self._moved = moved

    def commit(self) -> None:
        """The run succeeded: drop the previous files."""
        shutil.rmtree(self.previous_dir, ignore_errors=True)
        self._moved = {}

    def roll_back(self) -> list[Path]:
        """The run failed: delete what it wrote and put the previous files back."""
        restored = self._put_back(self._moved)
        self._moved = {}
        return restored

    def _put_back(self, moved: dict[Path, Path | None]) -> list[Path]:
        restored = []
        for path, aside in moved.items():
            if aside is not None and aside.exists():
                os.replace(aside, path)
                restored.append(path)
            elif aside is None and path.exists():
                path.unlink()
                restored.append(path)
        shutil.rmtree(self.previous_dir, ignore_errors=True)
        return restored

    def _write_manifest(self, moved: dict[Path, Path | None]) -> None:
        manifest = self.previous_dir / MANIFEST
        partial = manifest.with_suffix(".tmp")
        partial.write_text(
            json.dumps({str(k): (str(v) if v else None) for k, v in moved.items()}, indent=2)
        )
        os.replace(partial, manifest)

    def _show(self, path: Path) -> str:
        return path.relative_to(self.data_dir.parent).as_posix()
