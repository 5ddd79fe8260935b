"""What the commands that write one file and commit it share: register, dataset register, model.

They write to the checked-out branch (so ``--ref`` is refused), push with ``--push`` to the
config's remote (default origin) and its branch, and report the commit the same way.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from mlrelease.cli.args import registry
from mlrelease.cli.output import console, plain, print_json
from mlrelease.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from mlrelease.gitstore.transaction import Committed

T = TypeVar("T")


@dataclass(frozen=True)
class WriteTarget:
    root: Path
    remote: str | None  # None: no --push
    branch: str | None  # the config's remote branch, when one is set


def add_push(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--push", action="store_true", help="push the commit to the config's remote (default origin)")


def write_target(args: argparse.Namespace, command: str) -> WriteTarget:
    if args.ref is not None:
        raise UsageError(f"{command} writes to the checked-out branch; --ref cannot be used with it")
    with registry(args) as reg:
        root, config = reg.root, reg.config.remote
    remote = (config.name if config else "origin") if args.push else None
    return WriteTarget(root, remote, config.branch if config else None)


def committed_json(c: Committed) -> dict[str, object]:
    return {"commit": c.commit, "branch": c.branch, "pushed": c.pushed, "note": c.note}


def print_committed(out: Console, c: Committed, target: WriteTarget) -> None:
    where = f" and pushed to {plain(target.remote)}" if c.pushed and target.remote else ""
    out.print(f"  committed {(c.commit or '')[:12]} on {plain(c.branch)}{where}")
    if c.note:
        out.print(f"  note: {plain(c.note)}")


def stdin_once(args: argparse.Namespace, *options: str) -> None:
    """Of the file options ``options`` (their dests), at most one may be ``-`` (stdin)."""
    reading = [o for o in options if getattr(args, o) == "-"]
    if len(reading) > 1:
        flags = " and ".join(f"--{o.replace('_', '-')}" for o in options)
        raise UsageError(f"only one of {flags} can read stdin (-)")


def read_input(value: str, reader: Callable[..., T]) -> T:
    """``reader(path)`` for a file option, or ``reader("<stdin>", data)`` when it is ``-``."""
    return reader("<stdin>", sys.stdin.buffer.read()) if value == "-" else reader(value)


def report(args: argparse.Namespace, target: WriteTarget, c: Committed, fields: Mapping[str, object], line: str) -> int:
    """What a write command did: ``fields`` and the commit as JSON, or ``line`` and the commit."""
    if args.json:
        print_json({**fields, **committed_json(c)})
        return 0
    out = console()
    out.print(line)
    if c.commit is not None:
        print_committed(out, c, target)
    return 0
