from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.builders import GIT_ENV, make_registry


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never read the developer's git or mlrelease config, and always have an identity."""
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    home = tmp_path / "_home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    (home / ".gitconfig").write_text("[user]\n\tname = Test Author\n\temail = author@example.com\n[init]\n\tdefaultBranch = main\n")
    os.environ.pop("MLRELEASE_CONFIG", None)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A small committed registry: see tests/builders.make_registry."""
    return make_registry(tmp_path / "registry")
