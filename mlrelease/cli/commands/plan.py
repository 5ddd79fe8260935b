"""Show what an action would do, and change nothing: the same as adding --dry-run.

    mlrelease plan promote fraud-card@1.4.0 --to production
    mlrelease plan fraud-card@1.4.0 --to production        (short for plan promote)
    mlrelease plan rollback fraud-card --env production
    mlrelease plan reconcile

Prints each gate with pass/fail and its numbers, the backend call, and the commits that
would be written. The exit code is what the action would exit with before acting:
0 it would go ahead (or nothing to do), 3 a gate refuses, 4 something is Pending there,
7 read-only.
"""

from __future__ import annotations

import argparse

ACTIONS = ("promote", "rollback", "pin", "unpin", "approve", "reject", "retrain", "reconcile")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("words", nargs=argparse.REMAINDER, metavar="ACTION ARGS", help=f"one of {', '.join(ACTIONS)}, then its arguments")


def run(args: argparse.Namespace) -> int:
    from mlrelease.cli import main
    from mlrelease.errors import UsageError

    words = list(args.words)
    if not words:
        raise UsageError(f"plan needs an action: {', '.join(ACTIONS)} (e.g. mlrelease plan promote MODEL@VERSION --to ENV)")
    if words[0] not in ACTIONS:
        if "@" not in words[0]:
            raise UsageError(f"plan: unknown action {words[0]!r}; one of {', '.join(ACTIONS)}")
        words.insert(0, "promote")
    prefix = ["--repo", str(args.repo)] if args.repo is not None else []
    if args.debug:
        prefix.append("--debug")
    return main([*prefix, *words, "--dry-run"])
