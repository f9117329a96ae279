"""Raw Kaggle files -> validated, typed tables (and, later, model features)."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
