"""Finish what a crash (or an unreachable remote) left Pending.

For each Pending promotion, rollback or retraining request: ask its backend for the
status of that id and record the answer; when the backend cannot tell, call it again
with the same id (backends are idempotent per id) and record that answer. Nothing is
ever recorded as live without a backend saying so. Exit 0 when everything ended
Succeeded, 5 when something Failed or is still Pending.
"""

from __future__ import annotations

import argparse

from mlrelease.cli import actions
from mlrelease.release.plan import Request


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", metavar="ENV", help="only this environment")
    parser.add_argument("--model", metavar="MODEL", help="only this model")
    actions.add_flags(parser)


def run(args: argparse.Namespace) -> int:
    return actions.run(args, Request("reconcile", model=args.model, environment=args.env))
