"""MLflow "models from code" entry point of the registered ensemble.

MLflow runs this file when it loads the model and calls ``load_context`` with the model's
artifacts (see ``ensemble.RossmannEnsemble.save_artifacts``). Logging the model this way
stores no pickled object.
"""

import mlflow

from rossmann_forecast.model.ensemble import RossmannEnsemble

mlflow.models.set_model(RossmannEnsemble())
