"""What the gate and monitoring decide, saved into the model registry."""

from rossmann_forecast.io.registry.drift_tags import DriftTagsDataset
from rossmann_forecast.io.registry.gate_verdict import GateVerdictDataset
from rossmann_forecast.io.registry.live_metrics_tags import LiveMetricsTagsDataset
from rossmann_forecast.io.registry.shadow_tags import ShadowTagsDataset

__all__ = [
    "DriftTagsDataset",
    "GateVerdictDataset",
    "LiveMetricsTagsDataset",
    "ShadowTagsDataset",
]
