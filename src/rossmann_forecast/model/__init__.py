"""The registered model: what it needs at load time, and nothing else.

This subpackage is the only code logged with the model (MLflow ``code_paths``, see
``io.models.packaging``): ``entrypoint.py`` (the "models from code" entry point),
``ensemble.py`` (the pyfunc) and ``features.py`` (the feature logic it shares with training). A
registered version loads from these files alone, without the rest of the project installed.

So its modules must import nothing else of the project: only each other, the standard library,
numpy, pandas (with pyarrow for Parquet), mlflow, lightgbm, xgboost and catboost: the
model's pip requirements.
"""
