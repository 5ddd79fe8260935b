"""The A/B tab (7) and the overview's rollout progress, through Pilot on a registry with a canary.

The canary of fraud-card 1.1.0 started at 10% on 9 March 10:00; per-version snapshots
follow; the app's clock is fixed at 10 March 12:00 (tests/tui/conftest.FIXED), so the
step's hold is over and every figure is the same on every run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from mlrelease.gitstore import objects
from mlrelease.release.plan import Request
from mlrelease.release.service import ReleaseService
from mlrelease.tui.app import MlreleaseApp
from mlrelease.tui.panes.ab import ABPane
from mlrelease.tui.screens.plan import PlanModal
from mlrelease.tui.widgets.pairchart import PairChart
from mlrelease.tui.widgets.table import RegistryTable
from tests.builders import commit_all, config, make_registry, write
from tests.rollout_helpers import STRATEGY, snapshot
from tests.tui.conftest import settle
from tests.tui.test_actions import select_model
from tests.tui.test_model import open_model

STARTED = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)


@pytest.fixture
def canary_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr("mlrelease.release.service.new_id", lambda now: "01JTESTCANARY0000000000000")
    # Fixed commit dates, so commit ids (the top bar's @…) are the same every run: the builders'
    # commits read them from the environment, the service's (written in process) from objects.ident.
    for var in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):
        monkeypatch.setenv(var, STARTED.isoformat())
    ident = objects.ident
    monkeypatch.setattr(objects, "ident", lambda name, email, when: ident(name, email, when or STARTED))
    root = make_registry(tmp_path / "registry")
    cfg = config()
    cfg["environments"][2] = {"name": "production", "requires": ["staging"], "backend": "record", "rollout": STRATEGY}
    write(root, "mlrelease.yaml", cfg)
    commit_all(root, "Rollout strategy")
    service = ReleaseService(root, clock=lambda: STARTED)
    service.execute(service.prepare(Request("promote", "fraud-card", "1.1.0", "production", "canary", 10.0)))
    snaps = []
    for at in (datetime(2026, 3, 9, 18, 0, tzinfo=UTC), datetime(2026, 3, 10, 6, 0, tzinfo=UTC)):
        snaps += [
            snapshot(at, "1.0.0", calls=45_000, errors=45, caught=(900, 1000)) | {"latency_ms": {"p95": 14.0}},
            snapshot(at, "1.1.0", calls=5_000, errors=5, caught=(905, 1000)) | {"latency_ms": {"p95": 14.5}},
        ]
    write(root, "telemetry/production/fraud-card.yaml", {"model": "fraud-card", "environment": "production", "snapshots": snaps})
    commit_all(root, "Telemetry")
    return root


async def open_ab(app: MlreleaseApp, pilot: Any) -> ABPane:
    screen = await open_model(app, pilot, tab="ab")
    await settle(pilot, app)
    pane = screen.pane("ab")
    assert isinstance(pane, ABPane) and pane.report is not None
    return pane


async def test_the_ab_tab_shows_both_arms_the_verdicts_and_what_next(canary_repo: Path, make_app: Any) -> None:
    app = make_app(canary_repo)
    async with app.run_test(size=(160, 40)) as pilot:  # every column (narrower, the test and sample sizes give way)
        pane = await open_ab(app, pilot)
        status = str(pane.query_one("#ab-status", Static).render())
        assert "production" in status and "1.1.0 step 1 of 2 · 10%" in status and "next: advance to 50%" in status
        table = pane.query_one("#ab-table", RegistryTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert [r[0] for r in rows] == ["error_rate (critical)", "latency_ms (critical)", "value_detection_rate"]
        assert all(r[1] == "pass" for r in rows) and rows[0][7] == "two-proportion z-test" and rows[1][7] == "Mann-Whitney U"
        charts = list(pane.query(PairChart).results(PairChart))
        assert len(charts) == 2 and all(c.shown is not None for c in charts)
        pair = charts[0].shown
        assert pair is not None and pair.champion[-1] == pytest.approx(0.001) and pair.challenger[-1] == pytest.approx(0.001)


async def test_advance_abort_and_pause_go_through_the_plan_dialog(canary_repo: Path, make_app: Any) -> None:
    app = make_app(canary_repo)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_ab(app, pilot)
        await pilot.press("A")
        await settle(pilot, app)
        assert isinstance(app.screen, PlanModal)
        plan = app.screen.plan
        assert (plan.request.kind, plan.request.version, plan.request.canary, plan.request.environment) == (
            "promote",
            "1.1.0",
            50.0,
            "production",
        )
        await pilot.press("escape")
        await settle(pilot, app)
        for key, kind in (("b", "rollback"), ("P", "pin")):
            await pilot.press(key)
            await settle(pilot, app)
            assert isinstance(app.screen, PlanModal), f"{key}: no plan dialog (asked for an environment?)"
            assert (app.screen.plan.request.kind, app.screen.plan.request.environment) == (kind, "production")
            await pilot.press("escape")
            await settle(pilot, app)


async def test_the_overview_shows_the_rollouts_progress(canary_repo: Path, make_app: Any) -> None:
    app = make_app(canary_repo)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        select_model(app, "fraud-card")
        await settle(pilot, app)
        detail = str(app.screen.query_one("#overview-detail", Static).render())
        assert "rollout production: 1.1.0 step 1 of 2 · 10% · next: advance · so far: pass" in detail


async def test_a_model_without_a_canary_says_so(canary_repo: Path, make_app: Any) -> None:
    app = make_app(canary_repo)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_model(app, pilot, name="churn", tab="ab")
        await settle(pilot, app)
        assert "no canary runs for this model" in str(screen.query_one("#ab-status", Static).render())
        await pilot.press("A")
        await settle(pilot, app)
        assert not isinstance(app.screen, PlanModal)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_ab_snapshot(canary_repo: Path, make_app: Any, snap_compare: Any, size: tuple[int, int]) -> None:
    async def run_before(pilot: Any) -> None:
        await settle(pilot, pilot.app)
        pilot.app.open_model("fraud-card", tab="ab")
        await settle(pilot, pilot.app)
        await settle(pilot, pilot.app)

    assert snap_compare(make_app(canary_repo), terminal_size=size, run_before=run_before)
