"""A one-line row of tab names, the active one highlighted: a light stand-in for ``Tabs``.

Textual's ``TabbedContent`` builds a widget per tab plus an animated underline; the model
view opens faster with one line of text over a ``ContentSwitcher``. Keys (1–7) switch
tabs through the screen; a click on a name posts :class:`TabBar.Chosen`.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget


class TabBar(Widget):
    DEFAULT_CSS = """
    TabBar {
        height: 1;
        padding: 0 1;
        background: $panel;
    }
    """

    active: reactive[str] = reactive("")

    @dataclass
    class Chosen(Message):
        tab: str

    def __init__(self, tabs: list[tuple[str, str]], *, active: str, id: str | None = None) -> None:
        """``tabs``: (id, label) pairs, in order."""
        super().__init__(id=id)
        self._tabs = tabs
        self._spans: list[tuple[int, int, str]] = []
        self.set_reactive(TabBar.active, active)

    def render(self) -> Text:
        line = Text(no_wrap=True, overflow="ellipsis")
        self._spans = []
        for tab, label in self._tabs:
            start = line.cell_len
            line.append(f" {label} ", style="bold reverse" if tab == self.active else "dim")
            self._spans.append((start, line.cell_len, tab))
            line.append(" ")
        return line

    def on_click(self, event: events.Click) -> None:
        for start, end, tab in self._spans:
            if start <= event.x - 1 < end:  # the bar's left padding is one cell
                self.post_message(self.Chosen(tab))
                return
