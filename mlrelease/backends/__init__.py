"""Backends: discovered through the ``mlrelease.backends`` entry-point group, created by name.

Listing reads entry-point metadata only; a backend's module is imported when an instance
of its type is created, so a broken plugin cannot break commands that do not use it.
"""

from __future__ import annotations

import os
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from mlrelease.backends.base import Backend, BackendConfigError, BackendContext
from mlrelease.errors import MlreleaseError
from mlrelease.registry.types import Config, PluginConfig

GROUP = "mlrelease.backends"


def installed() -> dict[str, EntryPoint]:
    """Backend types by name, without importing them."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def create(plugin: PluginConfig, context: BackendContext) -> Backend:
    types = installed()
    ep = types.get(plugin.type)
    if ep is None:
        known = ", ".join(sorted(types)) or "none"
        raise BackendConfigError(
            f"mlrelease.yaml: backend {plugin.name!r} has type {plugin.type!r}, which is not installed (installed: {known})"
        )
    try:
        factory = ep.load()
    except Exception as exc:  # a broken plugin is the plugin's problem, reported in one line
        raise MlreleaseError(f"backend type {plugin.type!r} ({ep.value}) failed to load: {exc}") from None
    return factory(plugin.name, plugin.settings, context)


def backend_for(config: Config, name: str, registry_root: Path) -> Backend:
    """The configured backend instance called ``name``."""
    plugin = config.backends.get(name)
    if plugin is None:
        known = ", ".join(sorted(config.backends)) or "none"
        raise MlreleaseError(f"mlrelease.yaml: no backend named {name!r} (configured: {known})")
    return create(plugin, BackendContext(registry_root=registry_root, environ=dict(os.environ)))
