"""Monitoring pipeline: live RMSPE of the versions that made predictions, and drift."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
