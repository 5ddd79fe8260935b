"""Snapshots of every view at 80×24, 120×40 and 200×60, and without colour (issue 15.9).

The registry has fixed commit dates and the app a fixed clock, so a snapshot changes only
when what is drawn does. Accept a deliberate change with
``pytest tests/tui/test_snapshots.py --snapshot-update`` after looking at the report; a
stray difference is a regression.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from tests.builders import commit_all, config, make_registry, release, version, write
from tests.tui.conftest import settle
from tests.tui.test_actions import choose_environment, select_model
from tests.tui.test_model import PROFILE, snapshot

SIZES = {"80x24": (80, 24), "120x40": (120, 40), "200x60": (200, 60)}
DATES = {"GIT_AUTHOR_DATE": "2026-03-05T10:00:00Z", "GIT_COMMITTER_DATE": "2026-03-05T10:00:00Z"}
TABS = ("versions", "trend", "lineage", "history", "telemetry", "drift")


@pytest.fixture
def snap_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test registry with telemetry in production and a long reason in the history."""
    monkeypatch.setattr("mlrelease.release.service.new_id", lambda now: "01JTESTPROMOTION0000000000")
    root = make_registry(tmp_path / "registry", commit=False)
    write(root, "models/fraud-card/versions/1.0.0.yaml", version("fraud-card", "1.0.0", f1=0.80, profile=PROFILE))
    snapshots = [snapshot(d, 1000 * d, 0.85 - d * 0.01, 0.4 + d * 0.08) for d in range(1, 5)]
    write(root, "telemetry/production/fraud-card.yaml", {"model": "fraud-card", "environment": "production", "snapshots": snapshots})
    commit_all(root, "Registry", env=DATES)
    state = release("fraud-card", "staging", "1.1.0")
    state["desired"]["reason"] = "two weeks clean in dev, " * 6 + "and the fraud team signed it off"
    write(root, "releases/staging/fraud-card.yaml", state)
    commit_all(root, "Edit the staging reason by hand (the history derives it from the diff)", env=DATES)
    return root


async def _settled(pilot: Pilot[Any]) -> None:
    await settle(pilot, pilot.app)  # type: ignore[arg-type]


def _open(tab: str) -> Any:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot, pilot.app)  # type: ignore[arg-type]
        pilot.app.open_model("fraud-card", tab=tab)  # type: ignore[attr-defined]
        await settle(pilot, pilot.app)  # type: ignore[arg-type]

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_overview(snap_repo: Path, make_app, snap_compare, size: str) -> None:
    assert snap_compare(make_app(snap_repo), terminal_size=SIZES[size], run_before=_settled)


@pytest.mark.parametrize("tab", TABS)
@pytest.mark.parametrize("size", SIZES)
def test_model(snap_repo: Path, make_app, snap_compare, size: str, tab: str) -> None:
    assert snap_compare(make_app(snap_repo), terminal_size=SIZES[size], run_before=_open(tab))


async def _plan(pilot: Pilot[Any], key: str, env: str) -> None:
    """The plan dialog of ``key`` (p, a…) for fraud-card in ``env``, from the overview."""
    app = pilot.app
    await settle(pilot, app)  # type: ignore[arg-type]
    select_model(app, "fraud-card")  # type: ignore[arg-type]
    await pilot.press(key)
    await settle(pilot, app)  # type: ignore[arg-type]
    await choose_environment(pilot, app, env)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", SIZES)
def test_plan_modal(snap_repo: Path, make_app, snap_compare, size: str) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _plan(pilot, "p", "production")
        await pilot.press(*"two weeks clean in dev")
        await pilot.pause()

    assert snap_compare(make_app(snap_repo), terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_history_detail(snap_repo: Path, make_app, snap_compare, size: str) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _open("history")(pilot)
        await pilot.press("enter")
        await settle(pilot, pilot.app)  # type: ignore[arg-type]

    assert snap_compare(make_app(snap_repo), terminal_size=SIZES[size], run_before=run_before)


def test_compare(snap_repo: Path, make_app, snap_compare) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot, pilot.app)  # type: ignore[arg-type]
        pilot.app.open_compare("fraud-card", "1.0.0", "1.2.0")  # type: ignore[attr-defined]
        await settle(pilot, pilot.app)  # type: ignore[arg-type]

    assert snap_compare(make_app(snap_repo), terminal_size=(120, 40), run_before=run_before)


@pytest.mark.parametrize("view", ["overview", "plan"])
def test_no_color(snap_repo: Path, make_app, snap_compare, monkeypatch: pytest.MonkeyPatch, view: str) -> None:
    """NO_COLOR: the terminal's colours, nothing faint; the cursor row and focus reversed."""
    monkeypatch.setenv("NO_COLOR", "1")

    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        await settle(pilot, app)  # type: ignore[arg-type]
        if view == "plan":
            await _plan(pilot, "p", "staging")
            app.screen.query_one("#reason", Input).value = "two weeks clean in dev"
            await pilot.pause()

    assert snap_compare(make_app(snap_repo), terminal_size=(120, 40), run_before=run_before)


def test_break_glass_plan(snap_repo: Path, make_app, snap_compare) -> None:
    """The approve dialog at 80×24 with Break-glass ticked: the box, what it unlocks, a reason and the name now asked for."""
    cfg = config()
    cfg["environments"][2]["gates"] = {"approvals": 2}
    write(snap_repo, "mlrelease.yaml", cfg)
    commit_all(snap_repo, "Two approvals in production", env=DATES)

    async def run_before(pilot: Pilot[Any]) -> None:
        await _plan(pilot, "a", "production")
        await pilot.press("tab", "space")
        await settle(pilot, pilot.app)  # type: ignore[arg-type]

    assert snap_compare(make_app(snap_repo), terminal_size=SIZES["80x24"], run_before=run_before)
