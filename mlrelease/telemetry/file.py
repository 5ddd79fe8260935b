"""``file``: snapshots in the registry itself, ``telemetry/<env>/<model>.yaml``.

A monitoring job appends snapshots and commits them; mlrelease reads them through the
registry like any manifest (at the work tree or any ``--ref``, cached by blob id), so
this source needs no network and works offline. It takes no settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from mlrelease.registry.types import Telemetry
from mlrelease.telemetry.base import Settings, SourceContext


class FileSource:
    type_name: ClassVar[str] = "file"
    reaches_out: ClassVar[bool] = False

    def __init__(self, name: str, settings: Mapping[str, object], context: SourceContext) -> None:
        Settings(name, self.type_name, settings).done()
        self.name = name
        self.registry = context.registry

    def fetch(self, model: str, environment: str, *, history: bool) -> Telemetry | None:
        # A broken file raises ManifestError: a registry problem, reported as such; so does one whose
        # model or environment is not its path's (the registry checks that on every read).
        telemetry = self.registry.telemetry(environment, model)
        if telemetry is None:
            return None
        ordered = tuple(sorted(telemetry.snapshots, key=lambda s: s.at))
        return Telemetry(model, environment, ordered if history else ordered[-1:], telemetry.lines)

    def describe(self) -> str:
        return "telemetry files in the registry"

    def close(self) -> None:
        """Nothing to release: the registry belongs to the caller."""


def factory(name: str, settings: Mapping[str, object], context: SourceContext) -> FileSource:
    return FileSource(name, settings, context)
