"""Review the break-glass promotions of a model in an environment, after the fact.

A promotion that used break-glass (`mlrelease approve --break-glass`, then
`promote --force`) is flagged by `list`, `history`, `verify` and the TUI until someone
reviews it. The reviewer must be neither its promoter nor its break-glass approver, and
may approve in that environment (`gates.approvers`); the review and its reason are
recorded in the release state and the audit trail.

Exit codes: 3 you may not review it (you promoted or approved it, or you are not an
approver there), 7 read-only.
"""

from __future__ import annotations

import argparse

from mlrelease.cli import actions
from mlrelease.release.plan import Request


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL")
    parser.add_argument("--env", required=True, metavar="ENV", help="the environment of the break-glass promotion")
    parser.add_argument("--reason", metavar="TEXT", help="what the review found (required; recorded in the audit trail)")
    actions.add_flags(parser)


def run(args: argparse.Namespace) -> int:
    actions.require_reason(args, "review")
    return actions.run(args, Request("review", args.model, None, args.env, args.reason))
