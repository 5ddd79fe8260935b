"""Printing for the CLI: literal Rich tables for people, JSON for scripts.

Every string that came from a registry goes through :func:`cell` or :func:`plain`, which
turn control and bidi characters — and line feeds, for one-line fields — into visible
escapes and never parse markup; descriptions go through :func:`block`.

JSON: dataclasses become objects with their fields in declaration order, timestamps
ISO 8601 UTC strings, tuples lists; the ``lines`` bookkeeping of parsed files is lint's
and left out. Shapes are documented in docs/commands.md.

Tables: a version or a name cut short with "…" would mislead, so :func:`folded` tables
fold long values onto more lines instead of truncating them, and output that goes to a
pipe or a file is never cut or wrapped at all: the console itself is as wide as the
longest line when it does not write to a terminal (whatever ``COLUMNS`` says), so every
command's tables and lines reach a script whole.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import sys
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mlrelease.errors import ExitCode, Problem
from mlrelease.jsontext import Fragment, json_text
from mlrelease.registry.fields import format_timestamp
from mlrelease.textsafe import visible

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table
    from rich.text import Text

# Rich is imported by the functions that draw, not here: a --json run never pays for it.
_console: Console | None = None
PIPE_WIDTH = 100_000  # a pipe or a file has no width: tables (never expanded) take their natural one


def console() -> Console:
    global _console
    if _console is None:
        from rich.console import Console

        _console = Console(
            markup=False,
            highlight=False,
            emoji=False,
            no_color="NO_COLOR" in os.environ or None,
            soft_wrap=False,
        )
        if not _console.is_terminal:
            _console.width = PIPE_WIDTH
    return _console


def plain(value: object) -> str:
    """Untrusted text as one safe line (names, owners, URIs, reasons, messages).

    Line feeds and tabs are escaped too, as in the TUI and ``history``: a value that could
    start a new line could fake one (``owner: team\\nmlrelease: ok``). Text meant to span
    lines (descriptions) goes through :func:`block`.
    """
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return format_timestamp(value)
    return visible(value, single_line=True)


def block(value: object) -> str:
    """Untrusted text that may span lines (descriptions): newlines and tabs kept, the rest escaped."""
    return "—" if value is None else visible(value)


def cell(value: object, style: str = "") -> Text:
    from rich.text import Text

    return Text(plain(value), style=style)


def table(columns: Iterable[str], rows: Iterable[Iterable[object]], *, title: str | None = None) -> Table:
    from rich.table import Table
    from rich.text import Text

    t = Table(title=plain(title) if title else None, title_justify="left", header_style="bold", expand=False)
    for c in columns:
        t.add_column(c)
    for row in rows:
        t.add_row(*(v if isinstance(v, Text) else cell(v) for v in row))
    return t


def print_json(data: Any) -> None:
    """JSON on stdout; ASCII-escaped so no byte of it can act on a terminal, and strictly JSON.

    NaN and infinities are not JSON (``json.dumps`` would write a bare ``NaN``): any that a
    computation yields is written as ``null``.
    """
    sys.stdout.write(json_text(data) + "\n")


def report_error(message: str, exit_code: int, *, json_mode: bool = False) -> None:
    if json_mode:
        print_json({"error": message, "exit_code": exit_code})
    print(f"mlrelease: error: {visible(message, single_line=True)}", file=sys.stderr)


def to_data(value: Any) -> Any:
    if isinstance(value, Fragment):
        return to_data(value.make())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_data(getattr(value, f.name)) for f in dataclasses.fields(value) if f.name != "lines"}
    if isinstance(value, dict):
        return {str(k): to_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_data(v) for v in value]
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, re.Pattern):
        return value.pattern
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def folded(columns: Iterable[str], rows: Iterable[Iterable[object]], *, title: str | None = None) -> Table:
    """:func:`mlrelease.cli.output.table` with light rules and no value ever cut short."""
    from rich import box

    t = table(columns, rows, title=title)
    t.box = box.SIMPLE_HEAD
    t.show_edge = False
    for column in t.columns:
        column.overflow = "fold"
    return t


def show(*renderables: RenderableType) -> None:
    """Print to the terminal's width; into a pipe or file, whole (see :func:`console`).

    Scripts that grep a table (and tests) then see each row on one line, whatever the
    COLUMNS of the machine; people at a terminal get the table fitted to their screen.
    """
    con = console()
    for r in renderables:
        con.print(r)


def lines(items: Iterable[object]) -> None:
    """Each item on stdout as one line, control characters and line feeds made visible (lint, verify)."""
    out = sys.stdout
    for item in items:
        out.write(visible(str(item), single_line=True) + "\n")


def plural(n: int, word: str) -> str:
    """``1 file``, ``2 files``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def report_problems(problems: Iterable[Problem]) -> int:
    """Problems go to stderr after the output they did not stop; any makes the exit code 1."""
    found = False
    for p in problems:
        found = True
        print(f"mlrelease: problem: {plain(str(p))}", file=sys.stderr)
    return int(ExitCode.PROBLEM) if found else int(ExitCode.OK)
