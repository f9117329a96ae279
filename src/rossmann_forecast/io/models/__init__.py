"""The ensemble in MLflow: logged and registered by training, read back as registered versions."""

from rossmann_forecast.io.models.logged_ensemble import LoggedEnsembleDataset
from rossmann_forecast.io.models.registered_ensemble import RegisteredEnsembleDataset
from rossmann_forecast.io.models.registered_model import RegisteredModelDataset
from rossmann_forecast.io.models.registered_version import RegisteredVersionDataset
from rossmann_forecast.io.models.shadow_model import ShadowModelDataset

__all__ = [
    "LoggedEnsembleDataset",
    "RegisteredEnsembleDataset",
    "RegisteredModelDataset",
    "RegisteredVersionDataset",
    "ShadowModelDataset",
]
