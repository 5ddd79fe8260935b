"""The keys of the current context, on one line at the bottom: a light stand-in for ``Footer``.

Textual's ``Footer`` builds a widget per key and restyles them all whenever the focus
moves; on the model view that was a quarter of the time it takes to open. This draws the
same information (the screen's active bindings that are shown, as the keymap binds
them) as one line of text, redrawn when the bindings change. A click on a key runs it.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widget import Widget


class KeyBar(Widget):
    DEFAULT_CSS = """
    KeyBar {
        height: 1;
        dock: bottom;
        background: $panel;
        color: $text;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self._spans: list[tuple[int, int, DOMNode, Binding]] = []
        self._line = Text()

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._rebuild()

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if self.is_attached and screen is self.screen:
            self._rebuild()

    def _rebuild(self) -> None:
        line = Text(no_wrap=True, overflow="ellipsis")
        spans = []
        seen: set[str] = set()
        for node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            start = line.cell_len
            line.append(f" {self.app.get_key_display(binding)} ", style="bold reverse" if enabled else "dim reverse")
            line.append(f"{binding.description} ", style="" if enabled else "dim")
            spans.append((start, line.cell_len, node, binding))
        self._line, self._spans = line, spans
        self.refresh()

    def render(self) -> Text:
        return self._line

    async def on_click(self, event: events.Click) -> None:
        for start, end, node, binding in self._spans:
            if start <= event.x < end:
                await self.app.run_action(binding.action, node)
                return
