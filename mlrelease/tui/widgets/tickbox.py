"""A checkbox whose tick is a glyph, not a colour: ``X`` ticked, a blank unticked.

Textual's ``Checkbox`` draws the same ``X`` either way and tells them apart by colour
alone, so without colour (``NO_COLOR``) an override looked the same ticked and unticked.
"""

from __future__ import annotations

from textual.widgets import Checkbox


class TickBox(Checkbox):
    @property  # type: ignore[override]  # the class attribute Textual's ToggleButton reads, made live
    def BUTTON_INNER(self) -> str:
        return "X" if self.value else " "
