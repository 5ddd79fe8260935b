"""What the commands that write one file and commit it share: register, dataset register, model.

They write to the checked-out branch (so ``--ref`` is refused), push with ``--push`` to the
config's remote (default origin) and its branch, and report the commit the same way.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlrelease.cli.args import registry
from mlrelease.cli.output import plain
from mlrelease.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from mlrelease.gitstore.transaction import Committed


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
