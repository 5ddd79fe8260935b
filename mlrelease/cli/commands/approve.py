"""Approve MODEL@VERSION for an environment, as your git identity.

Approvals from distinct identities (by e-mail) count toward the environment's
`approvals` gate. Approving the same version twice is a no-op.
"""

from __future__ import annotations

import argparse

from mlrelease.cli import actions
from mlrelease.cli.args import model_at_version
from mlrelease.release.plan import Request


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="MODEL@VERSION", help="the version to approve")
    parser.add_argument("--env", required=True, metavar="ENV", help="the environment the approval is for")
    parser.add_argument("--comment", metavar="TEXT", help="a remark recorded with the approval")
    actions.add_flags(parser)


def run(args: argparse.Namespace) -> int:
    model, version = model_at_version(args.target)
    return actions.run(args, Request("approve", model, version, args.env, args.comment))
