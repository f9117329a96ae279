"""``ShadowModelDataset``: the Staging version, loaded only to forecast in Production's shadow."""

from __future__ import annotations

import logging
from typing import Any

from rossmann_forecast.io.models.registered_model import RegisteredModelDataset
from rossmann_forecast.registry.stages import PRODUCTION, STAGING_ALIAS, stage_for

logger = logging.getLogger(__name__)


class ShadowModelDataset(RegisteredModelDataset):
    """``models:/<name>@staging``, loaded when inference serves Production and shadowing is on.

    Loads as ``None`` (and costs nothing) when inference serves another stage or an explicit
    version, when shadowing is switched off (``--params inference.shadow=false``), or when no
    version is in Staging.

    Args:
        enabled: ``inference.shadow``.
        served_alias: The alias inference serves (``inference.stage``).
        served_version: The version inference serves if one was asked for (``inference.version``).
        **kwargs: ``RegisteredModelDataset``'s (``registry``, ``load_args``, ``metadata``).
    """

    def __init__(
        self,
        *,
        enabled: bool = True,
        served_alias: str | None = None,
        served_version: int | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(alias=STAGING_ALIAS, optional=True, **kwargs)
        self._enabled = bool(enabled)
        if served_version not in (None, ""):
            self._served = f"version {served_version}"
        else:
            self._served = stage_for(served_alias or "production")

    def load(self) -> dict[str, Any] | None:  # type: ignore[override]
        if not self._enabled:
            logger.info("Shadow scoring is off (inference.shadow=false)")
            return None
        if self._served != PRODUCTION:
            logger.info("No shadow: inference serves %s, not Production", self._served)
            return None
        return super().load()

    def _describe(self) -> dict[str, Any]:
        return {**super()._describe(), "enabled": self._enabled}
