"""``RawFilesFingerprintDataset``: the identity of the raw Kaggle files, read-only."""

from __future__ import annotations

import pytest
from kedro.io import DatasetError

from rossmann_forecast.io.raw import RawFilesFingerprintDataset
from rossmann_forecast.raw.files import synthesize_raw_data
from rossmann_forecast.raw.schemas import RawDataError


def test_loading_fingerprints_the_three_files(tmp_path):
    synthesize_raw_data(tmp_path, n_stores=3, seed=7)
    dataset = RawFilesFingerprintDataset(path=tmp_path.as_posix())

    found = dataset.load()

    assert dataset.exists()
    assert found["source"] == "synthetic"
    assert found["synthetic"]["seed"] == 7
    assert set(found["files"]) == {"train.csv", "store.csv", "test.csv"}
    assert all(len(info["sha256"]) == 64 for info in found["files"].values())


def test_a_folder_without_the_files_does_not_exist_and_the_check_names_the_file(tmp_path):
    dataset = RawFilesFingerprintDataset(path=(tmp_path / "01_raw").as_posix())

    assert not dataset.exists()
    with pytest.raises(RawDataError, match="train.csv is missing"):
        dataset.check()


def test_the_fingerprint_dataset_is_read_only(tmp_path):
    with pytest.raises(DatasetError, match="read-only"):
        RawFilesFingerprintDataset(path=tmp_path.as_posix()).save({})
