"""Inference pipeline: batch predictions with the version in a stage (or a given version)."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
