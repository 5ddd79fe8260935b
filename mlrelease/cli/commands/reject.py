"""Reject MODEL@VERSION: it can never be promoted again without --force.

Recorded in models/<model>/rejections.yaml. Rejecting does not undeploy a version that
is live somewhere; the plan says where it is live, so you can roll back.
"""

from __future__ import annotations

import argparse

from mlrelease.cli import actions
from mlrelease.cli.args import model_at_version
from mlrelease.release.plan import Request


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="MODEL@VERSION", help="the version to reject")
    parser.add_argument("--reason", metavar="TEXT", help="why (required; recorded in the audit trail)")
    actions.add_flags(parser)


def run(args: argparse.Namespace) -> int:
    model, version = model_at_version(args.target)
    actions.require_reason(args, "reject")
    return actions.run(args, Request("reject", model, version, None, args.reason))
