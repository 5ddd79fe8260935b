"""Promote MODEL@VERSION to an environment.

Checks the environment's gates (order, thresholds, no regression, approvals, rejected
versions, promotion windows, pin), then records the intent (Pending), calls the
environment's backend with the promotion id as idempotency key, and records the outcome:
Succeeded moves what is live, Failed leaves it. --canary PERCENT deploys the version
beside the live one; promoting that version again without --canary makes it fully live.
--dry-run (or `mlrelease plan promote ...`) shows all of it and changes nothing.

Several models as one change (a release bundle, docs/actions.md): name them all,
`promote a@1.2.0 b@3.1.0 --to production`, or a bundle of mlrelease.yaml,
`promote --bundle fraud-stack --to production` (each member at its latest version, unless
named as MODEL@VERSION too). One plan with every model's gates; if one fails nothing moves;
if a backend fails, the models that moved are rolled back and each one's fate is recorded.

Exit codes: 3 a gate refused, 4 stale state or a promotion still Pending,
5 backend failed (recorded), 6 push retries exhausted, 7 read-only.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from mlrelease.cli import actions
from mlrelease.cli.args import model_at_version
from mlrelease.errors import UsageError
from mlrelease.release.plan import Plan, Request

if TYPE_CHECKING:
    from mlrelease.release.service import ReleaseService


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target", metavar="MODEL@VERSION", nargs="*", help="what to promote, e.g. fraud-card@1.4.0; two or more: one bundle"
    )
    parser.add_argument("--bundle", metavar="NAME", help="promote the models of this bundle of mlrelease.yaml (bundles:) as one change")
    parser.add_argument("--to", required=True, metavar="ENV", dest="env", help="the environment to promote to")
    parser.add_argument("--reason", metavar="TEXT", help="why (required to act; recorded in the audit trail)")
    parser.add_argument("--canary", type=float, metavar="PERCENT", help="deploy beside the live version with this share of traffic")
    parser.add_argument(
        "--force", action="store_true", help="override failing gates; needs --reason, and the gates overridden are recorded"
    )
    actions.add_flags(parser)


def run(args: argparse.Namespace) -> int:
    targets = [model_at_version(t) for t in args.target]
    actions.require_reason(args, "promote")
    if args.bundle is None and len(targets) == 1:
        model, version = targets[0]
        return actions.run(args, Request("promote", model, version, args.env, args.reason, args.canary, args.force))
    if args.bundle is None and not targets:
        raise UsageError("promote needs MODEL@VERSION (two or more: one bundle), or --bundle NAME")
    if args.force or args.canary is not None:
        raise UsageError("a bundle takes neither --force nor --canary: force or canary one model on its own")

    def plan(service: ReleaseService, fetch: bool) -> Plan:
        return service.prepare_bundle(targets, args.env, name=args.bundle, reason=args.reason, fetch=fetch)

    return actions.run(args, plan)
