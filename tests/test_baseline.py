"""The median baseline the model's skill is measured against."""

import numpy as np
import pandas as pd

from rossmann_forecast.baseline import median_baseline


def test_the_baseline_is_the_median_by_store_weekday_and_promo_of_open_selling_days():
    history = pd.DataFrame({
        "Store": [1, 1, 1, 1, 1, 2],
        "DayOfWeek": [1, 1, 1, 1, 2, 1],
        "Promo": [0, 0, 0, 1, 0, 0],
        "Open": [1, 1, 0, 1, 1, 1],
        "Sales": [100.0, 300.0, 0.0, 900.0, 50.0, 70.0],
    })  # fmt: skip
    rows = pd.DataFrame({"Store": [1, 1, 1, 3], "DayOfWeek": [1, 1, 3, 1], "Promo": [0, 1, 0, 0]})

    forecast = median_baseline(history, rows)

    # (1, Mon, no promo): median of 100 and 300 (the closed day is left out); (1, Mon, promo):
    # 900; (1, Wed): no such day, the store's median (100, 300, 900, 50 -> 200); store 3: none.
    np.testing.assert_allclose(forecast[:3], [200.0, 900.0, 200.0])
    assert np.isnan(forecast[3])
