"""Untrusted text for the screen: visible escapes, then literal ``Text`` (never markup).

Textual parses markup in plain ``str`` given to ``Static``, ``DataTable`` cells and
headers, ``Tree`` labels and ``notify``: ``[/oops]`` crashes the app and
``[@click=app.quit]`` becomes an action. Every value that came from a registry, git or a
backend is shown through :func:`lit` (or :func:`plain` where a ``str`` is required and
markup is off), after :func:`mlrelease.textsafe.visible` has made control, bidi and
format characters visible.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console
from rich.text import Text

from mlrelease.textsafe import visible


def plain(value: object, *, empty: str = "—") -> str:
    """One safe line of text for ``value`` (timestamps as ``YYYY-MM-DD HH:MM`` UTC)."""
    if value is None or value == "":
        return empty
    if isinstance(value, datetime):
        return when(value)
    return visible(value, single_line=True)


def lit(value: object, style: str = "", *, empty: str = "—") -> Text:
    """``value`` as literal Rich text: safe for any widget that would parse a ``str``."""
    return Text(plain(value, empty=empty), style=style, no_wrap=False)


def block(value: object, style: str = "") -> Text:
    """Multi-line untrusted text (descriptions): newlines and tabs kept, the rest escaped."""
    return Text(visible(value) if value is not None else "—", style=style)


def when(value: datetime) -> str:
    """A fixed-format UTC time: never relative to now, so screens are reproducible."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def join(*parts: Text | str, sep: str = " ") -> Text:
    """Concatenate literal pieces; ``str`` pieces are ours (labels) and are not parsed either."""
    out = Text()
    for i, part in enumerate(parts):
        if i:
            out.append(sep)
        out.append(part if isinstance(part, Text) else Text(part))
    return out


def at_most(console: Console, text: Text, width: int, *, lines: int) -> Text:
    """``text`` wrapped at ``width`` in at most ``lines`` lines, the last ending in "…" when some was left out.

    For a widget with a ``max-height``, which cuts what does not fit without a word: a cut
    reason or refusal must never read as the whole one.
    """
    wrapped = text.wrap(console, width)
    if len(wrapped) <= lines:
        return text
    last = wrapped[lines - 1]
    last.rstrip()
    last.truncate(width - 1)
    last.append("…")
    return Text("\n").join([*list(wrapped)[: lines - 1], last])
