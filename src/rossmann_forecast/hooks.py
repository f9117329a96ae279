"""Project hooks (placeholder until the raw-data hook lands)."""


class RawDataHook:
    """Makes sure data/01_raw holds the three Kaggle files before a run."""
