"""Built-in backend types are created from a static table and listed as entry points: the two must agree."""

from __future__ import annotations

import importlib

from mlrelease.backends import BUILTIN, installed


def test_every_builtin_is_an_installed_entry_point_with_the_same_factory() -> None:
    eps = installed()
    for name, module in BUILTIN.items():
        assert name in eps, f"{name} is built in but not declared in pyproject's entry points"
        assert eps[name].load() is importlib.import_module(module).factory
