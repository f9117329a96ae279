"""The raw layer on disk: the three Kaggle files, their synthetic stand-in and their fingerprint.

``data/01_raw`` (``raw_data_dir`` in conf/base/globals.yml) holds ``train.csv``, ``store.csv``
and ``test.csv``. Nothing writes there during ``kedro run``: the files are the user's (the real
Kaggle files) or were written on request by ``kedro data synthesize``, which calls
``synthesize_raw_data``. Synthetic files carry a marker ``synthetic.json`` beside them (seed,
store count, sha256 of each file); they count as synthetic only while every file's sha256
matches it, so a file a user changed is the user's and is never overwritten.

``check_raw_files`` is what ``kedro run`` checks before the pipeline reads the files, and
``fingerprint_raw_files`` is what ``RawFilesFingerprintDataset`` loads for the lineage.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    import pandas as pd


logger = logging.getLogger(__name__)

TRAIN_FILE = "train.csv"
STORE_FILE = "store.csv"
TEST_FILE = "test.csv"
KAGGLE_FILES = (TRAIN_FILE, STORE_FILE, TEST_FILE)


class RawDataError(ValueError):
    """A raw data file is missing, empty or breaks its schema.

    Attributes:
        file_name: The Kaggle file at fault (``train.csv``, ``store.csv`` or ``test.csv``).
        failure_cases: Pandera's failure cases when a schema was broken, else ``None``.
    """

    def __init__(
        self, message: str, file_name: str, failure_cases: pd.DataFrame | None = None
    ) -> None:
        super().__init__(message)
        self.file_name = file_name
        self.failure_cases = failure_cases


MARKER_FILE = "synthetic.json"
_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class SynthesizeResult:
    """What ``synthesize_raw_data`` did: ``written``, ``replaced`` (older synthetic data with
    other parameters) or ``unchanged`` (the same synthetic data was already there)."""

    action: str
    raw_dir: Path
    n_stores: int
    seed: int
    previous: dict[str, Any] | None = None


def raw_paths(raw_dir: Path) -> dict[str, Path]:
    """``{"train.csv": <raw_dir>/train.csv, ...}``: the Kaggle layout."""
    return {name: Path(raw_dir) / name for name in KAGGLE_FILES}


def check_raw_files(raw_dir: Path) -> None:
    """Refuse a raw folder a run cannot use: files missing, a partial set, or an empty file.

    Args:
        raw_dir: The folder of the three Kaggle files.

    Raises:
        RawDataError: With one line saying which file and what to do.
    """
    paths = raw_paths(raw_dir)
    present = [name for name, path in paths.items() if path.exists()]
    if not present:
        raise RawDataError(
            f"{display(paths[TRAIN_FILE])} is missing: drop the Kaggle files there or run "
            "`kedro data synthesize`",
            TRAIN_FILE,
        )
    missing = [name for name in paths if name not in present]
    if missing:
        raise RawDataError(_partial_message(raw_dir, present, missing), missing[0])
    for name, path in paths.items():
        if path.stat().st_size == 0:
            raise RawDataError(f"{name} is empty (0 bytes): {display(path)}", name)


def synthesize_raw_data(raw_dir: Path, n_stores: int, seed: int) -> SynthesizeResult:
    """Write synthetic Kaggle files and their marker, never over a user's files.

    Args:
        raw_dir: The folder of the three Kaggle files.
        n_stores: Store count.
        seed: Random seed (the output is deterministic for ``(n_stores, seed)``).

    Returns:
        What was done.

    Raises:
        RawDataError: The folder holds some but not all Kaggle files, or files that are not
            this project's synthetic output (real data, or synthetic files since changed).
    """
    raw_dir = Path(raw_dir)
    paths = raw_paths(raw_dir)
    present = [name for name, path in paths.items() if path.exists()]
    previous: dict[str, Any] | None = None
    if present:
        missing = [name for name in paths if name not in present]
        if missing:
            raise RawDataError(_partial_message(raw_dir, present, missing), missing[0])
        previous = read_synthetic_marker(paths)
        if previous is None:
            raise RawDataError(
                f"{display(raw_dir)} already holds {', '.join(KAGGLE_FILES)} and they are not "
                f"this project's synthetic data (no {MARKER_FILE} matches them): real files are "
                "never overwritten. To generate synthetic data, move them out of "
                f"{display(raw_dir)} first.",
                TRAIN_FILE,
            )
        if (previous.get("n_stores"), previous.get("seed")) == (n_stores, seed):
            return SynthesizeResult("unchanged", raw_dir, n_stores, seed, previous)
    _generate(raw_dir, n_stores=n_stores, seed=seed)
    action = "replaced" if previous else "written"
    return SynthesizeResult(action, raw_dir, n_stores, seed, previous)


def read_synthetic_marker(
    paths: dict[str, Path], hashes: dict[str, str] | None = None
) -> dict[str, Any] | None:
    """The synthetic marker, if it exists and every file's sha256 still matches it.

    Args:
        paths: The Kaggle file name -> path mapping (one folder).
        hashes: The files' sha256 if already computed (each file is hashed otherwise).

    Returns:
        The marker's content, or ``None`` when the files are not (or no longer) synthetic.
    """
    marker_path = next(iter(paths.values())).parent / MARKER_FILE
    if not marker_path.exists():
        return None
    try:
        marker = json.loads(marker_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        logger.warning("Ignoring unreadable %s: the raw files count as real", marker_path)
        return None
    recorded = marker.get("sha256", {})
    hashes = hashes or {name: sha256_file(path) for name, path in paths.items()}
    if any(recorded.get(name) != hashes[name] for name in paths):
        return None
    return marker


def fingerprint_raw_files(raw_dir: Path, project_path: Path) -> dict[str, Any]:
    """Where the raw files came from and what exactly they hold.

    Args:
        raw_dir: The folder of the three Kaggle files (checked with ``check_raw_files``).
        project_path: Paths are recorded relative to it when they are inside it.

    Returns:
        ``{"source": "synthetic"|"real", "synthetic": {"seed", "n_stores"}|None,
        "files": {name: {"path", "sha256", "dvc_md5"}}}``.
    """
    check_raw_files(raw_dir)
    paths = raw_paths(raw_dir)
    hashes = {name: sha256_file(path) for name, path in paths.items()}
    marker = read_synthetic_marker(paths, hashes)
    files = {
        name: {
            "path": _relative(path, project_path),
            "sha256": hashes[name],
            "dvc_md5": dvc_md5(path),
        }
        for name, path in paths.items()
    }
    return {
        "source": "synthetic" if marker else "real",
        "synthetic": {"seed": marker["seed"], "n_stores": marker["n_stores"]} if marker else None,
        "files": files,
    }


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def dvc_md5(path: Path) -> str | None:
    """The md5 that ``<path>.dvc`` records for ``path``, or ``None`` without a DVC file."""
    dvc_file = path.with_name(path.name + ".dvc")
    if not dvc_file.exists():
        return None
    try:
        outs = (yaml.safe_load(dvc_file.read_text(encoding="utf-8")) or {}).get("outs") or []
    except (OSError, yaml.YAMLError):
        logger.warning("Could not read %s: no DVC md5 recorded for %s", dvc_file, path.name)
        return None
    matching = [out for out in outs if out.get("path") == path.name] or outs
    return matching[0].get("md5") if matching else None


def display(path: Path) -> str:
    """``path`` relative to the working directory when inside it (as users type it)."""
    return _relative(Path(path), Path.cwd())


def _partial_message(raw_dir: Path, present: list[str], missing: list[str]) -> str:
    return (
        f"{display(raw_dir)} holds {', '.join(present)} but not {', '.join(missing)}: add the "
        f"missing Kaggle file(s), or remove {', '.join(present)} and run `kedro data "
        "synthesize` to use synthetic data. Real and synthetic files are never mixed."
    )


def _generate(raw_dir: Path, n_stores: int, seed: int) -> None:
    # Imported here: the generator is only needed when data must be written.
    from rossmann_forecast.raw.synthetic import write_raw_files  # noqa: PLC0415

    raw_dir.mkdir(parents=True, exist_ok=True)
    marker_path = raw_dir / MARKER_FILE
    # Written files that lose their marker halfway would count as real: drop the old one first.
    marker_path.unlink(missing_ok=True)
    written = write_raw_files(raw_dir, n_stores=n_stores, seed=seed)
    paths = raw_paths(raw_dir)
    marker = {
        "generator": "rossmann_forecast.raw.synthetic.write_raw_files",
        "seed": seed,
        "n_stores": n_stores,
        "sha256": {name: sha256_file(Path(written.get(name, paths[name]))) for name in paths},
    }
    _write_atomically(marker_path, json.dumps(marker, indent=2, sort_keys=True) + "\n")


def _write_atomically(path: Path, text: str) -> None:
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as tmp:
            tmp.write(text)
        os.chmod(tmp_name, 0o644)  # mkstemp makes it owner-only; the marker is not a secret
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
