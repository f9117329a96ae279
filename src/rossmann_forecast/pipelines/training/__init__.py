"""Training pipeline: cross-validated boosters blended into one registered model."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
