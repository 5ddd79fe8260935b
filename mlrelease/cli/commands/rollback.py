"""Roll a model back in an environment, and pin it there.

The default target is what was live before the current version, read from the git
history of the release file (versions that were themselves rolled back from, and
rejected versions, are skipped, so rolling back twice steps further back). With a canary
live, the default is to drop the canary. The environment is pinned so that promotions
(and automation) cannot undo the rollback until `mlrelease unpin`. Rollbacks skip the
approvals, metric and window gates: they return to a version that was live here.

`rollback --bundle ID` rolls every model of release bundle ID (its id is in `mlrelease
history`) back to what was live before the bundle, as one bundle of its own: all or
nothing, each pinned.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from mlrelease.cli import actions
from mlrelease.errors import UsageError
from mlrelease.release.plan import Plan, Request

if TYPE_CHECKING:
    from mlrelease.release.service import ReleaseService


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", nargs="?", help="the model to roll back (or --bundle ID)")
    parser.add_argument("--bundle", metavar="ID", help="roll back every model of this release bundle (its id from `mlrelease history`)")
    parser.add_argument("--env", metavar="ENV", help="the environment to roll back (required with MODEL)")
    parser.add_argument("--reason", metavar="TEXT", help="why (required to act; recorded in the audit trail and the pin)")
    parser.add_argument("--to", metavar="VERSION", help="the version to return to (default: what was live before, from history)")
    parser.add_argument("--force", action="store_true", help="override failing gates (a rejected target, or one never live here)")
    actions.add_flags(parser)


def run(args: argparse.Namespace) -> int:
    actions.require_reason(args, "rollback")
    if args.bundle is None:
        if args.model is None or args.env is None:
            raise UsageError("rollback needs MODEL and --env ENV, or --bundle ID")
        return actions.run(args, Request("rollback", args.model, args.to, args.env, args.reason, None, args.force))
    if args.model is not None or args.to is not None or args.force:
        raise UsageError("rollback --bundle ID takes no MODEL, --to or --force: each member returns to what was live before the bundle")

    def plan(service: ReleaseService, fetch: bool) -> Plan:
        return service.rollback_bundle(args.bundle, environment=args.env, reason=args.reason, fetch=fetch)

    return actions.run(args, plan)
