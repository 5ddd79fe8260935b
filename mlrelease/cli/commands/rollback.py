"""Roll a model back in an environment, and pin it there.

The default target is what was live before the current version, read from the git
history of the release file (versions that were themselves rolled back from, and
rejected versions, are skipped, so rolling back twice steps further back). With a canary
live, the default is to drop the canary. The environment is pinned so that promotions
(and automation) cannot undo the rollback until `mlrelease unpin`. Rollbacks skip the
approvals, metric and window gates: they return to a version that was live here.
"""

from __future__ import annotations

import argparse

from mlrelease.cli import actions
from mlrelease.release.plan import Request


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL")
    parser.add_argument("--env", required=True, metavar="ENV", help="the environment to roll back")
    parser.add_argument("--reason", metavar="TEXT", help="why (required to act; recorded in the audit trail and the pin)")
    parser.add_argument("--to", metavar="VERSION", help="the version to return to (default: what was live before, from history)")
    parser.add_argument("--force", action="store_true", help="override failing gates (a rejected target, or one never live here)")
    actions.add_flags(parser)


def run(args: argparse.Namespace) -> int:
    actions.require_reason(args, "rollback")
    return actions.run(args, Request("rollback", args.model, args.to, args.env, args.reason, None, args.force))
