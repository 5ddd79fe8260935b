"""What the hostile-input tests (tests/test_hostile_*.py) share: a command run in-process
that turns an escaping exception into a failure, and a record of every path Python opens
or lists meanwhile (an audit hook sees every ``open``, ``os.scandir`` and ``os.listdir``).
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from mlrelease.cli import main

# Every read command, on the fraud-card registry of tests/builders.py, and the two places
# each reads from: the work tree, and the committed registry at a ref.
READS: list[list[str]] = [
    ["list"],
    ["show", "fraud-card"],
    ["show", "fraud-card@1.2.0"],
    ["diff", "fraud-card@1.1.0", "fraud-card@1.2.0"],
    ["lineage", "fraud-card@1.2.0"],
    ["history"],
    ["check"],
    ["telemetry", "fraud-card"],
    ["lint"],
]
FORMS: list[list[str]] = [[], ["--ref", "HEAD"]]


def run(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> tuple[int | str, str, str]:
    """A command in-process: its exit code, or the traceback (the defect under test) as text."""
    capsys.readouterr()
    try:
        code: int | str = main(["--repo", str(root), *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    except BaseException:
        code = "traceback: " + traceback.format_exc(limit=-4)
    out, err = capsys.readouterr()
    return code, out, err


_OPENED: list[str] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _OPENED is not None and event in ("open", "os.scandir", "os.listdir") and args and isinstance(args[0], str | bytes | os.PathLike):
        _OPENED.append(os.path.realpath(os.fsdecode(args[0])))


sys.addaudithook(_audit)  # once per process: audit hooks cannot be removed


@contextmanager
def opened() -> Iterator[list[str]]:
    """Every path (resolved) this process opens or lists meanwhile."""
    global _OPENED
    _OPENED = []
    try:
        yield _OPENED
    finally:
        _OPENED = None
