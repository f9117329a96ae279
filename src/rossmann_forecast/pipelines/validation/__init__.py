"""Validation pipeline: the holdout RMSPE gate between a new version and Staging."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
