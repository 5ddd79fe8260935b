"""Approve MODEL@VERSION for an environment, as your git identity (or your signing key's).

Approvals from distinct identities count toward the environment's `approvals` gate:
an identity is a person of controls/identities.yaml or an e-mail address with its
`+tag` dropped, and in a `signed: true` environment the signer of the approval's commit.
The promoter's own approval never counts, nor one from outside `gates.approvers`.
Approving the same version twice is a no-op.

--break-glass (with --reason) approves an emergency instead: someone other than you may
then force, once, the gates --force alone may not override there (approvals, rejected,
or what `overridable: false` names). The promotion that uses it is recorded and flagged
by `list`, `history` and the TUI until a third person runs `mlrelease review`.

Exit codes: 3 you may not approve here (not in approvers, or your commit would not be
signed where signing is required), 7 read-only.
"""

from __future__ import annotations

import argparse

from mlrelease.cli import actions
from mlrelease.cli.args import model_at_version
from mlrelease.errors import UsageError
from mlrelease.release.plan import Request


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="MODEL@VERSION", help="the version to approve")
    parser.add_argument("--env", required=True, metavar="ENV", help="the environment the approval is for")
    parser.add_argument("--comment", metavar="TEXT", help="a remark recorded with the approval")
    parser.add_argument(
        "--break-glass",
        action="store_true",
        help="approve an emergency override: someone else may then force the gates --force alone may not (needs --reason)",
    )
    parser.add_argument("--reason", metavar="TEXT", help="why (required with --break-glass; recorded in the audit trail)")
    actions.add_flags(parser)


def run(args: argparse.Namespace) -> int:
    model, version = model_at_version(args.target)
    if args.reason is not None and not args.reason.strip():
        raise UsageError("--reason must not be empty")
    if args.break_glass and args.reason is None and not args.dry_run:
        raise UsageError("--break-glass needs --reason TEXT: the emergency is recorded in the audit trail")
    if args.reason is not None and args.comment is not None:
        raise UsageError("give --reason or --comment, not both (they are recorded in the same place)")
    text = args.reason if args.reason is not None else args.comment
    return actions.run(args, Request("approve", model, version, args.env, text, break_glass=args.break_glass))
