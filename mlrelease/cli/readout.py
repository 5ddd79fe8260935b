"""Pieces the read commands (list, show, diff, lineage, history) print the same way.

JSON: dataclasses become objects with their fields in declaration order, timestamps
ISO 8601 UTC strings, tuples lists; the ``lines`` bookkeeping of parsed files is lint's
and left out. Shapes are documented in docs/commands.md.

Tables: a version or a name cut short with "…" would mislead, so every column folds
long values onto more lines instead of truncating them, and output that goes to a pipe
or a file is printed at full width.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from rich import box
from rich.console import RenderableType
from rich.measure import Measurement
from rich.table import Table

from mlrelease.cli.output import console, plain, table
from mlrelease.errors import ExitCode, Problem
from mlrelease.registry.fields import format_timestamp


def to_data(value: Any) -> Any:
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
    return value


def folded(columns: Iterable[str], rows: Iterable[Iterable[object]], *, title: str | None = None) -> Table:
    """:func:`mlrelease.cli.output.table` with light rules and no value ever cut short."""
    t = table(columns, rows, title=title)
    t.box = box.SIMPLE_HEAD
    t.show_edge = False
    for column in t.columns:
        column.overflow = "fold"
    return t


def show(*renderables: RenderableType) -> None:
    """Print to the terminal's width; into a pipe or file, at full width so nothing wraps.

    Scripts that grep a table (and tests) then see each row on one line, whatever the
    COLUMNS of the machine; people at a terminal get the table fitted to their screen.
    """
    con = console()
    if con.is_terminal:
        for r in renderables:
            con.print(r)
        return
    options = con.options.update_width(10_000)
    natural = max([80, *(Measurement.get(con, options, r).maximum for r in renderables)])
    saved = con.width
    con.width = natural
    try:
        for r in renderables:
            con.print(r)
    finally:
        con.width = saved


def report_problems(problems: Iterable[Problem]) -> int:
    """Problems go to stderr after the output they did not stop; any makes the exit code 1."""
    found = False
    for p in problems:
        found = True
        print(f"mlrelease: problem: {plain(str(p))}", file=sys.stderr)
    return int(ExitCode.PROBLEM) if found else int(ExitCode.OK)
