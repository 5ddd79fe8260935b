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
    parser.add_argument("model", metavar="MODEL")
    parser.add_argument("--env", required=True, metavar="ENV", help="the environment to hold")
    parser.add_argument("--reason", metavar="TEXT", help="why (required to act; recorded in the audit trail)")
    actions.add_flags(parser)


def run(args: argparse.Namespace) -> int:
    actions.require_reason(args, "pin")
    return actions.run(args, Request("pin", args.model, None, args.env, args.reason))
