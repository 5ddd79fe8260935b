"""Audit the release history: every change an mlrelease action, signed and approved as required.

  mlrelease verify [--since REV] [--no-cache] [--json]

Replays every commit that changed a release state, approvals, rejections or retraining
requests (all of them, or only those REV does not reach) and checks, at each commit's
parent: the change is exactly what the action in its trailers writes (intent then
outcome per promotion id), the actor is its author, it is signed by an allowed key
where the environment is `signed: true` (the signer is the identity four eyes counts),
a promotion's gates held or were forced, and forced gates that are not overridable
used a break-glass approval by another allowed identity. Every finding is printed with
its commit, author and what is wrong; findings a second person accepted on the record
(`mlrelease review --finding COMMIT`) follow, each with who accepted it and why, then
notices (changes of the controls, imported history, break-glass promotions not reviewed
yet). Accepted findings do not fail verify; their acceptance commits are verified like
every other change. What each check guarantees, and what it does not: docs/controls.md.

The report of the whole history is kept under .git/mlrelease/verify/ per tip commit;
the next verify after new commits checks only those, from where the last one stopped
(the same findings as checking everything again, which --no-cache does). A fresh clone,
as in CI, has no such report and checks every commit.

Run it in CI on every push and pull request (the workflows `mlrelease init` lays down
do): a hand edit is caught before it merges.

Exit codes: 0 every change verified or accepted; 11 at least one open finding; 1 no git repository or
an unknown --since / --ref; 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys

from mlrelease.cli.args import add_json, registry
from mlrelease.cli.output import lines, plural, print_json
from mlrelease.errors import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", metavar="REV", help="only the commits REV does not reach (e.g. the pull request's base)")
    parser.add_argument(
        "--no-cache", action="store_true", help="verify every commit again, not from the report kept under .git/mlrelease/verify/"
    )
    add_json(parser)


def run(args: argparse.Namespace) -> int:
    from mlrelease.audit import marks
    from mlrelease.audit.verify import verify

    with registry(args) as reg:
        # The whole history's report is kept per tip commit and resumed after new commits
        # (exactly a full verify's: tests/test_verify_incremental.py); --since is read anew.
        report = verify(reg, args.since) if args.since else marks.report(reg, fresh=args.no_cache)
    if args.json:
        print_json(report.to_json())
    else:
        lines([*report.findings, *report.void, *(f"accepted: {a}" for a in report.accepted), *(f"notice: {n}" for n in report.notices)])
        scope = f" since {args.since}" if args.since else ""
        found = "all verified" if report.ok else plural(len(report.findings) + len(report.void), "finding")
        if report.accepted:
            found += f" ({plural(len(report.accepted), 'accepted finding')})"
        print(f"{report.checked} changes in {report.commits} commits{scope} checked: {found}", file=sys.stderr)
    return int(ExitCode.OK if report.ok else ExitCode.UNVERIFIED)
