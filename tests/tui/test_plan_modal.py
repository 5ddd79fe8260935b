"""The plan dialog at any size and under a person's fingers (issue 15, items 1 and 2).

At 80×24 the gates are on screen and so are the buttons; focus starts in the field to
fill, so typing never runs a command; the app's own keys do nothing while a dialog is
open; Enter never confirms and ends on Cancel. Visibility is checked the way a person
sees it: which widget is drawn at each cell (``Screen.get_widget_at``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from textual.errors import NoWidget
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, OptionList

from mlrelease.cli import main
from mlrelease.tui.app import MlreleaseApp
from mlrelease.tui.screens.modals import ChoiceModal
from mlrelease.tui.screens.overview import OverviewScreen
from mlrelease.tui.screens.plan import PlanModal
from tests.builders import commit_all, config, make_registry, write
from tests.release_helpers import state_at
from tests.tui.conftest import press, settle
from tests.tui.test_actions import choose_environment, confirm, fill, head, plan_for, select_model


def rows_shown(app: MlreleaseApp, widget: Widget) -> int:
    """How many of ``widget``'s rows are drawn on screen, not hidden or scrolled away."""
    region = widget.region
    shown = 0
    for y in range(region.y, region.y + region.height):
        try:
            found, _ = app.screen.get_widget_at(region.x + min(2, max(0, region.width - 1)), y)
        except NoWidget:
            continue
        if found is widget or widget in found.ancestors:
            shown += 1
    return shown


def strict_registry(tmp_path: Path) -> Path:
    """Staging with four gates, one failing: the plan has gates to show and an override to offer."""
    root = make_registry(tmp_path / "r", commit=False)
    cfg = config()
    cfg["environments"][1]["gates"] = {"thresholds": {"f1": {"min": 0.9}, "precision": {"min": 0.5}}, "no_regression": {"f1": {}}}
    write(root, "mlrelease.yaml", cfg)
    commit_all(root, "strict staging")
    return root


async def open_plan(pilot: Any, app: MlreleaseApp, env: str = "staging") -> PlanModal:
    await settle(pilot, app)
    select_model(app, "fraud-card")
    await press(pilot, app, "p")
    await choose_environment(pilot, app, env)
    modal = app.screen
    assert isinstance(modal, PlanModal), f"expected the plan, got {modal!r}"
    return modal


@asynccontextmanager
async def plan_open(app: MlreleaseApp, size: tuple[int, int], env: str = "staging") -> AsyncIterator[tuple[Pilot[Any], PlanModal]]:
    """The app running at ``size`` with the promote plan for fraud-card to ``env`` open."""
    async with app.run_test(size=size) as pilot:
        yield pilot, await open_plan(pilot, app, env)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)])
async def test_the_plan_shows_every_gate_and_its_buttons_at_any_size(tmp_path: Path, make_app, size: tuple[int, int]) -> None:
    app = make_app(strict_registry(tmp_path))
    async with plan_open(app, size) as (_pilot, modal):
        gates = modal.plan.gates
        assert len(gates) >= 3 and modal.plan.failing
        assert rows_shown(app, modal.query_one("#plan-gates")) >= len(gates), "every gate line is on screen"
        for field in ("#reason", "#cancel", "#confirm", "#force"):
            assert rows_shown(app, modal.query_one(field)) >= 1, f"{field} is on screen at {size}"
        assert rows_shown(app, modal.query_one("#plan-status")) >= 1


async def test_focus_starts_in_the_reason_so_typing_never_runs_a_command(repo: Path, make_app) -> None:
    app = make_app(repo)
    before = head(repo)
    async with plan_open(app, (80, 24)) as (pilot, modal):
        assert app.focused is modal.query_one("#reason", Input)
        await pilot.press(*"on approval q")  # n cancelled, a opened Approve, q quits: none of it may happen
        await settle(pilot, app)
        assert app.is_running and app.screen is modal
        assert modal.query_one("#reason", Input).value == "on approval q"
        assert not [a for a in app.activity if a.outcome.startswith("cancelled")]
    assert head(repo) == before


async def test_the_apps_own_keys_do_nothing_while_a_dialog_is_open(repo: Path, make_app) -> None:
    app = make_app(repo)
    async with plan_open(app, (120, 40)) as (pilot, modal):
        modal.query_one("#cancel", Button).focus()
        await pilot.pause()
        for key in ("question_mark", "at", "F", "a", "b", "p", "ctrl+p", "q"):
            await press(pilot, app, key)
            assert app.is_running and app.screen is modal, f"{key} acted behind the dialog: {app.screen!r}"


async def test_enter_moves_through_the_fields_and_ends_on_cancel(repo: Path, make_app) -> None:
    app = make_app(repo)
    before = head(repo)
    async with plan_open(app, (120, 40)) as (pilot, modal):
        assert app.focused is modal.query_one("#reason", Input)
        await pilot.press(*"dev ran clean", "enter")  # reason → canary
        assert app.focused is modal.query_one("#canary", Input)
        await pilot.press("enter")  # the last field shown → Cancel, never Confirm
        assert app.focused is modal.query_one("#cancel", Button)
        await pilot.press("enter")  # Enter on a dangerous action is Cancel
        await settle(pilot, app)
        assert isinstance(app.screen, OverviewScreen)
    assert head(repo) == before


async def test_a_plan_that_cannot_run_focuses_cancel(repo: Path, make_app) -> None:
    app = make_app(repo)
    async with plan_open(app, (80, 24), env="dev") as (_pilot, modal):  # 1.2.0 is live in dev already: nothing to do
        assert modal.plan.noop is not None
        assert app.focused is modal.query_one("#cancel", Button)


async def test_the_environment_chooser_starts_on_its_default(repo: Path, make_app) -> None:
    """The cursor is on the suggested environment from the first frame: no jump from the first row."""
    seen: list[Any] = []
    app = make_app(repo)
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await settle(pilot, app)
        select_model(app, "fraud-card")
        await pilot.press("p")  # candidate 1.2.0 is live in dev: staging is suggested
        await settle(pilot, app)
        assert isinstance(app.screen, ChoiceModal)
        options = app.screen.query_one(OptionList)
        assert options.get_option_at_index(options.highlighted or 0).id == "staging"
        highlighted = [m.option_id for m in seen if isinstance(m, OptionList.OptionHighlighted)]
        assert highlighted and set(highlighted) == {"staging"}, highlighted


async def test_a_gate_that_is_not_overridable_points_to_break_glass_not_to_the_override(tmp_path: Path, make_app) -> None:
    """Issue 10: approvals where approvals are required cannot be forced; the dialog said
    "tick the override to force it", and ticking it only led to a refusal."""
    root = make_registry(tmp_path / "r", commit=False)
    cfg = config()
    cfg["environments"][1]["gates"] = {"approvals": 2}
    write(root, "mlrelease.yaml", cfg)
    commit_all(root, "two approvals for staging")
    app = make_app(root)
    async with plan_open(app, (80, 24)) as (_pilot, modal):
        assert modal.plan.locked == ("approvals",)
        status = str(modal.query_one("#plan-status").render())
        assert "tick the override" not in status
        assert "mlrelease approve fraud-card@1.2.0 --env staging --break-glass" in " ".join(status.split())
        gates = str(modal.query_one("#plan-gates").render())
        assert "approvals" in gates and "not overridable: needs break-glass" in " ".join(gates.split())
        assert "break-glass" in str(modal.query_one("#force").label)  # the override only uses one another approver gave


def two_approvals_in_staging(tmp_path: Path) -> Path:
    """Staging requires two approvals: --force alone may not override them there (docs/controls.md)."""
    root = make_registry(tmp_path / "r", commit=False)
    cfg = config()
    cfg["environments"][1]["gates"] = {"approvals": 2}
    write(root, "mlrelease.yaml", cfg)
    commit_all(root, "two approvals for staging")
    return root


async def test_break_glass_is_approved_from_the_plan_dialog_as_the_cli_approves_it(
    tmp_path: Path, make_app, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DESIGN.md invariant 1 (every CLI action is in the TUI too): `approve --break-glass` was
    not; the promote dialog sent people to the CLI. Now the approve dialog has a Break-glass
    box that plans the same request through the same service (a reason and the model name
    become required), and the approval it writes is one another person's --force then uses."""
    root = two_approvals_in_staging(tmp_path)
    app = make_app(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        select_model(app, "fraud-card")
        modal = await plan_for(pilot, app, "a", "staging")  # the candidate, 1.2.0
        box = modal.query_one("#break-glass", Checkbox)
        assert rows_shown(app, box) >= 1 and not box.value and not modal.plan.confirmation.reason_required
        await pilot.press("tab", "space")  # from the comment to the box, ticked
        await settle(pilot, app)
        assert modal.plan.request.break_glass and modal.plan.confirmation.typed_name == "fraud-card"
        assert "Reason (required)" in modal.query_one("#reason", Input).placeholder
        assert any("may then force rejected, approvals" in n for n in modal.plan.notes), modal.plan.notes
        assert modal.blocker() == "type a reason first"
        for field in ("#reason", "#typed", "#break-glass", "#cancel", "#confirm"):
            assert rows_shown(app, modal.query_one(field)) >= 1, f"{field} is on screen at 80x24"
        await fill(pilot, modal, reason="INC-7 fraud spike", typed="fraud-card")
        await confirm(pilot, app, modal)
        assert not isinstance(app.screen, PlanModal)
    state = state_at(root, "staging", "fraud-card", "HEAD")
    [bg] = [a for a in state.approvals if a.break_glass]
    assert (bg.version, bg.by, bg.comment) == ("1.2.0", "Test Author <author@example.com>", "INC-7 fraud spike")
    for var in ("AUTHOR", "COMMITTER"):  # another person forces, once, with it: what the CLI's approval allows
        monkeypatch.setenv(f"GIT_{var}_NAME", "Alice")
        monkeypatch.setenv(f"GIT_{var}_EMAIL", "alice@bank.example")
    rc = main(["--repo", str(root), "promote", "fraud-card@1.2.0", "--to", "staging", "--force", "--reason", "INC-7", "--yes"])
    assert rc == 0
    assert state_at(root, "staging", "fraud-card", "HEAD").desired.break_glass == "author@example.com"


async def test_break_glass_where_nothing_needs_it_says_why_and_unticks(tmp_path: Path, make_app) -> None:
    """The service refuses a break-glass where --force may override every gate; the box must
    not stay ticked over the plain approval that y would then run."""
    root = two_approvals_in_staging(tmp_path)
    app = make_app(root)
    before = head(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        select_model(app, "fraud-card")
        modal = await plan_for(pilot, app, "a", "dev")
        await pilot.press("tab", "space")
        await settle(pilot, app)
        assert not modal.plan.request.break_glass and not modal.query_one("#break-glass", Checkbox).value
        status = " ".join(str(modal.query_one("#plan-status").render()).split())
        assert "nothing in dev needs break-glass" in status
    assert head(root) == before
