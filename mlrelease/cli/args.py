"""Argument helpers shared by commands: the same flag means the same thing everywhere."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mlrelease.registry.layout import find_root
from mlrelease.registry.names import split_ref
from mlrelease.textsafe import visible

if TYPE_CHECKING:
    from mlrelease.registry.loader import Registry
    from mlrelease.registry.timetravel import Moment


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON for scripts instead of a table")


def add_at(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--at",
        metavar="WHEN",
        help="read the registry as it was at a moment: an ISO date or time (UTC unless a zone is given), 'now' or 'N days ago'",
    )


def add_limit(parser: argparse.ArgumentParser, help: str, *, default: int | None = None) -> None:
    """``--limit N``, a whole number of at least 1: how many rows a command shows at most."""
    parser.add_argument("--limit", type=positive_int, default=default, metavar="N", help=help)


def registry_root(args: argparse.Namespace) -> Path:
    """The registry's folder named by --repo (or found upward from the current folder)."""
    return find_root(args.repo if args.repo is not None else Path.cwd())


def resolve_at(args: argparse.Namespace) -> Moment | None:
    """Turn ``--at WHEN`` into ``--ref COMMIT`` (the commit that answers for it), once; say so on stderr."""
    when = getattr(args, "at", None)
    if when is None:
        return None
    from mlrelease.registry.timetravel import moment, parse_moment

    asked = parse_moment(when)
    root = registry_root(args)
    found = moment(root, asked, args.ref or "HEAD")
    args.ref, args.at = found.commit, None
    print(f"note: {visible(found.describe(), single_line=True)}", file=sys.stderr)
    return found


def registry(args: argparse.Namespace) -> Registry:
    """The registry named by --repo/--ref/--at (or found upward from the current folder)."""
    from mlrelease.registry.loader import open_registry  # the parser's import is paid only by commands that read

    resolve_at(args)
    return open_registry(args.repo, args.ref)


def model_at_version(text: str) -> tuple[str, str]:
    return split_ref(text, "MODEL@VERSION")


def positive_int(text: str) -> int:
    """An argparse type for counts such as --limit."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return int(text)
