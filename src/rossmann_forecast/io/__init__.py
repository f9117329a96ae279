"""The project's Kedro datasets: every MLflow and registry read or write of a run, one class a file.

* ``models``: the ensemble as training logs and registers it; registered versions as the gate,
  the review and inference read them (kedro-mlflow's registry dataset, resolved to one version);
* ``registry``: what the gate and monitoring decide, handed to the registry facade;
* ``tracking``: the run's records, reports, tuning trials and input tables on MLflow;
* ``raw``: the identity of the raw Kaggle files.

Datasets do I/O only: what to read or write follows from ``rossmann_forecast.registry``'s rules,
and every registry a dataset opens is built by ``ModelRegistry.from_params`` from the catalog's
``registry:`` block (``model_name`` and the lock settings, as ``params:registry`` has them).
"""
