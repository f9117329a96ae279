"""What the training node tests share: feature settings and small synthetic raw tables."""

import pandas as pd

from rossmann_forecast.raw.synthetic import generate

FEATURES = {
    "windows_days": [28, 91, 364],
    "block_days": 42,
    "block_offsets_days": [0, 14, 28],
    "min_history_days": 91,
    "easter_window_days": 70,
}


def synthetic_raw(n_stores: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """train.csv and store.csv of ``n_stores`` synthetic stores, typed as validation types them."""
    synthetic = generate(n_stores=n_stores, seed=seed)
    sales = synthetic.train.assign(
        Date=lambda f: pd.to_datetime(f["Date"]),
        StateHoliday=lambda f: f["StateHoliday"].astype(str),
    )
    return sales, synthetic.store
