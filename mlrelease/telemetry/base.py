"""The telemetry source protocol, its errors, and discovery through entry points.

A source answers one question — the figures of one model in one environment — and
returns them as :class:`~mlrelease.registry.types.Telemetry`, the same typed snapshots
the ``file`` source reads from the repository. Everything downstream (drift, policy,
health, the CLI and the TUI) is therefore source-agnostic.

Sources are discovered through the ``mlrelease.telemetry`` entry-point group and
configured per environment in mlrelease.yaml (``environments[].telemetry: {type, ...}``);
an environment without one uses the ``file`` source. Listing reads entry-point metadata
only; a source's module is imported when an instance of its type is created.

Contract, which every source must keep:

* ``fetch`` raises :class:`SourceError` (one line, nothing secret) for any failure of
  the far side — refused, slow, malformed — and never hangs: every wait is bounded.
* ``fetch`` returns ``None`` when the source has no figures for that model.
* A source that reads the registry raises :class:`~mlrelease.errors.ManifestError` for a
  broken file: that is a registry problem, not an outage, and is reported as one.
* The factory raises :class:`SourceConfigError` for bad settings, naming the setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol

from mlrelease import plugins
from mlrelease.errors import Problem
from mlrelease.errors import SourceConfigError as SourceConfigError  # re-exported: the plugin protocol
from mlrelease.errors import SourceError as SourceError
from mlrelease.registry.loader import Registry
from mlrelease.registry.settings import PluginSettings
from mlrelease.registry.types import Config, Environment, PluginConfig, Telemetry

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

GROUP = "mlrelease.telemetry"
DEFAULT_TYPE = "file"
BUILTIN = {
    "file": "mlrelease.telemetry.file",
    "http-json": "mlrelease.telemetry.httpjson",
    "prometheus": "mlrelease.telemetry.prometheus",
}


@dataclass(frozen=True)
class SourceContext:
    """What a source may use: the registry being read (the ``file`` source reads through it)."""

    registry: Registry


class TelemetrySource(Protocol):
    type_name: ClassVar[str]
    # True when fetch waits on the network: such sources are fetched in worker threads,
    # the others in the caller's thread (the registry is not shared across threads).
    reaches_out: ClassVar[bool]
    name: str

    def fetch(self, model: str, environment: str, *, history: bool) -> Telemetry | None:
        """Figures of ``model`` in ``environment``: the newest snapshot, or the series when ``history``."""
        ...

    def describe(self) -> str:
        """Where figures come from, in a few words (for views and error messages)."""
        ...

    def close(self) -> None: ...


class SourceFactory(Protocol):
    def __call__(self, name: str, settings: Mapping[str, object], context: SourceContext) -> TelemetrySource: ...


def installed() -> dict[str, EntryPoint]:
    """Source types by name, without importing them."""
    return plugins.installed(GROUP)


def create(plugin: PluginConfig, context: SourceContext) -> TelemetrySource:
    make: SourceFactory = plugins.factory(GROUP, BUILTIN, plugin, what="telemetry source", error=SourceConfigError)
    return make(plugin.name, plugin.settings, context)


def source_for(environment: Environment, context: SourceContext) -> TelemetrySource:
    """The source configured for an environment; the repository's files when none is."""
    plugin = environment.telemetry or PluginConfig(name=f"{environment.name}.telemetry", type=DEFAULT_TYPE, settings={})
    return create(plugin, context)


def settings_problems(config: Config, context: SourceContext) -> list[Problem]:
    """Every configured telemetry source's type and settings checked, without the network (for lint)."""
    out: list[Problem] = []
    for env in config.environments:
        if env.telemetry is not None:
            out += plugins.check_settings(GROUP, BUILTIN, env.telemetry, context, what="telemetry source", error=SourceConfigError)
    return out


class Settings(PluginSettings):
    """Strict reading of one source's settings: wrong types and unknown keys are refused.

    Settings reach plugins as plain values from mlrelease.yaml; every source checks its
    own through the registry's one strict reader, so a typo'd key is a problem naming
    ``environments.ENV.telemetry.KEY`` and its line, never ignored, and all problems of a
    source are reported together (by ``mlrelease lint`` too, without the network).
    """

    def __init__(self, name: str, type_name: str, settings: Mapping[str, object]) -> None:
        super().__init__(settings, where=f"environments.{name}", kind=f"{type_name} telemetry source", error=SourceConfigError)
