"""History (4): the audit trail from git, newest first; Enter opens an event whole."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import DataTable, Static

from mlrelease.registry.history import Event
from mlrelease.tui import keys
from mlrelease.tui.modeldata import ModelData, load_history
from mlrelease.tui.panes.base import Pane
from mlrelease.tui.panes.versions import short_author
from mlrelease.tui.safe import join, lit, plain, when
from mlrelease.tui.widgets.table import GAP, RegistryTable, Step, column_widths, fit_widths

LABELS = ("When (UTC)", "Who", "Action", "Env", "From → to", "Reason / note")
REASON = len(LABELS) - 1


def change_text(e: Event) -> Text:
    change = Text()
    if e.previous or e.version:
        change = join(lit(e.previous, "dim"), Text("→"), lit(e.version, "bold"))
    if e.phase:
        change.append(f" ({plain(e.phase)})", style="bold" if e.phase == "Failed" else "dim")
    return change


def why_text(e: Event) -> Text:
    """Marks first (what verify does not accept, break-glass, forced): they must never be cut off."""
    why = lit(e.note if e.members else e.reason or e.note or e.subject)  # a bundle: what became of each model
    if e.forced:  # a bundle's: every member's (registry.bundles.folded)
        why = join(Text("forced gates:", style="bold"), lit(e.forced), why)
    if e.break_glass:
        why = join(Text("⚠ break-glass by", style="bold red"), lit(e.break_glass), why)
    for word in reversed(e.marks):  # a bundle's: every member's
        why = join(Text(f"⚠ {plain(word)}", style="bold red"), why)
    return why


class HistoryPane(Pane):
    TAB = "history"
    FOCUS = "#history-table"
    BINDINGS = keys.bindings("history")

    @dataclass
    class Read(Message):
        events: list[Event]
        unverified: str | None = None  # why the events carry no verify marks

    @dataclass
    class Opened(Message):
        """Enter on a row: the screen shows ``event`` whole, with the other commits of its action."""

        event: Event
        related: list[Event]

    def __init__(self) -> None:
        super().__init__()
        self.events: list[Event] | None = None

    def compose(self) -> ComposeResult:
        yield RegistryTable(id="history-table")
        yield Static("", id="history-note", classes="pane-note")

    def model_changed(self, data: ModelData) -> None:
        super().model_changed(data)
        self.events = None  # read again when next shown
        if self.view.active_tab == self.TAB:
            self._read()

    def activate(self) -> None:
        if self.events is None:
            self._read()
        super().activate()

    @work(thread=True, exclusive=True, group="history", exit_on_error=False, description="reading history")
    def _read(self) -> None:
        self.post_message(self.Read(*load_history(self.mlr.session, self.view.model_name)))

    @on(Read)
    def _show(self, message: Read) -> None:
        self.events = events = message.events
        rows = [
            [Text(when(e.at)), lit(short_author(e.who)), lit(e.action, "bold"), lit(e.environment), change_text(e), why_text(e)]
            for e in events
        ]
        labels = [Text(label) for label in LABELS]
        widths = self._widths(labels, rows)
        if 0 < widths[0] < 16:  # no room for the time of day: the day alone, never "2026-03-0…"
            for row, e in zip(rows, events, strict=True):
                row[0] = Text(when(e.at)[:10])
        self.query_one("#history-table", RegistryTable).fill(labels, rows, widths)
        note = Text(f"{len(events)} events, newest first (from git; hand edits included) · Enter: the whole event", style="dim")
        if message.unverified:
            note.append(f" · no marks: {plain(message.unverified)}", style="yellow")
        self.query_one("#history-note", Static).update(note)

    def _widths(self, labels: list[Text], rows: list[list[Text]]) -> list[int]:
        """The reason gets the room that is left (at least 16 cells): who, change, the time of day and env give way first."""
        room = self.app.size.width - 3
        widths = column_widths(labels, rows, [16, 24, 12, 14, 28, 400])
        reason, widths[REASON] = widths[REASON], 0  # fitted apart: it takes what is left
        steps: list[Step] = [("shrink", 1, 10), ("shrink", 4, 14), ("shrink", 0, 10), ("shrink", 3, 8), ("shrink", 1, 8)]
        widths = fit_widths(widths, room - 16 - GAP, steps)
        left = room - sum(w + GAP for w in widths if w) - GAP
        widths[REASON] = max(16, min(reason, left))
        return widths

    def selected(self) -> Event | None:
        table = self.query_one("#history-table", RegistryTable)
        if not self.events or not 0 <= table.cursor_row < len(self.events):
            return None
        return self.events[table.cursor_row]

    @on(DataTable.RowSelected, "#history-table")
    def _selected(self) -> None:
        self.action_open_event()

    def action_open_event(self) -> None:
        event = self.selected()
        if event is None:
            return
        related = list(event.members) or [e for e in self.events or () if e.promotion_id and e.promotion_id == event.promotion_id]
        self.post_message(self.Opened(event, related or [event]))
