"""What every action command shares: its flags, confirmation, and printing plans and results.

The commands themselves only turn arguments into a :class:`Request`; this module runs
the same flow for all of them — plan, show, confirm, execute — so ``--dry-run``,
``--yes``, ``--json``, ``--push`` and ``--readonly`` mean the same thing everywhere and
the exit code is the service's.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mlrelease.cli.args import add_json
from mlrelease.cli.output import console, plain, print_json, report_error, table
from mlrelease.errors import ExitCode, MlreleaseError, UsageError
from mlrelease.registry.layout import find_root
from mlrelease.release.plan import Plan, Progress, Request, Result
from mlrelease.textsafe import visible

if TYPE_CHECKING:
    from mlrelease.release.service import ReleaseService


def add_flags(parser: argparse.ArgumentParser) -> None:
    add_json(parser)
    parser.add_argument("--yes", "-y", action="store_true", help="act without asking; required when stdin is not a terminal")
    parser.add_argument("--dry-run", action="store_true", help="show the gates, the backend call and the commits; change nothing")
    push = parser.add_mutually_exclusive_group()
    push.add_argument(
        "--push",
        action="store_true",
        default=None,
        dest="push",
        help="push to the remote in mlrelease.yaml (remote:) or origin; the default when mlrelease.yaml has remote:",
    )
    push.add_argument("--no-push", action="store_false", dest="push", help="commit locally only, even when mlrelease.yaml has remote:")
    parser.add_argument(
        "--readonly", action="store_true", default=argparse.SUPPRESS, help="refuse to change anything (exit 7); --dry-run still works"
    )


def require_reason(args: argparse.Namespace, kind: str) -> None:
    """The same rule as the TUI (release.confirm): a reason where the audit trail needs one.

    A dry run may leave it out, unless it forces gates; a given reason is never empty.
    """
    from mlrelease.release.confirm import needs_reason

    reason = getattr(args, "reason", None)
    if reason is not None and not reason.strip():
        raise UsageError("--reason must not be empty")
    acting = not getattr(args, "dry_run", False) or getattr(args, "force", False)
    if reason is None and needs_reason(kind) and acting:
        raise UsageError("--reason TEXT is required (it is recorded in the audit trail)")


def make_service(args: argparse.Namespace) -> ReleaseService:
    from mlrelease.release.service import ReleaseService  # imported when acting, not for --help

    if getattr(args, "ref", None):
        raise UsageError("--ref reads the registry at a commit; actions always plan and write at the branch tip")
    root = find_root(args.repo if args.repo is not None else Path.cwd())
    return ReleaseService(root, push=args.push, readonly=getattr(args, "readonly", False))


def run(args: argparse.Namespace, request: Request | Callable[[ReleaseService, bool], Plan]) -> int:
    """The loop every action command shares, owned by the service: prepare, show, confirm, execute.

    ``request``: what to do, or how to plan it (``(service, fetch) -> Plan``: a release bundle).
    """
    if not args.dry_run and not args.yes and not sys.stdin.isatty():
        raise UsageError("stdin is not a terminal, so there is no one to confirm: pass --yes to act (or --dry-run to look)")
    service = make_service(args)
    fetch = not args.dry_run
    plan = service.prepare(request, fetch=fetch) if isinstance(request, Request) else request(service, fetch)
    if args.dry_run:
        code = int(plan.exit_code)
        if args.json:
            print_json({"dry_run": True, "plan": plan.to_json(), "exit_code": code})
        else:
            show_plan(plan, verbose=True)
        return code
    if not args.json:
        show_plan(plan, verbose=False)
    try:
        if plan.runnable and not args.yes and not confirm(plan):
            print("cancelled; nothing was changed", file=sys.stderr)
            return int(ExitCode.PROBLEM)
        result = service.execute(plan, progress=None if args.json else progress)
    except MlreleaseError as exc:
        if not args.json:
            raise
        if getattr(args, "debug", False):
            traceback.print_exc(file=sys.stderr)
        print_json({"plan": plan.to_json(), "error": str(exc), "exit_code": int(exc.exit_code)})
        report_error(str(exc), int(exc.exit_code))
        return int(exc.exit_code)
    if args.json:
        print_json({"plan": plan.to_json(), "result": result.to_json(), "exit_code": int(result.exit_code)})
    else:
        show_result(result)
    if result.exit_code != ExitCode.OK and args.json:
        report_error(result.message, int(result.exit_code))
    return int(result.exit_code)


def confirm(plan: Plan) -> bool:
    """Ask as :attr:`Plan.confirmation` says: the model name typed out, or a plain yes."""
    name = plan.confirmation.typed_name
    if name is not None:
        why = f"This overrides {len(plan.forced)} failing gate(s)" if plan.forced else f"This changes {plan.request.environment}"
        what = "the bundle's name" if plan.bundle_name else "the environment's name" if plan.members else "the model name"
        answer = input(f"{why}. Type {what} ({name}) to go ahead: ")
        return answer.strip() == name
    answer = input(f"{plan.title} — go ahead? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def progress(p: Progress) -> None:
    print(f"… {visible(p.message, single_line=True)}", file=sys.stderr)


# ---- printing ------------------------------------------------------------------------------


def show_plan(plan: Plan, *, verbose: bool) -> None:
    from rich.text import Text

    out = console()
    out.print(Text(plain(plan.title), style="bold"))
    facts = [f"actor {plan.actor}"]
    if plan.previous is not None or plan.request.kind in ("promote", "rollback"):
        facts.insert(0, f"live now {plan.previous or 'nothing'}")
    if plan.action_id:
        facts.append(f"id {plan.action_id}")
    out.print(Text("  " + plain(" · ".join(facts[1:] if plan.members else facts))))
    if plan.members:
        members = [[m.request.model, m.previous or "nothing", m.version, m.action_id, m.backend] for m in plan.members]
        out.print(table(["model", "live now", "to", "id", "backend"], members, title=f"Bundle {plan.action_id}: all or nothing"))
    if plan.gates:
        rows = []
        for g in plan.gates:
            if g.passed:
                mark = Text("pass", style="green")
            elif plan.request.force:
                mark = Text("FORCED", style="bold yellow")
            else:
                mark = Text("FAIL", style="bold red")
            rows.append([mark, g.name, g.detail])
        out.print(table(["", "gate", "numbers"], rows, title="Gates"))
    if plan.backend_call:
        out.print(Text(f"Backend {plain(plan.backend)}: ", style="bold").append(plain(plan.backend_call), style=""))
    if plan.pending:
        rows = [[p.kind, p.model, p.environment or "—", p.version or "—", p.action_id, p.since, p.actor] for p in plan.pending]
        out.print(table(["kind", "model", "environment", "version", "id", "pending since", "by"], rows, title="Pending"))
        if verbose:
            out.print(Text("For each: " + plain(plan.pending[0].description)))
    if verbose and plan.commits and plan.noop is None:
        out.print(Text("Commits that would be written:", style="bold"))
        for i, c in enumerate(plan.commits, 1):
            out.print(Text(f"  {i}. ").append(plain(c.subject)))
            for line in c.message().strip().split("\n\n")[-1].splitlines():
                out.print(Text(f"       {plain(line)}", style="dim"))
    for note in plan.notes:
        out.print(Text("note: " + plain(note), style="yellow"))
    if plan.noop:
        out.print(Text(f"{plain(plan.noop)}: nothing to do", style="green"))
    if plan.block:
        out.print(Text(f"blocked: {plain(plan.block.message)}", style="bold red"))
    elif plan.refused and plan.noop is None:
        names = ", ".join(g.name for g in plan.failing)
        how = (
            "--force alone cannot override " + ", ".join(plan.locked) + "; see the note"
            if plan.locked
            else "use --force with --reason to override"
        )
        out.print(Text(f"refused by gates: {plain(names)} ({plain(how)})", style="bold red"))


def show_result(result: Result) -> None:
    from rich.text import Text

    for note in result.notes:
        print(f"note: {visible(note, single_line=True)}", file=sys.stderr)
    for item in result.items:
        style = "green" if item.exit_code == ExitCode.OK else "red"
        console().print(Text(plain(item.message), style=style))
    said = result.status == "noop" and result.message == result.plan.noop  # the plan said it already: once is enough
    if result.exit_code == ExitCode.OK:
        if not said:
            console().print(Text(plain(result.message), style="green" if result.status in ("done", "proposed") else ""))
    else:
        report_error(result.message, int(result.exit_code))
