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

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol

from mlrelease import plugins
from mlrelease.errors import SourceConfigError as SourceConfigError  # re-exported: the plugin protocol
from mlrelease.errors import SourceError as SourceError
from mlrelease.registry.fields import describe
from mlrelease.registry.loader import Registry
from mlrelease.registry.types import Environment, PluginConfig, Telemetry
from mlrelease.registry.yamlsafe import YList, YMap

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
    make = plugins.factory(GROUP, BUILTIN, plugin, what="telemetry source", error=SourceConfigError)
    return make(plugin.name, plugin.settings, context)  # type: ignore[no-any-return]


def source_for(environment: Environment, context: SourceContext) -> TelemetrySource:
    """The source configured for an environment; the repository's files when none is."""
    plugin = environment.telemetry or PluginConfig(name=f"{environment.name}.telemetry", type=DEFAULT_TYPE, settings={})
    return create(plugin, context)


class Settings:
    """Strict reading of one source's settings: wrong types and unknown keys are refused.

    Settings reach plugins as plain values from mlrelease.yaml; every source checks its
    own the same way, so a typo'd key is an error naming the source, never ignored.
    """

    def __init__(self, name: str, type_name: str, settings: Mapping[str, object]) -> None:
        self.label = f"mlrelease.yaml: telemetry source {name!r} ({type_name})"
        self.data = dict(settings)
        self.seen: set[str] = set()

    def fail(self, message: str) -> SourceConfigError:
        return SourceConfigError(f"{self.label}: {message}")

    def _get(self, key: str, required: bool) -> object:
        self.seen.add(key)
        value = self.data.get(key)
        if value is None and required:
            raise self.fail(f"missing required setting {key!r}")
        return value

    def str(self, key: str, *, default: str | None = None, required: bool = False) -> str | None:
        value = self._get(key, required)
        if value is None:
            return default
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{key!r} must be non-empty text, not {describe(value)}")
        return value

    def number(self, key: str, *, default: float, minimum: float, maximum: float) -> float:
        value = self._get(key, False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.fail(f"{key!r} must be a number, not {describe(value)}")
        if not minimum <= value <= maximum:
            raise self.fail(f"{key!r} must be between {minimum:g} and {maximum:g}, not {value:g}")
        return float(value)

    def mapping(self, key: str) -> dict[str, object]:
        value = self._get(key, False)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(f"{key!r} must be a mapping, not {describe(value)}")
        return {str(k): v for k, v in value.items()}

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            raise self.fail(f"unknown setting(s): {', '.join(unknown)}")


def yaml_tree(value: object, line: int = 1) -> object:
    """Plain JSON values as the registry's YAML tree, so one parser reads both formats."""
    if isinstance(value, dict):
        out = YMap(line)
        for k, v in value.items():
            out[str(k)] = yaml_tree(v, line)
            out.key_lines[str(k)] = line
        return out
    if isinstance(value, list):
        seq = YList(line)
        for item in value:
            seq.append(yaml_tree(item, line))
            seq.item_lines.append(line)
        return seq
    return value
