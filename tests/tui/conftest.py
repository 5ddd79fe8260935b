"""Fixtures for the TUI tests: an app on a small registry, a fixed clock, and waiting helpers."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input
from textual.worker import WorkerCancelled, WorkerFailed

from mlrelease.tui.app import MlreleaseApp
from mlrelease.tui.config import UserConfig
from mlrelease.tui.session import Session

FIXED = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)


def fixed_clock() -> datetime:
    return FIXED


@pytest.fixture(autouse=True)
def _no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blinking cursor would make screens differ from one frame to the next."""
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)


@pytest.fixture
def make_app() -> Callable[..., MlreleaseApp]:
    def make(root: Path, **kw: Any) -> MlreleaseApp:
        kw.setdefault("clock", fixed_clock)
        kw.setdefault("watch", False)
        kw.setdefault("user_config", UserConfig())
        return MlreleaseApp(Session(root, kw.pop("ref", None)), **kw)

    return make


async def settle(pilot: Pilot[Any], app: MlreleaseApp) -> None:
    """Wait until every worker is done and the screen has caught up (again while workers start workers).

    A worker cancelled while we wait is normal: an exclusive group's newer worker replaced it
    (the overview's status reading, when the registry is read again), so wait for that one too.
    """
    for n in range(10):
        with contextlib.suppress(WorkerFailed, WorkerCancelled):  # failures are the app's to show (error modal); tests look there
            await app.workers.wait_for_complete()
        await pilot.pause()
        if n >= 2 and not any(w.is_running for w in app.workers):
            break


async def press(pilot: Pilot[Any], app: MlreleaseApp, *keys: str) -> None:
    """Press ``keys``, then :func:`settle`: one step of a person at the keyboard."""
    await pilot.press(*keys)
    await settle(pilot, app)
