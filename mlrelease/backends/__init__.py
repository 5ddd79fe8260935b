"""Backends: the ``mlrelease.backends`` entry-point group, created by name (see mlrelease.plugins)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from mlrelease import plugins
from mlrelease.backends.base import Backend, BackendContext, BackendFactory
from mlrelease.errors import BackendConfigError, MlreleaseError, Problem
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
    return plugins.installed(GROUP)


def create(plugin: PluginConfig, context: BackendContext) -> Backend:
    make: BackendFactory = plugins.factory(GROUP, BUILTIN, plugin, what="backend", error=BackendConfigError)
    return make(plugin.name, plugin.settings, context)


def settings_problems(config: Config, registry_root: Path) -> list[Problem]:
    """Every configured backend's type and settings checked, without secrets or the network (for lint)."""
    context = BackendContext(registry_root=registry_root, environ={})
    out: list[Problem] = []
    for plugin in config.backends.values():
        out += plugins.check_settings(GROUP, BUILTIN, plugin, context, what="backend", error=BackendConfigError)
    return out


def backend_for(config: Config, name: str, registry_root: Path) -> Backend:
    """The configured backend instance called ``name``."""
    plugin = config.backends.get(name)
    if plugin is None:
        known = ", ".join(sorted(config.backends)) or "none"
        raise MlreleaseError(f"mlrelease.yaml: no backend named {name!r} (configured: {known})")
    return create(plugin, BackendContext(registry_root=registry_root, environ=dict(os.environ)))
