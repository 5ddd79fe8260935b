"""One history event whole (Enter on the History tab): every trailer, the commits, forced gates, backend.

The History table cuts a long reason at its column's edge; here nothing is cut. The
fields come from :class:`mlrelease.registry.history.Event`; the commits' messages are
read from git in a worker and shown literally, trailers and all.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Static

from mlrelease.registry.history import Event
from mlrelease.tui import keys
from mlrelease.tui.modeldata import load_messages
from mlrelease.tui.safe import block, join, lit, plain, when
from mlrelease.tui.screens.scrolling import ScrollKeys


def event_fields(e: Event) -> Text:
    """Every field the event has, one per line: what, when, who, why, forced gates, backend."""
    rows: list[tuple[str, object]] = [
        ("action", e.action),
        ("model", e.model),
        ("environment", e.environment),
        ("from → to", f"{plain(e.previous)} → {plain(e.version)}" if e.previous or e.version else None),
        ("canary weight", f"{e.canary_weight}%" if e.canary_weight else None),
        ("when (UTC)", when(e.at)),
        ("who", e.who),
        ("committed by", e.author if e.actor and e.actor != e.author else None),
        ("phase", e.phase),
        ("forced gates", e.forced),
        ("break-glass by", e.break_glass),
        ("verify says", "; ".join(e.marks) + " (`mlrelease verify` says why)" if e.marks else None),
        ("accepted", "; ".join(e.accepted) + " on the record (`mlrelease verify` says by whom and why)" if e.accepted else None),
        ("backend", e.backend),
        ("backend reference", e.backend_ref),
        ("action id", e.promotion_id),
        ("bundle", e.bundle),
        ("imported from", e.source),
        ("file", e.path),
        ("recorded", "from commit trailers" if e.structured else "derived from the file's diff (an edit made without mlrelease)"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [Text.assemble((name.ljust(width + 2), "bold"), lit(value)) for name, value in rows if value not in (None, "")]
    reason = e.reason if e.members else e.reason or e.note
    if reason:
        lines.append(Text.assemble(("reason".ljust(width + 2), "bold"), block(reason)))
    if e.members and e.note:  # a release bundle: what became of each model, then its commits below
        fates = [Text.assemble(("•  ", "dim"), lit(part)) for part in e.note.split("; ")]
        lines.append(Text.assemble(("each model".ljust(width + 2), "bold"), Text("\n").join(fates)))
    return Text("\n").join(lines)


class EventModal(ScrollKeys, ModalScreen[None]):
    SCROLLS = "#event-body"

    BINDINGS = keys.bindings("modal", "table")

    @dataclass
    class Read(Message):
        messages: dict[str, str]

    def __init__(self, event: Event, related: list[Event]) -> None:
        super().__init__(classes="modal event-modal")
        self.event = event
        self.related = sorted(related, key=lambda e: e.at)  # the action's commits, oldest first

    def compose(self) -> ComposeResult:
        e = self.event
        with Vertical(classes="dialog wide"):
            yield Static(join(lit(e.action, "bold"), lit(e.subject)), classes="dialog-title", id="event-title")
            with VerticalScroll(id="event-body"):
                yield Static(event_fields(e), id="event-fields")
                yield Static(Text("Commits", style="bold underline"), classes="plan-section")
                yield Static(Text("reading the commits…", style="italic"), id="event-commits")
            yield Static(Text("esc close · ↑/↓ scroll", style="dim"), id="event-keys")

    def on_mount(self) -> None:
        self.query_one("#event-body").focus()
        hint = keys.fill(self.app, "{modal.cancel} close · {table.down} / {table.up} scroll", keys.user_keymap(self.app))
        self.query_one("#event-keys", Static).update(Text(hint, style="dim"))
        self._read([r.commit for r in self.related])

    @work(thread=True, exclusive=True, group="event", exit_on_error=False, description="reading the commits")
    def _read(self, commits: list[str]) -> None:
        session = getattr(self.app, "session", None)
        self.post_message(self.Read(load_messages(session, commits) if session is not None else {}))

    @on(Read)
    def _show(self, message: Read) -> None:
        parts = []
        for r in self.related:
            head = join(
                lit(r.commit[:12], "bold"), Text(when(r.at), style="dim"), lit(r.action), Text("(this event)" if r is self.event else "")
            )
            body = message.messages.get(r.commit)
            parts.append(Text.assemble(head, "\n", block(body.rstrip()) if body else lit(r.subject)))
        self.query_one("#event-commits", Static).update(Text("\n\n").join(parts))

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_confirm(self) -> None:
        self.dismiss(None)
