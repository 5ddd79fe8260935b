"""A release bundle from the keyboard (issue 14.2): B, the bundle, the environment, one plan, y; history shows one row.

Pilot drives the real release service on a temporary git registry (record backend);
snapshots of the bundle's plan and of the bundle in the History tab at 80×24 and wide.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from mlrelease.gitstore import objects
from mlrelease.registry.loader import Registry
from mlrelease.release.service import ReleaseService
from mlrelease.tui.screens.event import EventModal
from mlrelease.tui.screens.model import ModelScreen
from mlrelease.tui.screens.plan import PlanModal
from tests.builders import commit_all, config, make_registry, version, write
from tests.tui.conftest import fixed_clock, press, settle
from tests.tui.test_actions import choose_environment, confirm

DATES = {"GIT_AUTHOR_DATE": "2026-03-05T10:00:00Z", "GIT_COMMITTER_DATE": "2026-03-05T10:00:00Z"}
SIZES = {"80x24": (80, 24), "120x40": (120, 40)}


@pytest.fixture
def bundle_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test registry with a bundle of both models; production needs no staging first. Fixed ids and commit times."""
    monkeypatch.setattr("mlrelease.release.bundle.new_id", lambda now: "01JTESTBUNDLE0000000000000")
    monkeypatch.setattr(objects, "time", SimpleNamespace(time=lambda: 1772704800, localtime=time.gmtime))  # 2026-03-05T10:00Z
    root = make_registry(tmp_path / "registry", commit=False)
    cfg = config(bundles={"card-stack": ["fraud-card", "churn"]})
    cfg["environments"] = [{"name": e, "backend": "record"} for e in ("dev", "staging", "production")]
    write(root, "mlrelease.yaml", cfg)
    write(root, "models/churn/versions/0.3.0.yaml", version("churn", "0.3.0", f1=0.7))
    commit_all(root, "Registry with a bundle", env=DATES)
    return root


def live(root: Path, model: str) -> str | None:
    with Registry(root) as reg:
        state = reg.release("production", model)
        return state.live.version if state and state.live else None


async def bundle_plan(pilot: Pilot[Any], app: Any) -> PlanModal:
    await settle(pilot, app)
    await press(pilot, app, "B")
    await choose_environment(pilot, app, "card-stack")  # the bundle chooser is the same kind of list
    await choose_environment(pilot, app, "production")
    modal = app.screen
    assert isinstance(modal, PlanModal), f"expected the bundle's plan, got {modal!r}"
    return modal


async def test_b_promotes_a_bundle_through_one_plan_and_history_shows_one_event(bundle_repo: Path, make_app) -> None:
    app = make_app(bundle_repo)
    async with app.run_test(size=(150, 50)) as pilot:
        modal = await bundle_plan(pilot, app)
        plan = modal.plan
        assert [m.request.model for m in plan.members] == ["fraud-card", "churn"]
        assert [m.version for m in plan.members] == ["1.2.0", "0.3.0"]  # each at its latest version
        summary = str(modal.query_one("#plan-summary").render())
        assert "fraud-card 1.0.0 → 1.2.0" in summary
        assert not modal.query("#canary")  # a bundle takes no canary, and no override
        typed = modal.query_one("#typed", Input)
        assert "bundle's name (card-stack)" in typed.placeholder
        modal.query_one("#reason", Input).value = "the new stack"
        typed.value = "card-stack"
        await pilot.pause()
        await confirm(pilot, app, modal)
        assert live(bundle_repo, "fraud-card") == "1.2.0"
        app.open_model("fraud-card", tab="history")
        await settle(pilot, app)
        assert isinstance(app.screen, ModelScreen)
        pane = app.screen.query_one("HistoryPane")
        first = pane.events[0]
        assert first.action == "bundle" and "fraud-card 1.2.0: Succeeded" in (first.note or "")
        await press(pilot, app, "enter")
        assert isinstance(app.screen, EventModal)
        text = str(app.screen.query_one("#event-fields").render())
        assert "each model" in text and "01JTESTBUNDLE0000000000000" in text


def _promoted(root: Path) -> None:
    service = ReleaseService(root, clock=fixed_clock)  # the states' times, so the commits (and HEAD's id) are the same every run
    plan = service.prepare_bundle([], "production", name="card-stack", reason="the new stack")
    assert service.execute(plan).status == "done"


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_bundle_plan(bundle_repo: Path, make_app, snap_compare, size: str) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        modal = await bundle_plan(pilot, pilot.app)
        modal.query_one("#reason", Input).value = "the new stack"
        await pilot.pause()

    assert snap_compare(make_app(bundle_repo), terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_bundle_in_history(bundle_repo: Path, make_app, snap_compare, size: str) -> None:
    _promoted(bundle_repo)

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot, pilot.app)  # type: ignore[arg-type]
        pilot.app.open_model("fraud-card", tab="history")  # type: ignore[attr-defined]
        await settle(pilot, pilot.app)  # type: ignore[arg-type]

    assert snap_compare(make_app(bundle_repo), terminal_size=SIZES[size], run_before=run_before)


async def test_a_bundle_row_shows_every_model_of_the_bundle_and_their_marks(bundle_repo: Path, make_app, monkeypatch) -> None:
    """Issue 10: fraud-card's History row of a bundle was folded from fraud-card's commits
    alone, so a mark on churn's commit of the same bundle (here: verify says churn's outcome
    was hand-edited) and churn's fate were not on it."""
    from datetime import UTC, datetime

    from mlrelease.audit import marks
    from mlrelease.audit.report import Finding
    from mlrelease.registry.history import history
    from mlrelease.tui.panes.history import why_text

    _promoted(bundle_repo)
    with Registry(bundle_repo) as reg:
        churn = next(e for e in history(reg, "churn", limit=10) if e.bundle and e.action == "outcome")
    finding = Finding(churn.commit, "Mallory", datetime(2026, 3, 5, tzinfo=UTC), "hand-edit", "no Mlrelease-Action", churn.path)
    monkeypatch.setattr(marks, "safe_findings", lambda reg, budget=None: ([finding], None))  # what verify says of that commit
    app = make_app(bundle_repo)
    async with app.run_test(size=(150, 40)) as pilot:
        await settle(pilot, app)
        app.open_model("fraud-card", tab="history")
        await settle(pilot, app)
        row = app.screen.query_one("HistoryPane").events[0]
        assert row.action == "bundle"
        assert "churn 0.3.0: Succeeded" in (row.note or "") and "fraud-card 1.2.0: Succeeded" in (row.note or "")
        assert why_text(row).plain.startswith("⚠ hand-edited")
