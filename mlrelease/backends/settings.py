"""Strict reading of one backend instance's settings from mlrelease.yaml.

The registry parser hands each backend its settings unchecked (only the plugin knows
them), so every backend reads them through :class:`Settings`, the registry's one strict
reader (:class:`~mlrelease.registry.fields.PluginSettings`) in a backend's words: a
misspelt key or a wrong type is refused when the backend is created, before any commit
or call is made, with one message that names the key as
``mlrelease.yaml:LINE: backends.NAME.KEY: problem``. All problems of an instance are
collected and reported together, and ``mlrelease lint`` reports them too (each backend
type checks its settings there, with neither secrets nor the network).
"""

from __future__ import annotations

from collections.abc import Mapping

from mlrelease.errors import BackendConfigError
from mlrelease.registry.settings import ENV_NAME as ENV_NAME  # re-exported for backends
from mlrelease.registry.settings import PluginSettings


class Settings(PluginSettings):
    """Typed access to one backend instance's settings; :meth:`done` refuses unknown keys."""

    def __init__(self, name: str, kind: str, settings: Mapping[str, object]) -> None:
        super().__init__(settings, where=f"backends.{name}", kind=f"{kind} backend", error=BackendConfigError)
