"""RawDataHook: synthetic data when no Kaggle file exists, real files used as they are."""

from __future__ import annotations

import json
import logging
import sys
import types
from pathlib import Path

import pytest
from kedro.io import DataCatalog
from kedro.pipeline import Node, Pipeline

from rossmann_forecast.hooks import (
    FINGERPRINT_DATASET,
    MARKER_FILE,
    RawDataHook,
    dvc_md5,
    ensure_raw_data,
    fingerprint_raw_files,
    raw_file_paths,
    sha256_file,
)
from rossmann_forecast.schemas import RawDataError

KAGGLE_FILES = ("train.csv", "store.csv", "test.csv")


@pytest.fixture
def fake_generator(monkeypatch, raw_frames, write_raw_csvs):
    """Replace the synthetic generator with one that writes the tiny tables; record its calls."""
    calls: list[dict] = []

    def write_raw_files(directory, n_stores=1115, seed=42):
        calls.append({"directory": Path(directory), "n_stores": n_stores, "seed": seed})
        frames = dict(raw_frames)
        # Different seeds must give different files, as the real generator does.
        frames["store.csv"] = frames["store.csv"].assign(CompetitionDistance=100.0 + seed)
        return write_raw_csvs(Path(directory), frames)

    module = types.ModuleType("rossmann_forecast.synthetic")
    module.write_raw_files = write_raw_files
    monkeypatch.setitem(sys.modules, "rossmann_forecast.synthetic", module)
    return calls


@pytest.fixture
def raw_dir(tmp_path) -> Path:
    directory = tmp_path / "data" / "01_raw"
    directory.mkdir(parents=True)
    return directory


def paths_in(directory: Path) -> dict[str, Path]:
    return {name: directory / name for name in KAGGLE_FILES}


def make_catalog(directory: Path, synthetic: dict | None = None) -> DataCatalog:
    config = {
        name: {"type": "pandas.CSVDataset", "filepath": str(directory / file_name)}
        for name, file_name in zip(
            ("sales_raw", "stores_raw", "test_raw"), KAGGLE_FILES, strict=True
        )
    }
    catalog = DataCatalog.from_config(config)
    catalog["params:data_processing.synthetic"] = synthetic or {"n_stores": 30, "seed": 7}
    return catalog


def identity(df):
    return df


def test_no_files_generates_synthetic_data_marker_and_one_log_line(raw_dir, fake_generator, caplog):
    caplog.set_level(logging.INFO, logger="rossmann_forecast.hooks")

    source = ensure_raw_data(paths_in(raw_dir), n_stores=30, seed=7)

    assert source == "synthetic"
    assert fake_generator == [{"directory": raw_dir, "n_stores": 30, "seed": 7}]
    assert all((raw_dir / name).exists() for name in KAGGLE_FILES)
    marker = json.loads((raw_dir / MARKER_FILE).read_text())
    assert (marker["n_stores"], marker["seed"]) == (30, 7)
    assert marker["sha256"] == {n: sha256_file(raw_dir / n) for n in KAGGLE_FILES}
    lines = [r.getMessage() for r in caplog.records if r.name == "rossmann_forecast.hooks"]
    assert len(lines) == 1
    assert lines[0].startswith("No Kaggle files in ")
    assert lines[0].endswith("generated synthetic Rossmann data (30 stores, seed 7)")


def test_partial_set_stops_with_the_missing_file_names(raw_dir, fake_generator, raw_frames):
    raw_frames["store.csv"].to_csv(raw_dir / "store.csv", index=False)

    with pytest.raises(RawDataError) as caught:
        ensure_raw_data(paths_in(raw_dir), n_stores=30, seed=7)

    message = str(caught.value)
    assert "holds store.csv but not train.csv, test.csv" in message
    assert "never mixed" in message
    assert fake_generator == []  # nothing generated beside a real file
    assert not (raw_dir / "train.csv").exists()


def test_zero_byte_file_is_reported_empty(raw_dir, write_raw_csvs, raw_frames):
    write_raw_csvs(raw_dir, raw_frames)
    (raw_dir / "test.csv").write_bytes(b"")

    with pytest.raises(RawDataError, match=r"test\.csv is empty \(0 bytes\)"):
        ensure_raw_data(paths_in(raw_dir), n_stores=30, seed=7)


def test_existing_files_without_marker_are_real_and_untouched(
    raw_dir, write_raw_csvs, raw_frames, fake_generator, tmp_path
):
    paths = write_raw_csvs(raw_dir, raw_frames)
    before = {name: sha256_file(path) for name, path in paths.items()}

    source = ensure_raw_data(paths, n_stores=30, seed=7)
    fingerprint = fingerprint_raw_files(paths, tmp_path)

    assert source == "real"
    assert fake_generator == []
    assert fingerprint["source"] == "real"
    assert fingerprint["synthetic"] is None
    assert {n: f["sha256"] for n, f in fingerprint["files"].items()} == before
    assert fingerprint["files"]["train.csv"]["path"] == "data/01_raw/train.csv"


def test_synthetic_files_with_one_byte_changed_are_real(raw_dir, fake_generator, tmp_path):
    paths = paths_in(raw_dir)
    ensure_raw_data(paths, n_stores=30, seed=7)
    assert fingerprint_raw_files(paths, tmp_path)["source"] == "synthetic"

    content = bytearray(paths["train.csv"].read_bytes())
    content[-2] = ord("7") if content[-2] != ord("7") else ord("8")
    paths["train.csv"].write_bytes(bytes(content))

    fingerprint = fingerprint_raw_files(paths, tmp_path)
    assert fingerprint["source"] == "real"
    assert fingerprint["synthetic"] is None


def test_synthetic_files_are_reused_while_parameters_match(raw_dir, fake_generator, tmp_path):
    paths = paths_in(raw_dir)
    ensure_raw_data(paths, n_stores=30, seed=7)

    assert ensure_raw_data(paths, n_stores=30, seed=7) == "synthetic"

    assert len(fake_generator) == 1
    fingerprint = fingerprint_raw_files(paths, tmp_path)
    assert fingerprint["synthetic"] == {"seed": 7, "n_stores": 30}


def test_synthetic_files_from_other_parameters_are_regenerated(raw_dir, fake_generator, tmp_path):
    paths = paths_in(raw_dir)
    ensure_raw_data(paths, n_stores=30, seed=7)

    ensure_raw_data(paths, n_stores=30, seed=8)

    assert [call["seed"] for call in fake_generator] == [7, 8]
    assert fingerprint_raw_files(paths, tmp_path)["synthetic"] == {"seed": 8, "n_stores": 30}


def test_dvc_md5_is_read_from_the_dvc_file(raw_dir):
    data = raw_dir / "train.csv"
    data.write_text("x\n")
    (raw_dir / "train.csv.dvc").write_text(
        "outs:\n- md5: 0123456789abcdef0123456789abcdef\n  size: 2\n  path: train.csv\n"
    )

    assert dvc_md5(data) == "0123456789abcdef0123456789abcdef"
    assert dvc_md5(raw_dir / "store.csv") is None


def test_raw_paths_come_from_the_catalog(raw_dir):
    assert raw_file_paths(make_catalog(raw_dir)) == paths_in(raw_dir)


def test_hook_generates_and_exposes_fingerprint_for_a_pipeline_reading_raw_data(
    raw_dir, fake_generator, tmp_path
):
    catalog = make_catalog(raw_dir)
    pipeline = Pipeline([Node(identity, "sales_raw", "sales_copy", name="copy_sales")])

    RawDataHook().before_pipeline_run(
        run_params={"project_path": tmp_path.as_posix()}, pipeline=pipeline, catalog=catalog
    )

    assert fake_generator == [{"directory": raw_dir, "n_stores": 30, "seed": 7}]
    fingerprint = catalog.load(FINGERPRINT_DATASET)
    assert fingerprint["source"] == "synthetic"
    assert set(fingerprint["files"]) == set(KAGGLE_FILES)


def test_hook_leaves_pipelines_that_do_not_read_raw_data_alone(raw_dir, fake_generator, tmp_path):
    catalog = make_catalog(raw_dir)
    pipeline = Pipeline([Node(identity, "sales_validated", "x", name="other")])

    RawDataHook().before_pipeline_run(
        run_params={"project_path": tmp_path.as_posix()}, pipeline=pipeline, catalog=catalog
    )

    assert fake_generator == []
    assert not any(raw_dir.iterdir())
    assert FINGERPRINT_DATASET not in catalog
