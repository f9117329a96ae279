"""The raw Kaggle files as a dataset: their fingerprint."""

from rossmann_forecast.io.raw.raw_files_fingerprint import RawFilesFingerprintDataset

__all__ = ["RawFilesFingerprintDataset"]
