"""Plugins by entry point: backends (``mlrelease.backends``) and telemetry sources (``mlrelease.telemetry``).

Listing reads entry-point metadata only; a plugin's module is imported when an instance
of its type is created, so a broken plugin cannot break commands that do not use it.
Built-in types are entry points too (so they are listed like any plugin) but are created
from a static table: that skips reading every installed package's metadata on each use
(~35 ms), and no third-party package can take over a built-in type's name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from mlrelease.errors import MlreleaseError
from mlrelease.registry.types import PluginConfig

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint


def installed(group: str) -> dict[str, EntryPoint]:
    """Plugin types of ``group`` by name, without importing them."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=group)}


def factory(
    group: str,
    builtin: Mapping[str, str],
    plugin: PluginConfig,
    *,
    what: str,
    error: type[MlreleaseError] = MlreleaseError,
) -> Callable[..., Any]:
    """The factory for ``plugin.type``; ``what`` names the kind in errors ("backend", "telemetry source")."""
    if plugin.type in builtin:
        return importlib.import_module(builtin[plugin.type]).factory  # type: ignore[no-any-return]
    types = installed(group)
    ep = types.get(plugin.type)
    if ep is None:
        where = f"mlrelease.yaml:{plugin.line}" if plugin.line else "mlrelease.yaml"
        known = ", ".join(sorted(types)) or "none"
        raise error(f"{where}: {what} {plugin.name!r} has type {plugin.type!r}, which is not installed (installed: {known})")
    try:
        return ep.load()  # type: ignore[no-any-return]
    except Exception as exc:  # a broken plugin is the plugin's problem, reported in one line
        raise error(f"{what} type {plugin.type!r} ({ep.value}) failed to load: {exc}") from None
