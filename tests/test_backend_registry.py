"""Built-in plugin types are created from static tables and listed as entry points: the two must agree."""

from __future__ import annotations

import importlib

import pytest

from mlrelease import backends
from mlrelease.telemetry import base as telemetry


@pytest.mark.parametrize("kind", [backends, telemetry], ids=["backends", "telemetry"])
def test_every_builtin_is_an_installed_entry_point_with_the_same_factory(kind: object) -> None:
    eps = kind.installed()  # type: ignore[attr-defined]
    for name, module in kind.BUILTIN.items():  # type: ignore[attr-defined]
        assert name in eps, f"{name} is built in but not declared in pyproject's entry points"
        assert eps[name].load() is importlib.import_module(module).factory
