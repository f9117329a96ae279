"""The raw folder: synthetic files on request (never over real ones), checks and fingerprints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rossmann_forecast.raw.files import (
    KAGGLE_FILES,
    MARKER_FILE,
    check_raw_files,
    dvc_md5,
    fingerprint_raw_files,
    sha256_file,
    synthesize_raw_data,
)
from rossmann_forecast.raw.schemas import RawDataError

N_STORES = 4  # the real generator, as small as it goes quickly


@pytest.fixture
def raw_dir(tmp_path) -> Path:
    directory = tmp_path / "data" / "01_raw"
    directory.mkdir(parents=True)
    return directory


def hashes(directory: Path) -> dict[str, str]:
    return {name: sha256_file(directory / name) for name in KAGGLE_FILES}


def test_synthesize_writes_the_three_files_and_a_marker_that_matches_them(raw_dir, tmp_path):
    result = synthesize_raw_data(raw_dir, n_stores=N_STORES, seed=7)

    assert result.action == "written"
    marker = json.loads((raw_dir / MARKER_FILE).read_text())
    assert (marker["n_stores"], marker["seed"]) == (N_STORES, 7)
    assert marker["sha256"] == hashes(raw_dir)
    fingerprint = fingerprint_raw_files(raw_dir, tmp_path)
    assert fingerprint["source"] == "synthetic"
    assert fingerprint["synthetic"] == {"seed": 7, "n_stores": N_STORES}
    assert fingerprint["files"]["train.csv"]["path"] == "data/01_raw/train.csv"


def test_synthesize_again_with_the_same_parameters_changes_nothing(raw_dir):
    synthesize_raw_data(raw_dir, n_stores=N_STORES, seed=7)
    before = {name: (raw_dir / name).stat().st_mtime_ns for name in KAGGLE_FILES}

    result = synthesize_raw_data(raw_dir, n_stores=N_STORES, seed=7)

    assert result.action == "unchanged"
    assert {name: (raw_dir / name).stat().st_mtime_ns for name in KAGGLE_FILES} == before


def test_synthetic_files_from_other_parameters_are_replaced(raw_dir, tmp_path):
    synthesize_raw_data(raw_dir, n_stores=N_STORES, seed=7)
    first = hashes(raw_dir)

    result = synthesize_raw_data(raw_dir, n_stores=N_STORES, seed=8)

    assert result.action == "replaced"
    assert result.previous["seed"] == 7
    assert hashes(raw_dir) != first
    assert fingerprint_raw_files(raw_dir, tmp_path)["synthetic"] == {"seed": 8, "n_stores": 4}


def test_real_files_are_never_overwritten(raw_dir, write_raw_csvs, raw_frames):
    write_raw_csvs(raw_dir, raw_frames)
    before = hashes(raw_dir)

    with pytest.raises(RawDataError, match="real files are never overwritten"):
        synthesize_raw_data(raw_dir, n_stores=N_STORES, seed=7)

    assert hashes(raw_dir) == before
    assert not (raw_dir / MARKER_FILE).exists()


def test_synthetic_files_a_user_changed_count_as_real_and_are_kept(raw_dir, tmp_path):
    synthesize_raw_data(raw_dir, n_stores=N_STORES, seed=7)
    content = bytearray((raw_dir / "train.csv").read_bytes())
    content[-2] = ord("7") if content[-2] != ord("7") else ord("8")
    (raw_dir / "train.csv").write_bytes(bytes(content))
    changed = hashes(raw_dir)

    fingerprint = fingerprint_raw_files(raw_dir, tmp_path)
    with pytest.raises(RawDataError, match="not this project's synthetic data"):
        synthesize_raw_data(raw_dir, n_stores=N_STORES, seed=8)

    assert fingerprint["source"] == "real"
    assert fingerprint["synthetic"] is None
    assert hashes(raw_dir) == changed


def test_a_partial_set_is_refused_with_the_missing_file_names(raw_dir, raw_frames):
    raw_frames["store.csv"].to_csv(raw_dir / "store.csv", index=False)

    with pytest.raises(RawDataError) as by_synthesize:
        synthesize_raw_data(raw_dir, n_stores=N_STORES, seed=7)
    with pytest.raises(RawDataError) as by_check:
        check_raw_files(raw_dir)

    for caught in (by_synthesize, by_check):
        assert "holds store.csv but not train.csv, test.csv" in str(caught.value)
        assert "never mixed" in str(caught.value)
    assert not (raw_dir / "train.csv").exists()


def test_an_empty_folder_says_how_to_get_data(raw_dir, monkeypatch):
    monkeypatch.chdir(raw_dir.parents[1])

    with pytest.raises(RawDataError) as caught:
        check_raw_files(raw_dir)

    assert str(caught.value) == (
        "data/01_raw/train.csv is missing: drop the Kaggle files there or run "
        "`kedro data synthesize`"
    )


def test_a_zero_byte_file_is_reported_empty(raw_dir, write_raw_csvs, raw_frames):
    write_raw_csvs(raw_dir, raw_frames)
    (raw_dir / "test.csv").write_bytes(b"")

    with pytest.raises(RawDataError, match=r"test\.csv is empty \(0 bytes\)"):
        check_raw_files(raw_dir)


def test_real_files_are_fingerprinted_as_they_are(raw_dir, write_raw_csvs, raw_frames, tmp_path):
    write_raw_csvs(raw_dir, raw_frames)
    before = hashes(raw_dir)

    fingerprint = fingerprint_raw_files(raw_dir, tmp_path)

    assert fingerprint["source"] == "real"
    assert fingerprint["synthetic"] is None
    assert {n: f["sha256"] for n, f in fingerprint["files"].items()} == before
    assert hashes(raw_dir) == before


def test_dvc_md5_is_read_from_the_dvc_file(raw_dir):
    data = raw_dir / "train.csv"
    data.write_text("x\n")
    (raw_dir / "train.csv.dvc").write_text(
        "outs:\n- md5: 0123456789abcdef0123456789abcdef\n  size: 2\n  path: train.csv\n"
    )

    assert dvc_md5(data) == "0123456789abcdef0123456789abcdef"
    assert dvc_md5(raw_dir / "store.csv") is None
