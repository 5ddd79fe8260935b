"""A text field that never holds control, bidi or format characters.

Keys cannot type them, but a paste can: an escape sequence in a field would reach the
terminal when the field is drawn, and a reason is recorded in git. Each such character
becomes its visible escape (``\\x1b``) as it arrives, so what is shown is what is stored.
"""

from __future__ import annotations

from textual.widgets import Input

from mlrelease.textsafe import visible


class SafeInput(Input):
    def validate_value(self, value: str) -> str:
        return visible(value, single_line=True)
