"""The raw Kaggle files as datasets: their fingerprint, and a file that may be missing."""

from rossmann_forecast.io.raw.optional_csv import OptionalCsvDataset
from rossmann_forecast.io.raw.raw_files_fingerprint import RawFilesFingerprintDataset

__all__ = ["OptionalCsvDataset", "RawFilesFingerprintDataset"]
