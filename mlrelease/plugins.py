"""Plugins by entry point: backends (``mlrelease.backends``) and telemetry sources (``mlrelease.telemetry``).

Listing reads entry-point metadata only; a plugin's module is imported when an instance
of its type is created, so a broken plugin cannot break commands that do not use it.
Built-in types are entry points too (so they are listed like any plugin) but are created
from a static table: that skips reading every installed package's metadata on each use
(~35 ms), and no third-party package can take over a built-in type's name.

``mlrelease lint`` checks every configured plugin's settings through :func:`check_settings`,
with neither secrets nor the network: a plugin module may define
``check_settings(name, settings, context) -> list[Problem]``; without one, its factory is
called in check mode, where the settings reader stops the constructor at ``done()`` —
after every setting is read, before any secret or connection (see
:class:`~mlrelease.registry.settings.check_mode`).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlrelease.errors import MlreleaseError, Problem, SettingsError
from mlrelease.registry.layout import CONFIG
from mlrelease.registry.settings import SettingsChecked, check_mode
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
) -> Any:
    """The factory for ``plugin.type``; ``what`` names the kind in errors ("backend", "telemetry source").

    Its type is the group's factory protocol (``BackendFactory``, ``SourceFactory``), which
    the caller declares: an entry point's object is only known at run time.
    """
    if plugin.type in builtin:
        return importlib.import_module(builtin[plugin.type]).factory
    types = installed(group)
    ep = types.get(plugin.type)
    if ep is None:
        known = ", ".join(sorted(types)) or "none"
        raise _error(error, plugin, f"{what} {plugin.name!r} has type {plugin.type!r}, which is not installed (installed: {known})")
    try:
        return ep.load()
    except Exception as exc:  # a broken plugin is the plugin's problem, reported in one line
        raise _error(error, plugin, f"{what} type {plugin.type!r} ({ep.value}) failed to load: {exc}") from None


def _error(error: type[MlreleaseError], plugin: PluginConfig, message: str) -> MlreleaseError:
    problem = Problem(CONFIG, plugin.line, message)
    return error(str(problem), [problem]) if issubclass(error, SettingsError) else error(str(problem))


def check_settings(
    group: str, builtin: Mapping[str, str], plugin: PluginConfig, context: object, *, what: str, error: type[SettingsError]
) -> list[Problem]:
    """Every problem of ``plugin``'s type and settings, found without secrets or the network.

    ``context`` is what the factory takes (a backend's or a telemetry source's); give it
    no secrets. A plugin that fails in any other way is reported, never raised: lint
    goes on with the rest.
    """
    try:
        make = factory(group, builtin, plugin, what=what, error=error)
    except SettingsError as exc:
        return _problems(exc, plugin)
    hook = getattr(inspect.getmodule(make), "check_settings", None)
    try:
        with check_mode():
            if callable(hook):
                return list(hook(plugin.name, plugin.settings, context))
            make(plugin.name, plugin.settings, context)
    except SettingsChecked as checked:
        return checked.problems
    except MlreleaseError as exc:
        return _problems(exc, plugin)
    except Exception as exc:  # a plugin's bug is its problem, named in one line
        return [
            Problem(
                CONFIG, plugin.line, f"{what} {plugin.name!r} ({plugin.type}) failed to check its settings: {type(exc).__name__}: {exc}"
            )
        ]
    return []


def _problems(exc: MlreleaseError, plugin: PluginConfig) -> list[Problem]:
    if isinstance(exc, SettingsError) and exc.problems:
        return exc.problems
    return [Problem(CONFIG, plugin.line, str(exc).removeprefix(f"{CONFIG}: "))]
