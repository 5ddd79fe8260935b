"""Review, after the fact, a model's break-glass promotions, or a finding of `mlrelease verify`.

  mlrelease review MODEL --env ENV --reason TEXT
  mlrelease review --finding COMMIT --reason TEXT

A promotion that used break-glass (`mlrelease approve --break-glass`, then
`promote --force`) is flagged by `list`, `history`, `verify` and the TUI until someone
reviews it. The reviewer must be neither its promoter nor its break-glass approver, and
may approve in that environment (`gates.approvers`); the review and its reason are
recorded in the release state and the audit trail.

--finding accepts, on the record, the findings `mlrelease verify` reports for COMMIT
(a hand edit, say): nothing is undone (git history is never rewritten), but verify then
lists them as accepted, with who accepted them and why, and exits 0 when nothing else
is open. The accepter must not be the commit's author (or signer), must be allowed to
approve in the environment of the file the finding is about (`gates.approvers`), and
signs where any environment is `signed: true`. The acceptance is a commit adding an
entry to audit/accepted.yaml, and verify checks it like every other change
(docs/controls.md, "Accepting a finding"). Accepting again is a no-op.

Exit codes: 3 you may not review or accept it (you promoted, approved or made it, you are
not an approver there, your commit would not be signed where required, or COMMIT has no
open finding), 1 no such commit, 2 bad usage, 7 read-only.
"""

from __future__ import annotations

import argparse

from mlrelease.cli import actions
from mlrelease.errors import UsageError
from mlrelease.release.plan import Request


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", nargs="?", help="the model whose break-glass promotions to review")
    parser.add_argument("--env", metavar="ENV", help="the environment of the break-glass promotion (with MODEL)")
    parser.add_argument(
        "--finding", metavar="COMMIT", help="accept the findings `mlrelease verify` reports for COMMIT instead (no MODEL or --env)"
    )
    parser.add_argument("--reason", metavar="TEXT", help="what the review found (required; recorded in the audit trail)")
    actions.add_flags(parser)


def run(args: argparse.Namespace) -> int:
    if args.finding is not None:
        if args.model is not None or args.env is not None:
            raise UsageError("review --finding COMMIT takes no MODEL or --env: the finding's commit says what it is about")
        if not args.finding.strip():
            raise UsageError("--finding needs a commit")
        actions.require_reason(args, "review")
        from mlrelease.audit.accepting import PLANNER  # verify's report is read only for this form

        request = Request("review", reason=args.reason, finding=args.finding.strip())
        return actions.run(args, lambda service, fetch: service.prepare(request, fetch=fetch, planner=PLANNER))
    if args.model is None or args.env is None:
        raise UsageError("review needs MODEL --env ENV (a break-glass promotion) or --finding COMMIT (a finding of verify)")
    actions.require_reason(args, "review")
    return actions.run(args, Request("review", args.model, None, args.env, args.reason))
