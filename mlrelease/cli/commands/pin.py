"""Pin a model in an environment: a hold that makes promotions (and rollouts) wait until `mlrelease unpin`.

A rollback pins by itself; pin by hand to pause a rollout at its current step, or to keep
automation away over a busy period. The reason is recorded in the release state and the
audit trail. Exit codes: 4 something is Pending there, 6 push retries exhausted, 7 read-only.
"""

from __future__ import annotations

import argparse

from mlrelease.cli import actions
from mlrelease.release.plan import Request


def add_arguments(parser: argparse.ArgumentParser) -> None:
    hold_arguments(parser, "hold", reason="why (required to act; recorded in the audit trail)")


def run(args: argparse.Namespace) -> int:
    return run_hold(args, "pin")


def hold_arguments(parser: argparse.ArgumentParser, verb: str, *, reason: str) -> None:
    """The arguments pin and unpin share: a model, its environment and a required reason."""
    parser.add_argument("model", metavar="MODEL")
    parser.add_argument("--env", required=True, metavar="ENV", help=f"the environment to {verb}")
    parser.add_argument("--reason", metavar="TEXT", help=reason)
    actions.add_flags(parser)


def run_hold(args: argparse.Namespace, kind: str) -> int:
    """Set (``pin``) or lift (``unpin``) the hold on ``args.model`` in ``args.env``."""
    actions.require_reason(args, kind)
    return actions.run(args, Request(kind, args.model, None, args.env, args.reason))
