"""The plan of an action, shown before anything happens, and the progress while it runs.

:class:`PlanModal` shows what the release service planned — every gate with its verdict
and numbers, the backend call, each commit to be written (with the reason as it is
typed) — and asks for what the action needs: a reason, a canary weight (promote), the
model name typed out (production and environments with approvals, or when failing gates
are overridden). Gates come first, and the fields and buttons stay on screen at 80×24.
Focus starts in the first field to fill; only an explicit ``y`` (or the confirm button)
confirms, and only once the plan allows it. Changing the canary weight or the override
asks the service for a new plan: the modal never guesses what the service would say.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, LoadingIndicator, Static

from mlrelease.registry.trailers import format_message
from mlrelease.release.kinds import KINDS
from mlrelease.release.plan import Plan, Progress, Request
from mlrelease.tui import keys
from mlrelease.tui.safe import at_most, block, join, lit, plain
from mlrelease.tui.widgets.safeinput import SafeInput
from mlrelease.tui.widgets.tickbox import TickBox


@dataclass(frozen=True)
class Decision:
    """What the person confirmed: the request to plan again and execute (reason, canary, force)."""

    request: Request


FORCE = "Override the failing gates (--force; recorded in the commit)"
# Gates that are not overridable (docs/controls.md) pass only with another approver's break-glass approval.
FORCE_LOCKED = "Override with the break-glass another approver gave (--force; recorded)"
# approve --break-glass: the same request the CLI sends; the service says what it unlocks, and refuses where nothing needs it.
BREAK_GLASS = "Break-glass: let another person force this once (recorded)"


def gate_lines(plan: Plan) -> Text:
    if not plan.gates:
        return Text("no gates apply to this action", style="dim")
    lines = []
    for g in sorted(plan.gates, key=lambda g: g.passed):  # failing first: what decides is on screen at 80×24
        mark = Text("✓ pass ", style="green") if g.passed else Text("✗ FAIL ", style="bold red")
        forced = Text("")
        if not g.passed and plan.request.force:
            forced = Text(" (overridden)", style="bold")
        elif not g.passed and g.name in plan.locked:
            forced = Text(" (not overridable: needs break-glass)", style="bold")
        lines.append(Text.assemble(mark, lit(g.name, "bold"), "  ", lit(g.detail), forced))
    return Text("\n").join(lines)


def commit_lines(plan: Plan, reason: str) -> Text:
    """Each commit the action writes, as git will record it, with the reason being typed."""
    if not plan.commits:
        return Text("no commit", style="dim")
    parts = []
    for i, c in enumerate(plan.commits, 1):
        fields = dict(c.fields)
        if "reason" in fields:
            fields["reason"] = reason or None
        head = Text(f"commit {i} of {len(plan.commits)} · writes {', '.join(plain(p) for p in c.paths)}", style="dim")
        parts.append(Text.assemble(head, "\n", block(format_message(c.subject, fields, c.body).rstrip())))
    return Text("\n").join(parts)


def change_line(plan: Plan) -> Text:
    """What the action changes, in the words its kind calls for (an unpin moves nothing)."""
    kind = plan.request.kind
    if plan.members:
        return Text(f"{len(plan.members)} models, all or none", style="bold")
    if kind in ("promote", "rollback"):
        return join(Text("live now", style="dim"), lit(plan.previous, empty="nothing"), Text("→"), lit(plan.version, "bold"))
    if kind == "unpin":
        return join(Text("live", style="dim"), lit(plan.version, "bold", empty="nothing"), Text("(stays; only the pin goes)", style="dim"))
    if plan.version:
        return join(Text("version", style="dim"), lit(plan.version, "bold"))
    return Text("")


def reason_placeholder(plan: Plan) -> str:
    label = "Reason (required)" if plan.confirmation.reason_required else "Comment (optional)"
    return f"{label}: why, for the audit trail"


def gates_heading(plan: Plan) -> Text:
    failing = len(plan.failing)
    head = Text("Gates", style="bold underline")
    if plan.gates:
        head.append(f"  {len(plan.gates) - failing} pass", style="bold")
        if failing:
            head.append(f", {failing} FAIL", style="bold reverse" if not plan.request.force else "bold")
    return head


class PlanModal(ModalScreen[Decision | None]):
    """Gates first, then what happens; the fields and the buttons always on screen (80×24 too).

    Focus starts in the first field to fill (the reason, else the typed name), so what a
    person types lands in a field and never runs a command; the app refuses its own keys
    while a dialog is open (:meth:`mlrelease.tui.app.MlreleaseApp.check_action`). Enter in a
    field moves on and ends on Cancel, so Enter never confirms.
    """

    BINDINGS = keys.bindings("modal")

    @dataclass
    class Replanned(Message):
        """The service's new plan after a changed canary weight or override."""

        plan: Plan

    @dataclass
    class ReplanFailed(Message):
        message: str

    def __init__(self, plan: Plan, replan: Callable[[PlanModal, Request], None], *, reason: str = "") -> None:
        super().__init__(classes="modal plan-modal")
        self.plan = plan
        self._initial_reason = reason
        self._replan = replan
        self._busy = False

    # ---- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        kind = self.plan.request.kind
        with Vertical(classes="dialog plan"):
            yield Static(id="plan-title", classes="plan-title")
            with VerticalScroll(id="plan-gates-box"):
                yield Static(id="plan-gates")
            with VerticalScroll(id="plan-body"):
                yield Static(id="plan-summary")
                yield Static(Text("Backend call", style="bold underline"), classes="plan-section")
                yield Static(id="plan-backend")
                yield Static(Text("Commits to be written", style="bold underline"), classes="plan-section")
                yield Static(id="plan-commits")
            yield SafeInput(self._initial_reason, placeholder=reason_placeholder(self.plan), id="reason", compact=True)
            if kind == "promote" and not self.plan.members:  # a bundle takes no canary
                weight = self.plan.request.canary  # a rollout's next step comes planned with its weight: show it, so Enter keeps it
                yield SafeInput(
                    "" if weight is None else f"{weight:g}",
                    placeholder="Canary weight in % (empty: all traffic), Enter to re-plan",
                    id="canary",
                    compact=True,
                )
            yield TickBox(FORCE, id="force", classes="hidden", compact=True)
            if kind == "approve":
                yield TickBox(BREAK_GLASS, self.plan.request.break_glass, id="break-glass", compact=True)
            yield SafeInput(id="typed", classes="hidden", compact=True)
            yield Static(id="plan-status", classes="plan-status")
            with Horizontal(classes="buttons"):
                yield Button("Cancel (n)", id="cancel", variant="primary", compact=True)
                yield Button(f"{KINDS[kind].verb} (y)", id="confirm", variant="error", compact=True)

    def on_mount(self) -> None:
        self.show_plan(self.plan)
        self.first_field().focus()

    def first_field(self) -> Widget:
        """Where typing should go first: the reason, then the typed name; Cancel when nothing can run."""
        if not self.plan.runnable and not self.plan.refused:
            return self.query_one("#cancel", Button)
        for field_id in ("reason", "typed"):
            field = self.query_one(f"#{field_id}", Input)
            if field.display and not field.has_class("hidden") and not field.value.strip():
                return field
        return self.query_one("#reason", Input)

    # ---- state ------------------------------------------------------------------------------

    def show_plan(self, plan: Plan) -> None:
        self.plan = plan
        self._busy = False
        title = lit(plan.title, "bold")
        change = change_line(plan)
        if change.plain:
            title.append_text(join(Text("  ·"), change))
        self.query_one("#plan-title", Static).update(title)
        summary = join(Text("by", style="dim"), lit(plan.actor))
        for m in plan.members:
            summary.append_text(
                join(
                    Text("\n•", style="dim"),
                    lit(m.request.model, "bold"),
                    lit(m.previous, empty="nothing"),
                    Text("→"),
                    lit(m.version, "bold"),
                )
            )
        if plan.expected is not None:
            summary.append_text(join(Text("\nstate now:", style="dim"), lit(plan.expected.describe())))
        if plan.action_id:
            summary.append_text(join(Text("\naction id", style="dim"), lit(plan.action_id)))
        for note in plan.notes:
            summary.append_text(join(Text("\nnote:", style="bold"), lit(note)))
        for item in plan.pending:
            summary.append_text(
                join(Text("\npending:", style="bold"), lit(f"{item.model} {item.environment or ''} {item.action_id}: {item.description}"))
            )
        self.query_one("#plan-summary", Static).update(summary)
        self.query_one("#plan-gates", Static).update(Text("\n").join([gates_heading(plan), gate_lines(plan)]))
        backend = Text("no backend is called", style="dim")
        if plan.backend_call:
            backend = join(lit(plan.backend, "bold"), Text("·", style="dim"), lit(plan.backend_call))
        self.query_one("#plan-backend", Static).update(backend)
        self.query_one("#reason", Input).placeholder = reason_placeholder(plan)  # a break-glass approval needs a reason
        force = self.query_one("#force", TickBox)
        force.set_class(not plan.failing or bool(plan.members), "hidden")  # a bundle cannot be forced
        force.label = FORCE_LOCKED if plan.locked else FORCE  # --force alone cannot pass a gate that is not overridable
        typed = self.query_one("#typed", Input)
        name = self.typed_name()
        typed.set_class(name is None, "hidden")
        if name is not None:
            what = "the bundle's name" if plan.bundle_name else "the environment's name" if plan.members else "the model name"
            typed.placeholder = f"Type {what} ({plain(name)}) to confirm"
        self._refresh()

    def typed_name(self) -> str | None:
        """The name to type, as the plan's confirmation policy says (release.confirm)."""
        return self.plan.confirmation.typed_name

    def reason(self) -> str:
        return self.query_one("#reason", Input).value.strip()

    def blocker(self) -> str | None:
        """Why ``y`` would not run the action now, or None when it would."""
        plan = self.plan
        if self._busy:
            return "planning again…"
        if plan.block is not None:
            return f"cannot run: {plan.block.message}"
        if plan.noop is not None:
            return f"nothing to do: {plan.noop}"
        if plan.refused and plan.members:
            return f"refused by {len(plan.failing)} failing gate(s): nothing of the bundle moves (a bundle cannot be forced)"
        if plan.refused and plan.locked:
            return (
                f"refused: {', '.join(plan.locked)} not overridable here; an emergency needs another approver's break-glass "
                f"(a, Break-glass ticked): mlrelease approve {plan.request.model}@{plan.version} --env {plan.request.environment} "
                "--break-glass --reason …"
            )
        if plan.refused:
            return f"refused by {len(plan.failing)} failing gate(s); tick the override to force it (recorded)"
        if self.plan.confirmation.reason_required and not self.reason():
            return "type a reason first"
        name = self.typed_name()
        if name is not None and self.query_one("#typed", Input).value.strip() != name:
            return f"type {plain(name)} in the last field to confirm"
        return None

    def _refresh(self) -> None:
        self.query_one("#plan-commits", Static).update(commit_lines(self.plan, self.reason()))
        blocker = self.blocker()
        status = self.query_one("#plan-status", Static)
        if blocker is None and isinstance(self.focused, Input):
            # y would be typed into the field, so the hint must say how to get out of it first.
            status.update(Text("ready: Enter or Tab leaves the field, then y runs it; Esc cancels", style="bold"))
        elif blocker is None:
            status.update(Text("ready: y runs it; n or Esc cancels", style="bold"))
        else:  # three lines at most (app.tcss): a longer refusal ends in "…"
            width = status.content_size.width or self.app.size.width - 6
            status.update(at_most(self.app.console, lit(blocker), max(20, width), lines=3))
        self.query_one("#confirm", Button).disabled = blocker is not None

    # ---- input ------------------------------------------------------------------------------

    def on_descendant_focus(self) -> None:
        self._refresh()

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        if event.input.id in ("reason", "typed"):
            self._refresh()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        """Enter never confirms: it re-plans a changed canary weight, or moves on (the last field to Cancel)."""
        if event.input.id == "canary":
            self._ask_again(canary=event.value)
        fields = [w for w in self.query("Input, TickBox").results() if w.display and not w.has_class("hidden")]
        if fields and event.input is fields[-1]:
            self.query_one("#cancel", Button).focus()
        else:
            self.focus_next()

    @on(Checkbox.Changed, "#force")
    def _force(self, event: Checkbox.Changed) -> None:
        if event.value != self.plan.request.force:
            self._ask_again(force=event.value)

    @on(Checkbox.Changed, "#break-glass")
    def _break_glass(self, event: Checkbox.Changed) -> None:
        if event.value != self.plan.request.break_glass:
            self._ask_again(break_glass=event.value)

    def _ask_again(self, *, canary: str | None = None, force: bool | None = None, break_glass: bool | None = None) -> None:
        request = self.plan.request
        if canary is not None:
            text = canary.strip().rstrip("%").strip()
            if text:
                try:
                    weight = float(text)
                except ValueError:
                    self.query_one("#plan-status", Static).update(lit(f"canary weight must be a number, not {canary!r}"))
                    return
            else:
                weight = None
            if weight == request.canary:
                return
            request = dataclasses.replace(request, canary=weight)
        if force is not None:
            request = dataclasses.replace(request, force=force)
        if break_glass is not None:
            request = dataclasses.replace(request, break_glass=break_glass)
        self._busy = True
        self._refresh()
        self._replan(self, request)

    @on(Replanned)
    def _replanned(self, message: Replanned) -> None:
        self.show_plan(message.plan)

    @on(ReplanFailed)
    def _replan_failed(self, message: ReplanFailed) -> None:
        self.replan_failed(message.message)

    def replan_failed(self, message: str) -> None:
        """The plan shown stays what runs, so its boxes say its own override and break-glass again."""
        self._busy = False
        for box_id, value in (("force", self.plan.request.force), ("break-glass", self.plan.request.break_glass)):
            for box in self.query(f"#{box_id}").results(TickBox):
                with box.prevent(Checkbox.Changed):
                    box.value = value
        self._refresh()
        self.query_one("#plan-status", Static).update(lit(f"could not plan that: {message}"))

    # ---- answer -----------------------------------------------------------------------------

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#confirm")
    def action_confirm(self) -> None:
        if self.blocker() is not None:
            self.app.bell()
            self._refresh()
            return
        reason = self.reason() or None
        self.dismiss(Decision(dataclasses.replace(self.plan.request, reason=reason)))


class ProgressModal(ModalScreen[None]):
    """While an action runs: its steps as the service reports them. Closed by the dispatcher."""

    @dataclass
    class Step(Message):
        """One step of the running action, posted from the worker."""

        progress: Progress

    def __init__(self, title: str) -> None:
        super().__init__(classes="modal progress-modal")
        self._title = title
        self._lines: list[Text] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(lit(self._title, "bold"), classes="dialog-title")
            yield LoadingIndicator()
            yield Static(Text("starting…", style="dim"), id="progress-log")

    @on(Step)
    def _step(self, message: Step) -> None:
        self.add(message.progress)

    def add(self, progress: Progress) -> None:
        self._lines.append(join(Text(f"{progress.step}:", style="bold"), lit(progress.message)))
        self.query_one("#progress-log", Static).update(Text("\n").join(self._lines))
