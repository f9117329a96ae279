"""Holdout RMSPE of the newest registered version, its boosters and the median baseline.

Run by benchmark.py inside the benchmark's project copy; prints one JSON line.
"""

import json

import mlflow
import numpy as np
import pandas as pd

from rossmann_forecast.ensemble import predict_member, to_model_input
from rossmann_forecast.features import features_for_request
from rossmann_forecast.metrics import rmspe

MODEL = "rossmann-ensemble"

client = mlflow.MlflowClient()
version = max(int(v.version) for v in client.search_model_versions(f"name='{MODEL}'"))
pyfunc = mlflow.pyfunc.load_model(f"models:/{MODEL}/{version}")
model = pyfunc.unwrap_python_model()
holdout = pd.read_parquet("data/05_model_input/holdout_table.parquet")
window = pd.read_parquet("data/03_primary/sales_train_window.parquet")

scored = holdout.loc[(holdout["Open"] == 1) & (holdout["Sales"] > 0)]
actual = scored["Sales"].to_numpy()
inputs = to_model_input(scored.drop(columns=["Sales", "Customers"]))
scores = {f"ensemble (version {version})": rmspe(actual, pyfunc.predict(inputs)["Sales"])}

features = features_for_request(model.prepare_input(inputs), model.state)
matrix = features[model.feature_names].to_numpy(dtype="float32")
for name, (library, booster) in model.members.items():
    scores[f"{name} alone"] = rmspe(actual, np.expm1(predict_member(library, booster, matrix)))

history = window.loc[(window["Open"] == 1) & (window["Sales"] > 0)]
keys = ["Store", "DayOfWeek", "Promo"]
median = history.groupby(keys)["Sales"].median().rename("baseline")
baseline = scored.join(median, on=keys)["baseline"]
baseline = baseline.fillna(scored["Store"].map(history.groupby("Store")["Sales"].median()))
scores["median baseline (Store, DayOfWeek, Promo)"] = rmspe(actual, baseline.to_numpy())
print(json.dumps(scores))
