"""Hyperparameter tuning of each booster on the training pipeline's CV folds."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
