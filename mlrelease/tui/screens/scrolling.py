"""The list keys (``table`` scope) as scrolling, for dialogs that are one long text (help, an event)."""

from __future__ import annotations

from typing import ClassVar

from textual.containers import VerticalScroll
from textual.dom import DOMNode


class ScrollKeys(DOMNode):
    """Mixin for a screen: ``table.down`` scrolls ``SCROLLS`` down, and so on; remapped like every list."""

    SCROLLS: ClassVar[str] = ""  # selector of the VerticalScroll the keys move

    def _scrolled(self) -> VerticalScroll:
        return self.query_one(self.SCROLLS, VerticalScroll)

    def action_cursor_down(self) -> None:
        self._scrolled().scroll_down()

    def action_cursor_up(self) -> None:
        self._scrolled().scroll_up()

    def action_page_down(self) -> None:
        self._scrolled().scroll_page_down()

    def action_page_up(self) -> None:
        self._scrolled().scroll_page_up()

    def action_scroll_top(self) -> None:
        self._scrolled().scroll_home()

    def action_scroll_bottom(self) -> None:
        self._scrolled().scroll_end()
