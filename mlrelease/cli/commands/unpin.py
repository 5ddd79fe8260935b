"""Lift the pin a rollback set on a model in an environment, so promotions are allowed again."""

from __future__ import annotations

import argparse

from mlrelease.cli import actions
from mlrelease.release.plan import Request


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL")
    parser.add_argument("--env", required=True, metavar="ENV", help="the environment to unpin")
    parser.add_argument("--reason", metavar="TEXT", help="why (required; recorded in the audit trail)")
    actions.add_flags(parser)


def run(args: argparse.Namespace) -> int:
    actions.require_reason(args, "unpin")
    return actions.run(args, Request("unpin", args.model, None, args.env, args.reason))
