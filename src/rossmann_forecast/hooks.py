"""Project hooks: make sure the raw Kaggle files exist, and fingerprint them, before a run.

``RawDataHook`` acts only when the pipeline about to run reads a raw dataset (``sales_raw``,
``stores_raw``, ``test_raw``) or the raw-data fingerprint. It takes the raw file paths from the
catalog, then:

- none of the three Kaggle files exist: writes synthetic ones with
  ``rossmann_forecast.synthetic.write_raw_files`` (``params:data_processing.synthetic``) plus a
  marker ``synthetic.json`` next to them (seed, store count, sha256 of each file), and logs one
  line saying so;
- some but not all exist: stops the run with a ``RawDataError`` naming the missing file(s), so
  that real and synthetic files are never mixed;
- all exist: uses them as they are. They count as synthetic only while ``synthetic.json`` matches
  every file's sha256; a known-synthetic set whose seed or store count differs from the
  parameters is regenerated (it is the project's own output, never a user's file).

The hook then fingerprints the three files (path, sha256, md5 from a ``<file>.dvc`` beside it) and
saves the result to the ``raw_data_fingerprint`` memory dataset. File I/O stays here, so the
``build_raw_data_lineage`` node that turns the fingerprint into ``raw_data_lineage`` is pure.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from kedro.framework.hooks import hook_impl
from kedro.io import MemoryDataset
from kedro.pipeline import Pipeline

from rossmann_forecast.registry import ModelRegistry, RegistryError
from rossmann_forecast.schemas import STORE_FILE, TEST_FILE, TRAIN_FILE, RawDataError

logger = logging.getLogger(__name__)

# Catalog dataset -> the Kaggle file it must point at.
RAW_DATASETS = {"sales_raw": TRAIN_FILE, "stores_raw": STORE_FILE, "test_raw": TEST_FILE}
FINGERPRINT_DATASET = "raw_data_fingerprint"
SYNTHETIC_PARAMS = "params:data_processing.synthetic"
MARKER_FILE = "synthetic.json"
_CHUNK_BYTES = 1 << 20


class RawDataHook:
    """Makes sure data/01_raw holds the three Kaggle files before a run, and fingerprints them."""

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any
    ) -> None:
        """Ensure the raw files exist and expose their fingerprint, if the pipeline reads them.

        Args:
            run_params: Kedro's run parameters (``project_path`` makes recorded paths relative).
            pipeline: The pipeline about to run.
            catalog: The run's data catalog.
        """
        if not pipeline.inputs() & {*RAW_DATASETS, FINGERPRINT_DATASET}:
            return
        paths = raw_file_paths(catalog)
        synthetic = _synthetic_params(catalog)
        ensure_raw_data(paths, n_stores=synthetic["n_stores"], seed=synthetic["seed"])
        project_path = Path(run_params.get("project_path") or Path.cwd())
        fingerprint = fingerprint_raw_files(paths, project_path)
        if FINGERPRINT_DATASET in catalog:
            catalog.save(FINGERPRINT_DATASET, fingerprint)
        else:  # a catalog without the declared memory dataset (e.g. a unit test's)
            catalog[FINGERPRINT_DATASET] = MemoryDataset(fingerprint)


def raw_file_paths(catalog: Any) -> dict[str, Path]:
    """The local path of each Kaggle file, taken from the catalog's raw datasets.

    Args:
        catalog: A Kedro data catalog holding ``sales_raw``, ``stores_raw`` and ``test_raw``.

    Returns:
        ``{"train.csv": Path, "store.csv": Path, "test.csv": Path}``.

    Raises:
        RawDataError: A raw dataset is missing from the catalog or is not a local file.
    """
    config = catalog.to_config()[0]
    paths: dict[str, Path] = {}
    for dataset_name, file_name in RAW_DATASETS.items():
        filepath = config.get(dataset_name, {}).get("filepath")
        if not filepath:
            raise RawDataError(
                f"The catalog has no file dataset '{dataset_name}' for {file_name}.", file_name
            )
        if "://" in str(filepath) and not str(filepath).startswith("file://"):
            raise RawDataError(
                f"{file_name}: the raw data hook handles local files only, "
                f"but '{dataset_name}' points at {filepath}.",
                file_name,
            )
        paths[file_name] = Path(str(filepath).removeprefix("file://"))
    return paths


def ensure_raw_data(paths: dict[str, Path], n_stores: int, seed: int) -> str:
    """Make sure all three Kaggle files exist, writing synthetic ones when none does.

    Args:
        paths: The Kaggle file name -> path mapping from ``raw_file_paths``.
        n_stores: Store count for synthetic data.
        seed: Random seed for synthetic data.

    Returns:
        ``"synthetic"`` or ``"real"``: the source of the files now in place.

    Raises:
        RawDataError: Some but not all files exist, a file is empty (0 bytes), or the raw paths do
            not share one folder with the Kaggle file names (the generator writes that layout).
    """
    present = [name for name, path in paths.items() if path.exists()]
    raw_dir = _raw_dir(paths)
    shown_dir = _display(raw_dir)
    if not present:
        _generate(paths, n_stores=n_stores, seed=seed)
        logger.info(
            "No Kaggle files in %s: generated synthetic Rossmann data (%s stores, seed %s)",
            shown_dir,
            f"{n_stores:,}",
            seed,
        )
        return "synthetic"
    missing = [name for name in paths if name not in present]
    if missing:
        raise RawDataError(
            f"{shown_dir} holds {_names(present)} but not {_names(missing)}: add the missing "
            f"Kaggle file(s), or remove {_names(present)} to use synthetic data. Real and "
            "synthetic files are never mixed.",
            missing[0],
        )
    for name, path in paths.items():
        if path.stat().st_size == 0:
            raise RawDataError(f"{name} is empty (0 bytes): {_display(path)}", name)
    marker = read_synthetic_marker(paths)
    if marker is None:
        logger.info("Using the Kaggle files in %s (real data)", shown_dir)
        return "real"
    if (marker.get("n_stores"), marker.get("seed")) != (n_stores, seed):
        previous = f"{marker.get('n_stores'):,} stores, seed {marker.get('seed')}"
        _generate(paths, n_stores=n_stores, seed=seed)
        logger.info(
            "Synthetic data in %s was made with other parameters (%s): regenerated synthetic "
            "Rossmann data (%s stores, seed %s)",
            shown_dir,
            previous,
            f"{n_stores:,}",
            seed,
        )
        return "synthetic"
    logger.info(
        "Using synthetic Rossmann data in %s (%s stores, seed %s)",
        shown_dir,
        f"{n_stores:,}",
        seed,
    )
    return "synthetic"


def read_synthetic_marker(
    paths: dict[str, Path], hashes: dict[str, str] | None = None
) -> dict[str, Any] | None:
    """The synthetic marker, if it exists and every file's sha256 still matches it.

    Args:
        paths: The Kaggle file name -> path mapping.
        hashes: The files' sha256 if already computed (each file is hashed otherwise).

    Returns:
        The marker's content, or ``None`` when the files are not (or no longer) synthetic.
    """
    marker_path = _raw_dir(paths) / MARKER_FILE
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


def fingerprint_raw_files(paths: dict[str, Path], project_path: Path) -> dict[str, Any]:
    """Where the raw files came from and what exactly they hold.

    Args:
        paths: The Kaggle file name -> path mapping.
        project_path: Paths are recorded relative to it when they are inside it.

    Returns:
        ``{"source": "synthetic"|"real", "synthetic": {"seed", "n_stores"}|None,
        "files": {name: {"path", "sha256", "dvc_md5"}}}``.
    """
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


def _generate(paths: dict[str, Path], n_stores: int, seed: int) -> None:
    # Imported here: the generator is only needed when data must be written.
    from rossmann_forecast.synthetic import write_raw_files  # noqa: PLC0415

    raw_dir = _raw_dir(paths)
    raw_dir.mkdir(parents=True, exist_ok=True)
    marker_path = raw_dir / MARKER_FILE
    # Written files that lose their marker halfway would count as real: drop the old one first.
    marker_path.unlink(missing_ok=True)
    started = time.perf_counter()
    written = write_raw_files(raw_dir, n_stores=n_stores, seed=seed)
    marker = {
        "generator": "rossmann_forecast.synthetic.write_raw_files",
        "seed": seed,
        "n_stores": n_stores,
        "sha256": {name: sha256_file(Path(written.get(name, paths[name]))) for name in paths},
    }
    _write_atomically(marker_path, json.dumps(marker, indent=2, sort_keys=True) + "\n")
    logger.debug("Synthetic raw files written in %.1f s", time.perf_counter() - started)


def _raw_dir(paths: dict[str, Path]) -> Path:
    folders = {path.parent for path in paths.values()}
    misnamed = [name for name, path in paths.items() if path.name != name]
    if len(folders) != 1 or misnamed:
        raise RawDataError(
            "The raw datasets must point at train.csv, store.csv and test.csv in one folder "
            f"(the Kaggle layout); the catalog has {', '.join(map(str, paths.values()))}.",
            misnamed[0] if misnamed else TRAIN_FILE,
        )
    return folders.pop()


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


def _synthetic_params(catalog: Any) -> dict[str, int]:
    params = catalog.load(SYNTHETIC_PARAMS) if SYNTHETIC_PARAMS in catalog else {}
    return {"n_stores": int(params.get("n_stores", 1115)), "seed": int(params.get("seed", 42))}


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _display(path: Path) -> str:
    return _relative(path, Path.cwd())


def _names(names: list[str]) -> str:
    return ", ".join(names)


class NodeTimingHook:
    """Shows progress (node k of n, elapsed) and, at the end, where the run's time went."""

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
            "[%d/%d] %s done in %.1f s (%.0f s elapsed)",
            len(self._durations),
            self._total_nodes,
            node.name,
            duration,
            time.perf_counter() - self._run_started,
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

    def __init__(self, model_dataset: str = "ensemble_model") -> None:
        self._model_dataset = model_dataset

    @hook_impl
    def on_pipeline_error(self, error: Exception, catalog: Any) -> None:
        """Abandon the version this run registered, if any."""
        try:
            dataset = catalog.get(self._model_dataset)
        except Exception:  # noqa: BLE001 - no such dataset in this catalog
            return
        info = getattr(dataset, "model_info", None)
        version = getattr(info, "registered_model_version", None)
        name = getattr(dataset, "_save_args", {}).get("registered_model_name")
        if version is None or name is None:
            return
        try:
            ModelRegistry(name).abandon(
                int(version),
                f"the run that registered it failed: {type(error).__name__}: {error}"[:500],
            )
        except RegistryError as exc:  # e.g. the lock stayed busy: the run's own error matters
            logger.warning("Could not mark version %s of %s abandoned: %s", version, name, exc)
