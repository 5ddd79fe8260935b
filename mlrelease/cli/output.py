"""Printing for the CLI: literal Rich tables for people, JSON for scripts.

Every string that came from a registry goes through :func:`cell` or :func:`plain`, which
turn control and bidi characters into visible escapes and never parse markup.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from mlrelease.registry.fields import format_timestamp
from mlrelease.textsafe import visible

_console: Console | None = None


def console() -> Console:
    global _console
    if _console is None:
        _console = Console(
            markup=False,
            highlight=False,
            emoji=False,
            no_color="NO_COLOR" in os.environ or None,
            soft_wrap=False,
        )
    return _console


def plain(value: object) -> str:
    """Untrusted text as one safe string (for plain lines and error messages)."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return format_timestamp(value)
    return visible(value)


def cell(value: object, style: str = "") -> Text:
    return Text(plain(value), style=style)


def table(columns: Iterable[str], rows: Iterable[Iterable[object]], *, title: str | None = None) -> Table:
    t = Table(title=plain(title) if title else None, title_justify="left", header_style="bold", expand=False)
    for c in columns:
        t.add_column(c)
    for row in rows:
        t.add_row(*(v if isinstance(v, Text) else cell(v) for v in row))
    return t


def print_json(data: Any) -> None:
    """JSON on stdout; ASCII-escaped so no byte of it can act on a terminal."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=True, default=_json_default) + "\n")


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def report_error(message: str, exit_code: int, *, json_mode: bool = False) -> None:
    if json_mode:
        print_json({"error": message, "exit_code": exit_code})
    print(f"mlrelease: error: {visible(message, single_line=True)}", file=sys.stderr)
