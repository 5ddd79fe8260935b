from __future__ import annotations

import os
from pathlib import Path

import pytest

import mlrelease.cli.output
from mlrelease import secrets
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
    # A secret stays a secret for the rest of a process (the TUI runs many actions in one), so
    # a value one test reads (e.g. SHORT=abc123) would be masked in the next test's output on
    # this worker: each test starts with none known.
    monkeypatch.setattr(secrets, "_FORMS", {})
    monkeypatch.setattr(secrets, "_PATTERN", None)


@pytest.fixture(autouse=True)
def _fresh_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets a console of its own, bound to its own captured stdout and environment.

    ``cli/output.console()`` makes one on first use and keeps it (its width, NO_COLOR).
    """
    monkeypatch.setattr(mlrelease.cli.output, "_console", None)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A small committed registry: see tests/builders.make_registry."""
    return make_registry(tmp_path / "registry")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep the tests that share an expensive fixture on one pytest-xdist worker.

    scripts/test runs the suite with ``-n 2 --dist loadgroup``: tests are spread one by
    one, except those in one group, which run on one worker. A test that uses a session-
    scoped fixture of ours (a real MLflow or Prometheus server, the wheel) joins that
    fixture's group, and one that uses a module-scoped fixture joins its module's, so each
    server or built object is made once, as in a run without xdist.
    """
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            continue
        shared: dict[str, str] = {}
        for name, defs in info.name2fixturedefs.items():
            fixturedef = defs[-1]
            if getattr(fixturedef.func, "__module__", "").startswith("tests") and fixturedef.scope in ("session", "module"):
                shared[name] = fixturedef.scope
        if not shared:
            continue
        session = sorted(name for name, scope in shared.items() if scope == "session")
        group = session[0] if session else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))
