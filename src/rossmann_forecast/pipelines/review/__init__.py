"""Review pipeline: the Staging version against Production, as a report with plots."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
