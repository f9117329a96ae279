"""Synthetic raw tables for unit tests, typed as the data_processing validation types them."""

import pandas as pd

from rossmann_forecast.raw.synthetic import generate


def typed_synthetic(n_stores: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """train.csv (``Date`` as datetime, ``StateHoliday`` as text) and store.csv of
    ``n_stores`` synthetic stores."""
    synthetic = generate(n_stores=n_stores, seed=seed)
    sales = synthetic.train.assign(
        Date=pd.to_datetime(synthetic.train["Date"]),
        StateHoliday=synthetic.train["StateHoliday"].astype(str),
    )
    return sales, synthetic.store
