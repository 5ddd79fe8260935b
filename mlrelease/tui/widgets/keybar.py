"""The keys of the current context, on one line at the bottom: a light stand-in for ``Footer``.

Textual's ``Footer`` builds a widget per key and restyles them all whenever the focus
moves; on the model view that was a quarter of the time it takes to open. This draws the
same information (the screen's active bindings that are shown, as the keymap binds
them) as one line of text, redrawn when the bindings change or the width does. When
the line does not fit, keys are dropped from the end but Help (where every key is
listed) and Quit always stay; in read-only mode the action keys are not offered at all
(they would only be refused). A click on a key runs it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widget import Widget

from mlrelease.tui import keys

KEPT = ("app.help", "app.quit")  # always on the bar, at its end


@dataclass(frozen=True)
class Entry:
    label: str  # " key "
    description: str
    enabled: bool
    node: DOMNode
    binding: Binding

    @property
    def width(self) -> int:
        return len(self.label) + len(self.description) + 1


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
        self._entries: list[Entry] = []
        self._spans: list[tuple[int, int, Entry]] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._collect()

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if self.is_attached and screen is self.screen:
            self._collect()

    def _collect(self) -> None:
        readonly = bool(getattr(self.app, "readonly", False))
        entries: list[Entry] = []
        seen: set[str] = set()
        for node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue
            key = keys.BY_ID.get(binding.id or "")
            if readonly and key is not None and key.mutating:
                continue
            seen.add(binding.action)
            entries.append(Entry(f" {self.app.get_key_display(binding)} ", binding.description, enabled, node, binding))
        self._entries = entries
        self.refresh()

    def layout(self, width: int) -> list[Entry]:
        """The entries that fit in ``width`` cells, in order, Help and Quit kept at the end."""
        kept = [e for e in self._entries if e.binding.id in KEPT]
        rest = [e for e in self._entries if e.binding.id not in KEPT]
        room = width - sum(e.width for e in kept)
        shown: list[Entry] = []
        for entry in rest:
            if entry.width > room:
                break
            shown.append(entry)
            room -= entry.width
        return shown + kept

    def render(self) -> Text:
        line = Text(no_wrap=True, overflow="ellipsis")
        spans = []
        for entry in self.layout(self.size.width or 80):
            start = line.cell_len
            line.append(entry.label, style="bold reverse" if entry.enabled else "dim reverse")
            line.append(f"{entry.description} ", style="" if entry.enabled else "dim")
            spans.append((start, line.cell_len, entry))
        self._spans = spans
        return line

    async def on_click(self, event: events.Click) -> None:
        for start, end, entry in self._spans:
            if start <= event.x < end:
                await self.app.run_action(entry.binding.action, entry.node)
                return
