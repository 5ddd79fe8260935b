"""``@``: what this session ran (actions, fetches, failures) and how each ended.

lazygit's command log, for release actions: an audit you can see without leaving the app.
The durable record is the git history (the model view's History tab); this is the session's.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from mlrelease.tui.safe import lit
from mlrelease.tui.screens.base import BaseScreen
from mlrelease.tui.widgets.keybar import KeyBar
from mlrelease.tui.widgets.table import RegistryTable
from mlrelease.tui.widgets.topbar import TopBar


class ActivityScreen(BaseScreen):
    TITLE = "Activity"
    SCOPES = ("table", "app")
    HELP = (
        "Actions run in this session, newest first: plans, promotions, rollbacks, fetches and failures, with their outcome: "
        "✓ done, = nothing to do, · planned, ○ cancelled, ⊘ refused (read-only, failing gates), ✗ failed."
    )

    def compose(self) -> ComposeResult:
        yield TopBar(Text("Overview › Activity", style="bold"))
        yield RegistryTable(id="activity")
        yield Static(Text("the durable audit trail is the git history: open a model, History tab (4)", style="dim"), id="activity-note")
        yield KeyBar()

    def on_mount(self) -> None:
        rows = []
        for entry in reversed(self.mlr.activity):
            mark = Text(f"{entry.mark} ", style="bold green" if entry.ok else "bold red" if entry.status == "failed" else "bold")
            rows.append([Text(f"{entry.at:%H:%M:%S}"), lit(entry.what), Text.assemble(mark, lit(entry.outcome))])
        if not rows:
            rows.append([Text("—"), Text("nothing yet"), Text("")])
        table = self.query_one(RegistryTable)
        table.fill([Text("Time"), Text("Action"), Text("Outcome")], rows)
        table.focus()
