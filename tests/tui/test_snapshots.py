"""Snapshots of the main views at a fixed size, on a registry with fixed commit dates and a fixed clock.

Accept a deliberate change with ``pytest tests/tui/test_snapshots.py --snapshot-update``
after looking at the report; a stray difference is a regression.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from tests.builders import commit_all, make_registry
from tests.tui.conftest import settle
from tests.tui.test_actions import choose_environment, select_model

SIZE = (140, 34)
DATES = {"GIT_AUTHOR_DATE": "2026-03-05T10:00:00Z", "GIT_COMMITTER_DATE": "2026-03-05T10:00:00Z"}


@pytest.fixture
def snap_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr("mlrelease.release.service.new_id", lambda now: "01JTESTPROMOTION0000000000")
    root = make_registry(tmp_path / "registry", commit=False)
    commit_all(root, "Registry", env=DATES)
    return root


async def _settled(pilot: Pilot[Any]) -> None:
    await settle(pilot, pilot.app)  # type: ignore[arg-type]


def test_overview(snap_repo: Path, make_app, snap_compare) -> None:
    assert snap_compare(make_app(snap_repo), terminal_size=SIZE, run_before=_settled)


def test_model_versions(snap_repo: Path, make_app, snap_compare) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot, pilot.app)  # type: ignore[arg-type]
        pilot.app.open_model("fraud-card")  # type: ignore[attr-defined]
        await settle(pilot, pilot.app)  # type: ignore[arg-type]

    assert snap_compare(make_app(snap_repo), terminal_size=SIZE, run_before=run_before)


def test_compare(snap_repo: Path, make_app, snap_compare) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot, pilot.app)  # type: ignore[arg-type]
        pilot.app.open_compare("fraud-card", "1.0.0", "1.2.0")  # type: ignore[attr-defined]
        await settle(pilot, pilot.app)  # type: ignore[arg-type]

    assert snap_compare(make_app(snap_repo), terminal_size=SIZE, run_before=run_before)


def test_plan_modal(snap_repo: Path, make_app, snap_compare) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        await settle(pilot, app)  # type: ignore[arg-type]
        select_model(app, "fraud-card")  # type: ignore[arg-type]
        await pilot.press("p")
        await settle(pilot, app)  # type: ignore[arg-type]
        await choose_environment(pilot, app, "staging")  # type: ignore[arg-type]
        app.screen.query_one("#reason", Input).value = "two weeks clean in dev"
        await pilot.pause()

    assert snap_compare(make_app(snap_repo), terminal_size=(140, 44), run_before=run_before)
