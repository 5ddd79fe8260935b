"""Argument helpers shared by commands: the same flag means the same thing everywhere."""

from __future__ import annotations

import argparse

from mlrelease.registry.loader import Registry, open_registry
from mlrelease.registry.names import split_ref


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON for scripts instead of a table")


def registry(args: argparse.Namespace) -> Registry:
    """The registry named by --repo/--ref (or found upward from the current folder)."""
    return open_registry(args.repo, args.ref)


def model_at_version(text: str) -> tuple[str, str]:
    return split_ref(text, "MODEL@VERSION")


def positive_int(text: str) -> int:
    """An argparse type for counts such as --limit."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return int(text)
