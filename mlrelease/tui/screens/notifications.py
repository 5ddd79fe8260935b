"""``N``: the notifications' delivery log — every delivery, sent or not, and why not.

The records are the core's (:func:`mlrelease.notify.journal.read`, the same that
``mlrelease notify log`` prints): already redacted and made one visible line there, and
shown here as literal text. Opening the view counts as a look: the top bar's "✗ N
notifications failed" starts again from zero (:func:`mlrelease.notify.journal.mark_seen`).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import DataTable, Static

from mlrelease.notify.journal import Delivery
from mlrelease.tui import messages
from mlrelease.tui.safe import join, lit, when
from mlrelease.tui.screens.base import BaseScreen
from mlrelease.tui.widgets.keybar import KeyBar
from mlrelease.tui.widgets.table import GAP, RegistryTable, Step, column_widths, fit_widths
from mlrelease.tui.widgets.topbar import TopBar

LABELS = ("When (UTC)", "Event", "Channel", "Result", "Model / env", "Detail")
DETAIL = len(LABELS) - 1
MIN_DETAIL = 24  # narrower, the detail column is left out: the line under the list shows it whole


def result_cell(d: Delivery) -> Text:
    """Symbol and word, bold when it failed: it reads the same without colour."""
    return Text("✗ FAILED", style="bold red") if not d.ok else Text("✓ sent", style="green")


def what(d: Delivery) -> Text:
    return lit(" ".join(v for v in (d.model, d.environment) if v) or None)


class NotificationsScreen(BaseScreen):
    TITLE = "Notifications"
    SCOPES = ("table", "app")
    HELP = (
        "Every notification this clone sent or tried to send, newest first: when (UTC), the event (promoted, "
        "rolled_back, failed, waiting_for_approval, break_glass, retraining_due, rollout_advanced, rollout_aborted, "
        "test), the channel (a name under notify.channels in mlrelease.yaml), ✓ sent or ✗ FAILED, the model and "
        "environment, and the detail: where it went, or why it was not delivered. The line under the list shows the "
        "selected delivery's detail whole. A failed notification never fails a release: the release is recorded "
        "either way. The same log as `mlrelease notify log`; opening this view clears the top bar's count of failures. "
        "{app.back} goes back."
    )

    @dataclass
    class Read(Message):
        deliveries: list[Delivery]
        unseen: int  # failures since the last look, counted before this one

    def __init__(self) -> None:
        super().__init__(id="notifications-view")
        self.deliveries: list[Delivery] = []

    def compose(self) -> ComposeResult:
        yield TopBar(Text("Overview › Notifications", style="bold"))
        yield RegistryTable(id="notifications")
        yield Static("", id="notification-detail", classes="note")
        yield Static(Text("reading the delivery log…", style="italic"), id="notifications-note")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(RegistryTable).focus()
        self._read()

    def registry_loaded(self) -> None:
        self._read()  # an action (here or elsewhere) may have sent more

    @work(thread=True, exclusive=True, group="notifications", exit_on_error=False, description="reading the delivery log")
    def _read(self) -> None:
        session = self.mlr.session
        unseen = session.unseen_failures()
        self.post_message(self.Read(session.deliveries(), unseen))

    @on(Read)
    def _show(self, message: Read) -> None:
        self.deliveries = found = message.deliveries
        rows = [[Text(when(d.at)), lit(d.event, "bold"), lit(d.channel), result_cell(d), what(d), lit(d.detail)] for d in found]
        if not rows:
            rows = [[Text("—"), Text("nothing recorded"), Text(""), Text(""), Text(""), Text("")]]
        labels = [Text(label) for label in LABELS]
        table = self.query_one(RegistryTable)
        table.fill(labels, rows, self._widths(labels, rows))
        self.query_one("#notifications-note", Static).update(self._note(found, message.unseen))
        self._detail()
        self.mlr.post_message(messages.NotificationsCounted(0))  # looked at: the top bar's count starts again

    def _note(self, found: list[Delivery], unseen: int) -> Text:
        if not found:
            return Text(
                "no notifications recorded on this clone (a notify: section in mlrelease.yaml routes events to channels; "
                "see docs/notifications.md)",
                style="dim",
            )
        failed = sum(not d.ok for d in found)
        counted = f"{failed} failed" + (f" ({unseen} since the last look)" if unseen else "") if failed else "none failed"
        return Text(f"{len(found)} deliveries, newest first · {counted} · also `mlrelease notify log`", style="dim")

    def _widths(self, labels: list[Text], rows: list[list[Text]]) -> list[int]:
        """Widths for the screen: the detail takes what is left when that is worth reading (24 cells),
        else it goes (the line under the list has it whole) before the event or the channel is cut."""
        room = self.app.size.width - 3
        widths = column_widths(labels, rows, [16, 20, 16, 8, 28, 400])
        detail, widths[DETAIL] = widths[DETAIL], 0
        gentle: list[Step] = [("shrink", 4, 12), ("shrink", 2, 10)]
        fitted = fit_widths(widths, room - MIN_DETAIL - GAP, gentle)
        left = room - sum(w + GAP for w in fitted if w) - GAP
        if left >= MIN_DETAIL:
            fitted[DETAIL] = min(detail, left)
            return fitted
        return fit_widths(widths, room, [*gentle, ("shrink", 2, 8), ("shrink", 1, 12), ("drop", 4, 0)])

    def selected(self) -> Delivery | None:
        table = self.query_one(RegistryTable)
        if not 0 <= table.cursor_row < len(self.deliveries):
            return None
        return self.deliveries[table.cursor_row]

    @on(DataTable.RowHighlighted, "#notifications")
    def _detail(self) -> None:
        d = self.selected()
        line = Text("")
        if d is not None:
            about = [what(d)] if d.model or d.environment else []
            line = join(result_cell(d), lit(d.event, "bold"), Text("→"), lit(d.channel), *about, Text(f"at {when(d.at)}:"), lit(d.detail))
        self.query_one("#notification-detail", Static).update(line)
