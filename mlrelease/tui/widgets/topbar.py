"""The line at the top of every screen: where we are, when the registry was read, read-only."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class TopBar(Static):
    """Shows ``crumbs`` (breadcrumbs of this screen) beside the app's status line, read again after every registry read
    and whenever the count of failed notifications changes."""

    def __init__(self, crumbs: Text) -> None:
        super().__init__(classes="topbar")
        self.crumbs = crumbs
        self._status = Text()

    def on_mount(self) -> None:
        self._read_status()
        for name in ("registry_changed", "notifications_changed"):
            changed = getattr(self.app, name, None)
            if changed is not None:
                changed.subscribe(self, lambda _value: self._read_status())

    def _read_status(self) -> None:
        status = getattr(self.app, "status_line", None)
        if callable(status):
            self._status = status()
        self._render_bar()

    def _render_bar(self) -> None:
        line = Text.assemble(self.crumbs, "  ", self._status)
        line.no_wrap = True
        line.overflow = "ellipsis"
        self.update(line)
