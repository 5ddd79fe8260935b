"""Backends: discovered through the ``mlrelease.backends`` entry-point group, created by name.

Listing reads entry-point metadata only; a backend's module is imported when an instance
of its type is created, so a broken plugin cannot break commands that do not use it.
The built-in types are also entry points (so they are listed like any plugin), but they
are created from :data:`BUILTIN` directly: that skips reading every installed package's
metadata on each action (~35 ms), and no third-party package can take over a built-in
type's name.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from mlrelease.backends.base import Backend, BackendConfigError, BackendContext
from mlrelease.errors import MlreleaseError
from mlrelease.registry.types import Config, PluginConfig

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

GROUP = "mlrelease.backends"
BUILTIN = {
    "record": "mlrelease.backends.record",
    "command": "mlrelease.backends.command",
    "webhook": "mlrelease.backends.webhook",
    "gitops-file": "mlrelease.backends.gitops_file",
    "mlflow": "mlrelease.backends.mlflow",
}


def installed() -> dict[str, EntryPoint]:
    """Backend types by name, without importing them."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=GROUP)}


def create(plugin: PluginConfig, context: BackendContext) -> Backend:
    if plugin.type in BUILTIN:
        factory = importlib.import_module(BUILTIN[plugin.type]).factory
        return factory(plugin.name, plugin.settings, context)  # type: ignore[no-any-return]
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
