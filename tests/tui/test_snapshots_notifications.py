"""Snapshots of the notifications' delivery log (N) at 80×24, 120×40 and 200×60, without colour,
and of the overview's top bar counting the failures since the last look.

The journal is written with fixed times through the core (:func:`mlrelease.notify.journal.append`),
so a snapshot changes only when what is drawn does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from mlrelease.notify import journal
from mlrelease.notify.journal import Delivery
from tests.tui.conftest import press, settle
from tests.tui.test_snapshots import SIZES, snap_repo  # noqa: F401 (a fixture)

REFUSED = "json://hooks.example.com: Failed to send JSON POST notification: Servers are overloaded., error=503."


@pytest.fixture
def logged(snap_repo: Path) -> Path:  # noqa: F811
    def at(day: int, hour: int) -> datetime:
        return datetime(2026, 3, day, hour, 15, tzinfo=UTC)

    journal.append(
        snap_repo,
        (
            Delivery("test", "ops-slack", True, "sent to slack://hooks.slack.com", at(2, 9)),
            Delivery("promoted", "ops-slack", True, "sent to slack://hooks.slack.com", at(4, 10), "fraud-card", "staging", "01J1"),
            Delivery("promoted", "pager", False, REFUSED, at(4, 10), "fraud-card", "staging", "01J1"),
            Delivery("waiting_for_approval", "risk-mail", False, "environment variable RISK_MAIL_URL is not set", at(5, 8), "fraud-card"),
            Delivery("rolled_back", "ops-slack", True, "sent to slack://hooks.slack.com", at(6, 17), "churn", "production", "01J2"),
        ),
    )
    return snap_repo


async def _notifications(pilot: Pilot[Any]) -> None:
    await settle(pilot, pilot.app)  # type: ignore[arg-type]
    await press(pilot, pilot.app, "N")  # type: ignore[arg-type]
    await press(pilot, pilot.app, "down", "down")  # type: ignore[arg-type] # the refused promotion: its detail whole


@pytest.mark.parametrize("size", SIZES)
def test_notifications(logged: Path, make_app, snap_compare, size: str) -> None:
    assert snap_compare(make_app(logged), terminal_size=SIZES[size], run_before=_notifications)


def test_notifications_no_color(logged: Path, make_app, snap_compare, monkeypatch: pytest.MonkeyPatch) -> None:
    """NO_COLOR: ✗ FAILED in bold words, the cursor row reversed, nothing faint."""
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(make_app(logged), terminal_size=SIZES["80x24"], run_before=_notifications)


def test_overview_counts_failed_notifications(logged: Path, make_app, snap_compare) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot, pilot.app)  # type: ignore[arg-type]

    assert snap_compare(make_app(logged), terminal_size=SIZES["80x24"], run_before=run_before)
