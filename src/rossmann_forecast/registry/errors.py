"""The registry's errors: one base type, the message says why and what to do."""

from __future__ import annotations

# MLflow's error codes the registry acts on (``MlflowException.error_code``).
ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"


class RegistryError(Exception):
    """A registry operation could not be done; the message says why and what to do."""


class PromotionRefused(RegistryError):
    """The requested promotion breaks a lifecycle rule (not validated, rejected, no reason...)."""


class NothingInStage(RegistryError):
    """No version holds the requested stage."""


class VersionNotFound(RegistryError):
    """The model has no such version."""


class LockTimeout(RegistryError):
    """Another process held the registry lock for longer than we were willing to wait."""


class PermissionDenied(RegistryError):
    """The tracking server does not let this user make this change (MLflow's auth app)."""
