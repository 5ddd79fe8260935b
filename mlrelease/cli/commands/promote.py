"""Promote MODEL@VERSION to an environment.

Checks the environment's gates (order, thresholds, no regression, approvals, rejected
versions, promotion windows, pin), then records the intent (Pending), calls the
environment's backend with the promotion id as idempotency key, and records the outcome:
Succeeded moves what is live, Failed leaves it. --canary PERCENT deploys the version
beside the live one; promoting that version again without --canary makes it fully live.
--dry-run (or `mlrelease plan promote ...`) shows all of it and changes nothing.

Exit codes: 3 a gate refused, 4 stale state or a promotion still Pending,
5 backend failed (recorded), 6 push retries exhausted, 7 read-only.
"""

from __future__ import annotations

import argparse

from mlrelease.cli import actions
from mlrelease.cli.args import model_at_version
from mlrelease.release.plan import Request


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="MODEL@VERSION", help="what to promote, e.g. fraud-card@1.4.0")
    parser.add_argument("--to", required=True, metavar="ENV", dest="env", help="the environment to promote to")
    parser.add_argument("--reason", metavar="TEXT", help="why (required to act; recorded in the audit trail)")
    parser.add_argument("--canary", type=float, metavar="PERCENT", help="deploy beside the live version with this share of traffic")
    parser.add_argument(
        "--force", action="store_true", help="override failing gates; needs --reason, and the gates overridden are recorded"
    )
    actions.add_flags(parser)


def run(args: argparse.Namespace) -> int:
    model, version = model_at_version(args.target)
    actions.require_reason(args, "promote")
    return actions.run(args, Request("promote", model, version, args.env, args.reason, args.canary, args.force))
