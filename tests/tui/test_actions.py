"""Release actions from the keyboard: plan, gates, reason, typed name, y/n, result, reload.

Every mutating binding goes through the app's one dispatcher; these tests drive the real
release service against a temporary git registry (record backend, or a failing one).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, ClassVar

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Checkbox, Input, OptionList

from mlrelease.backends.base import Action, Health, Outcome
from mlrelease.registry.loader import Registry
from mlrelease.release.plan import Request
from mlrelease.release.service import ReleaseService
from mlrelease.tui import keys
from mlrelease.tui.app import MlreleaseApp
from mlrelease.tui.screens.modals import ChoiceModal, ErrorModal
from mlrelease.tui.screens.model import ModelScreen
from mlrelease.tui.screens.overview import OverviewScreen
from mlrelease.tui.screens.plan import PlanModal
from tests.builders import commit_all, config, git, make_registry, release, write
from tests.tui.conftest import press, settle


def head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").strip()


def live(root: Path, env: str, model: str = "fraud-card") -> str | None:
    with Registry(root) as reg:
        state = reg.release(env, model)
        return state.live.version if state and state.live else None


def select_model(app: MlreleaseApp, name: str) -> None:
    screen = app.screen
    assert isinstance(screen, OverviewScreen)
    names = [r.summary.name for r in screen.shown]
    screen.query_one("#models").move_cursor(row=names.index(name))


async def choose_environment(pilot: Pilot[Any], app: MlreleaseApp, env: str) -> None:
    modal = app.screen
    assert isinstance(modal, ChoiceModal), f"expected the environment choice, got {modal!r}"
    options = modal.query_one(OptionList)
    options.highlighted = next(i for i in range(options.option_count) if options.get_option_at_index(i).id == env)
    await press(pilot, app, "enter")


async def plan_for(pilot: Pilot[Any], app: MlreleaseApp, key: str, env: str | None = None) -> PlanModal:
    await press(pilot, app, key)
    if env is not None:
        await choose_environment(pilot, app, env)
    modal = app.screen
    assert isinstance(modal, PlanModal), f"expected the plan, got {modal!r}"
    return modal


async def fill(pilot: Pilot[Any], modal: PlanModal, *, reason: str = "", typed: str = "") -> None:
    if reason:
        modal.query_one("#reason", Input).value = reason
    if typed:
        modal.query_one("#typed", Input).value = typed
    await pilot.pause()


async def confirm(pilot: Pilot[Any], app: MlreleaseApp, modal: PlanModal) -> None:
    """Answer y from the buttons (focus on Cancel: y never answers from a text field)."""
    modal.query_one("#cancel", Button).focus()
    await press(pilot, app, "y")


@asynccontextmanager
async def at_model(app: MlreleaseApp, name: str = "fraud-card") -> AsyncIterator[Pilot[Any]]:
    """The app running at 150x50, loaded, with the overview's cursor on model ``name``."""
    async with app.run_test(size=(150, 50)) as pilot:
        await settle(pilot, app)
        select_model(app, name)
        yield pilot


def gate_text(modal: PlanModal) -> str:
    return str(modal.query_one("#plan-gates").render())


# ---- promote --------------------------------------------------------------------------------


async def test_promote_shows_the_plan_then_commits_and_reloads(repo: Path, make_app) -> None:
    app = make_app(repo)
    before = head(repo)
    async with at_model(app) as pilot:
        modal = await plan_for(pilot, app, "p", "staging")  # the candidate 1.2.0
        assert app.focused is modal.query_one("#reason", Input)  # focus starts in the field to fill (issue 15.2)
        assert "✓ pass order:dev  1.2.0 is live in dev" in gate_text(modal)
        assert "record: no external call" in str(modal.query_one("#plan-backend").render())
        assert modal.query_one("#confirm", Button).disabled  # no reason yet
        modal.query_one("#cancel", Button).focus()
        await pilot.press("y")
        assert app.screen is modal  # y does nothing until the plan allows it
        await pilot.click("#reason")
        await pilot.press(*"dev ran clean")
        commits = str(modal.query_one("#plan-commits").render())
        assert "Promote fraud-card 1.2.0 to staging" in commits and "Reason: dev ran clean" in commits
        shown_id = modal.plan.action_id
        await pilot.press("tab", "tab")  # to Cancel: y answers from the buttons, never from a text field
        await press(pilot, app, "y")
        assert isinstance(app.screen, OverviewScreen)
        assert live(repo, "staging") == "1.2.0"
        with Registry(repo) as reg:  # the promotion id the plan showed is the one recorded
            assert reg.release("staging", "fraud-card").desired.promotion_id == shown_id
        assert head(repo) != before and app.head == head(repo)  # reloaded after the action
        # the new live version; the file's history still holds the fixture's hand-written commit (verify's mark)
        assert [r.cells[3].plain for r in app.screen.shown if r.summary.name == "fraud-card"] == ["1.2.0 ⚠"]
        assert app.activity[-1].ok and "is live in staging" in app.activity[-1].outcome
    log = git(repo, "log", "-2", "--format=%B")
    assert "Mlrelease-Action: promote" in log and "Reason: dev ran clean" in log


async def test_cancel_and_n_and_escape_change_nothing(repo: Path, make_app) -> None:
    app = make_app(repo)
    before = head(repo)
    async with at_model(app) as pilot:
        for answer in ("n", "escape", "enter"):  # enter lands on Cancel, where focus starts
            modal = await plan_for(pilot, app, "p", "staging")
            await fill(pilot, modal, reason="no")
            modal.query_one("#cancel", Button).focus()
            await press(pilot, app, answer)
            assert isinstance(app.screen, OverviewScreen)
        await pilot.press("p")
        await pilot.press("escape")  # cancel at the environment choice
        await settle(pilot, app)
    assert head(repo) == before
    assert [a.outcome.split(":")[0] for a in app.activity if a.what == "promote"].count("cancelled") == 3


async def test_production_asks_for_the_model_name_typed_out(repo: Path, make_app) -> None:
    service = ReleaseService(repo)
    service.execute(service.plan(Request("promote", "fraud-card", "1.2.0", "staging", reason="setup")))
    app = make_app(repo)
    async with at_model(app) as pilot:
        modal = await plan_for(pilot, app, "p", "production")
        await fill(pilot, modal, reason="ready")
        assert not modal.query_one("#typed").has_class("hidden")
        assert "type fraud-card in the last field" in str(modal.query_one("#plan-status").render())
        await fill(pilot, modal, typed="fraud-car")
        assert modal.query_one("#confirm", Button).disabled
        await fill(pilot, modal, typed="fraud-card")
        assert not modal.query_one("#confirm", Button).disabled
        await confirm(pilot, app, modal)
    assert live(repo, "production") == "1.2.0"


async def test_a_failing_gate_refuses_until_overridden_with_the_name_typed(tmp_path: Path, make_app) -> None:
    root = make_registry(tmp_path / "r", commit=False)
    cfg = config()
    cfg["environments"][1]["gates"] = {"thresholds": {"f1": {"min": 0.9}}}
    write(root, "mlrelease.yaml", cfg)
    commit_all(root, "strict staging")
    before = head(root)
    app = make_app(root)
    async with at_model(app) as pilot:
        modal = await plan_for(pilot, app, "p", "staging")
        await fill(pilot, modal, reason="try")
        assert "✗ FAIL threshold:f1" in gate_text(modal)
        assert "refused by 1 failing gate(s)" in str(modal.query_one("#plan-status").render())
        await confirm(pilot, app, modal)
        assert app.screen is modal and head(root) == before  # refused: nothing written
        await pilot.click("#force")
        await settle(pilot, app)
        assert modal.query_one("#force", Checkbox).value and modal.plan.request.force
        assert "(overridden)" in gate_text(modal)
        await fill(pilot, modal, typed="fraud-card")  # overriding gates always asks for the name
        await confirm(pilot, app, modal)
    assert live(root, "staging") == "1.2.0"
    assert "Mlrelease-Forced-Gates: threshold:f1" in git(root, "log", "-2", "--format=%B")


class FailingBackend:
    type_name: ClassVar[str] = "failing"

    def __init__(self, name: str) -> None:
        self.name = name

    def execute(self, action: Action) -> Outcome:
        return Outcome(ok=False, message="deploy hook exited with status 1 [/oops]")

    def status(self, action: Action) -> Outcome | None:
        return None

    def health(self) -> Health:
        return Health(ok=False, message="down")

    def describe(self, action: Action) -> str:
        return f"{self.name}: run the deploy hook"


async def test_a_backend_failure_opens_the_error_modal_and_nothing_goes_live(repo: Path, make_app) -> None:
    app = make_app(repo, resolver=lambda config, name: FailingBackend(name or "hook"))
    async with at_model(app) as pilot:
        modal = await plan_for(pilot, app, "p", "staging")
        await fill(pilot, modal, reason="try")
        await confirm(pilot, app, modal)
        error = app.screen
        assert isinstance(error, ErrorModal)
        message = str(error.query_one("#error-message").render())
        assert "failed to deploy fraud-card 1.2.0 to staging: deploy hook exited with status 1 [/oops]" in message
        await pilot.press("escape")
        assert isinstance(app.screen, OverviewScreen)
        row = next(r for r in app.screen.shown if r.summary.name == "fraud-card")
        assert "✗ failed" in row.cells[-1].plain and "1.1.0 ✗1.2.0" in row.cells[3].plain
    assert live(repo, "staging") == "1.1.0"


async def test_a_stale_plan_is_shown_again_instead_of_executed(repo: Path, make_app) -> None:
    app = make_app(repo)
    async with at_model(app) as pilot:
        modal = await plan_for(pilot, app, "p", "staging")
        await fill(pilot, modal, reason="mine")
        service = ReleaseService(repo)  # someone else promotes meanwhile
        service.execute(service.plan(Request("promote", "fraud-card", "1.0.0", "staging", reason="theirs", force=True)))
        await confirm(pilot, app, modal)
        again = app.screen
        assert isinstance(again, PlanModal) and again is not modal
        assert again.query_one("#reason", Input).value == "mine"
        assert "live 1.0.0" in str(again.query_one("#plan-summary").render())
    assert live(repo, "staging") == "1.0.0"


# ---- rollback, unpin, approve, reject, retrain, reconcile -------------------------------------


async def test_rollback_then_unpin_from_the_model_view(repo: Path, make_app) -> None:
    service = ReleaseService(repo)
    service.execute(service.plan(Request("promote", "fraud-card", "1.1.0", "production", reason="setup")))
    app = make_app(repo)
    async with at_model(app) as pilot:
        await press(pilot, app, "enter")
        assert isinstance(app.screen, ModelScreen)
        modal = await plan_for(pilot, app, "b", "production")
        assert "1.1.0 → 1.0.0" in str(modal.query_one("#plan-title").render())
        await fill(pilot, modal, reason="precision dropped", typed="fraud-card")
        await confirm(pilot, app, modal)
        assert isinstance(app.screen, ModelScreen)
        assert live(repo, "production") == "1.0.0"
        assert "⚑ pinned" in str(app.screen.query_one("#model-header").render())
        modal = await plan_for(pilot, app, "u", "production")
        await fill(pilot, modal, reason="fixed upstream", typed="fraud-card")
        await confirm(pilot, app, modal)
        assert "pinned" not in str(app.screen.query_one("#model-header").render())
    with Registry(repo) as reg:
        assert reg.release("production", "fraud-card").pin is None


async def test_approve_and_reject_the_selected_version(repo: Path, make_app) -> None:
    app = make_app(repo)
    async with at_model(app) as pilot:
        await press(pilot, app, "enter")
        await pilot.press("j")  # 1.1.0 (newest first)
        modal = await plan_for(pilot, app, "a", "production")
        assert "Approve" in modal.plan.title and modal.plan.version == "1.1.0"
        modal.query_one("#cancel", Button).focus()
        await pilot.press("y")  # a comment is optional
        await settle(pilot, app)
        modal = await plan_for(pilot, app, "x")
        assert modal.plan.request.kind == "reject" and modal.plan.version == "1.1.0"
        assert any("live in staging" in n for n in modal.plan.notes)
        await fill(pilot, modal, reason="leaks the label")
        await confirm(pilot, app, modal)
        cells = " ".join(c.plain for c in app.screen.query_one("#versions-table").get_row_at(1))
        assert "✗ rejected" in cells
    with Registry(repo) as reg:
        assert [a.version for a in reg.release("production", "fraud-card").approvals] == ["1.1.0"]
        assert [r.reason for r in reg.rejections("fraud-card")] == ["leaks the label"]


async def test_retrain_then_reconcile_has_nothing_left(tmp_path: Path, make_app) -> None:
    root = make_registry(tmp_path / "r", commit=False)
    write(root, "mlrelease.yaml", config(retrain={"backend": "record"}))
    commit_all(root, "retrain backend")
    app = make_app(root)
    async with at_model(app, "churn") as pilot:
        modal = await plan_for(pilot, app, "t")
        await fill(pilot, modal, reason="new labels arrived")
        await confirm(pilot, app, modal)
        assert "retraining of churn requested" in app.activity[-1].outcome
        modal = await plan_for(pilot, app, "R")
        assert str(modal.query_one("#plan-status").render()) == "nothing to do: nothing is Pending"
        assert modal.query_one("#confirm", Button).disabled
        await pilot.press("n")
    with Registry(root) as reg:
        assert [r.phase for r in reg.retrain_requests("churn")] == ["Succeeded"]


async def test_reconcile_finishes_a_pending_promotion(tmp_path: Path, make_app) -> None:
    root = make_registry(tmp_path / "r", commit=False)
    write(root, "releases/staging/fraud-card.yaml", release("fraud-card", "staging", "1.2.0", promotion_id="p-9", phase="Pending"))
    commit_all(root, "a crash left this Pending")
    app = make_app(root)
    async with at_model(app) as pilot:
        modal = await plan_for(pilot, app, "R")
        assert modal.plan.title == "Reconcile 1 pending action"
        assert "pending: fraud-card staging p-9" in str(modal.query_one("#plan-summary").render())
        await confirm(pilot, app, modal)
    with Registry(root) as reg:
        assert reg.release("staging", "fraud-card").observed.phase == "Succeeded"


# ---- read-only ----------------------------------------------------------------------------------


MUTATING = keys.mutating()


@pytest.mark.parametrize("where", ["overview", "model"])
async def test_every_mutating_binding_refuses_in_read_only_mode(repo: Path, make_app, where: str) -> None:
    before = head(repo)
    app = make_app(repo, readonly=True)
    async with at_model(app) as pilot:
        if where == "model":
            await press(pilot, app, "enter")
        screen = app.screen
        for key in MUTATING:
            count = len(app.activity)
            await press(pilot, app, key.keys.split(",")[0])
            assert app.screen is screen, f"{key.id} opened {app.screen!r} in read-only mode"
            assert app.activity[count:] and app.activity[-1].outcome.startswith("refused: read-only"), key.id
        assert "READ-ONLY" in app.status_line().plain
    assert head(repo) == before
    assert {k.id for k in MUTATING} == {f"release.{kind}" for kind in keys.RELEASE_KINDS}


async def test_palette_commands_go_through_the_same_dispatcher(repo: Path, make_app) -> None:
    app = make_app(repo, readonly=True)
    async with app.run_test(size=(150, 50)) as pilot:
        await settle(pilot, app)
        await pilot.press("ctrl+p")
        await press(pilot, app, *"Promote")
        await press(pilot, app, "enter")
        assert app.activity[-1].outcome.startswith("refused: read-only")


async def test_a_read_only_environment_refuses_before_the_plan(tmp_path: Path, make_app) -> None:
    root = make_registry(tmp_path / "r", commit=False)
    cfg = config()
    cfg["environments"][2]["read_only"] = True
    write(root, "mlrelease.yaml", cfg)
    commit_all(root, "production is read-only")
    before = head(root)
    app = make_app(root)
    async with at_model(app) as pilot:
        await pilot.press("b")
        await choose_environment(pilot, app, "production")
        assert isinstance(app.screen, OverviewScreen)
        assert app.activity[-1].outcome == "refused: environment production is read-only (read_only: true in mlrelease.yaml)"
    assert head(root) == before


def test_the_service_refuses_a_read_only_app_too(repo: Path) -> None:
    """Defence in depth: the dispatcher's service is built read-only, so a plan cannot run."""
    from mlrelease.errors import ReadOnly

    service = ReleaseService(repo, readonly=True)
    plan = service.plan(Request("promote", "fraud-card", "1.2.0", "staging", reason="x"))
    with pytest.raises(ReadOnly):
        service.execute(plan)
