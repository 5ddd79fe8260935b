"""Drive a canary through the environment's rollout strategy, one judged step at a time.

  mlrelease rollout MODEL --env ENV              look once and act: advance, finish, hold or abort
  mlrelease rollout MODEL@VERSION --env ENV --reason TEXT   start a rollout at the first step
  mlrelease rollout MODEL --env ENV --advance|--abort|--pause|--resume --reason TEXT   a person decides
  mlrelease rollout --all [--env ENV]            every active rollout (what the scheduled CI job runs)

Each look judges the current step (challenger against champion, per metric, see
`mlrelease ab`) and decides: **advance** to the next weight or **finish** (full
promotion) when every metric passes after the step's hold; **hold** while the hold runs
or a metric is inconclusive (it says until when, and how many more samples); **abort**
when a critical metric fails — the challenger is rejected with the evidence as the reason
and rolled back (canary weight 0, environment pinned) — or the rollout outlives
max_duration. A step with `pause: true`, a non-critical failure or a canary weight that is
not a step waits for a person. Every change is an ordinary action (promote, reject,
rollback, pin, unpin) through the environment's backend, with intent and outcome commits,
gates and the re-check at the tip; a second run a minute later finds the new state and
does nothing new. A telemetry source that is down makes the metrics inconclusive, never a pass.

--watch looks again every --interval seconds (sooner when a hold ends) until the rollout
ends or needs a person, printing its progress. --dry-run shows the judgement and the plans
and changes nothing (its exit code says what acting would).

Exit codes: 0 advanced, finished, holding, or no rollout in progress; 9 aborted (or would
be); 10 needs a person; 3 a gate refused (e.g. a promotion window); 4 something is
Pending or changed meanwhile; 5 backend failed; 6 push retries exhausted; 7 read-only;
1 a registry problem or a misconfigured source; 2 usage. With --all, the most serious of all.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rich.text import Text

from mlrelease.cli import actions
from mlrelease.cli.commands.ab import analysis
from mlrelease.cli.output import console, plain, print_json, report_error, show
from mlrelease.errors import ExitCode, UsageError
from mlrelease.registry.names import split_ref
from mlrelease.rollout.decide import ABORT, BLOCKED, FINISH, IDLE, PERSON, Evaluation
from mlrelease.textsafe import visible

if TYPE_CHECKING:
    from mlrelease.rollout.run import Confirm, Rollouts

# The most serious first: what --all exits with when rollouts end differently.
SEVERITY = (5, 6, 4, 3, 7, 1, 9, 10, 0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", nargs="?", metavar="MODEL[@VERSION]", help="the model (with @VERSION: start its rollout)")
    parser.add_argument("--env", metavar="ENV", help="the environment whose rollout strategy applies (required without --all)")
    parser.add_argument("--all", action="store_true", help="every active rollout (a canary live where a strategy is set)")
    by_hand = parser.add_mutually_exclusive_group()
    for word, text in (
        ("advance", "go to the next step now (or the full promotion after the last), whatever the verdicts"),
        ("abort", "roll the canary back now (the environment is pinned)"),
        ("pause", "pin the environment: the rollout holds until --resume"),
        ("resume", "unpin the environment: the rollout goes on"),
    ):
        by_hand.add_argument(f"--{word}", action="store_const", const=word, dest="manual", help=text)
    parser.add_argument("--reason", metavar="TEXT", help="why (required to start, and for --advance/--abort/--pause/--resume)")
    parser.add_argument(
        "--watch", action="store_true", help="look again and again, with progress, until the rollout ends or needs a person"
    )
    parser.add_argument("--interval", type=float, default=60.0, metavar="SECONDS", help="seconds between looks with --watch (default 60)")
    actions.add_flags(parser)


def run(args: argparse.Namespace) -> int:
    from mlrelease.rollout.run import Rollouts

    model, version = _target(args)
    if args.reason is not None and not args.reason.strip():
        raise UsageError("--reason must not be empty")
    if args.interval <= 0:
        raise UsageError("--interval must be more than 0 seconds")
    if args.watch and args.json:
        raise UsageError("--watch is for a terminal; a script runs `mlrelease rollout` on a schedule (see --all), one look each time")
    if not args.dry_run and not args.yes and not sys.stdin.isatty():
        raise UsageError("stdin is not a terminal, so there is no one to confirm: pass --yes to act (or --dry-run to look)")
    rollouts = Rollouts(actions.make_service(args))
    if args.all:
        return _all(rollouts, args)
    assert model is not None
    while True:
        look = _once(rollouts, args, args.env, model, version)
        if args.json:
            print_json(look.data)
        if not args.watch or look.ended:
            return look.code
        _wait(args.interval, look.until)
        version, args.manual = None, None  # a start or a person's word happens once; then the strategy drives


def _target(args: argparse.Namespace) -> tuple[str | None, str | None]:
    if args.all:
        if args.target or args.manual or args.watch:
            raise UsageError("--all looks at every active rollout: give no MODEL, --watch or --advance/--abort/--pause/--resume with it")
        return None, None
    if not args.target or not args.env:
        raise UsageError("rollout needs MODEL --env ENV (or --all)")
    if "@" in args.target:
        model, version = split_ref(args.target, "MODEL@VERSION")
        if args.manual:
            raise UsageError("MODEL@VERSION starts a rollout; --advance/--abort/--pause/--resume act on the one under way (give MODEL)")
        return model, version
    return args.target, None


@dataclass(frozen=True)
class Look:
    code: int
    ended: bool  # the rollout is over, or waits for a person: --watch stops
    data: dict[str, object]  # the JSON of this look
    until: datetime | None = None  # a hold's end: --watch looks again then


def _once(rollouts: Rollouts, args: argparse.Namespace, env: str, model: str, version: str | None) -> Look:
    """One look at one rollout, and acting on it (unless --dry-run)."""
    evaluation = rollouts.look(model, env, fetch=not args.dry_run)
    wanted = args.manual or ("start" if version else None)
    decision = rollouts.manual(evaluation, wanted, args.reason, version=version) if wanted else evaluation.decision
    ended = decision.action in (FINISH, ABORT, IDLE, PERSON, BLOCKED)
    if args.dry_run:
        plans = rollouts.plans(decision)
        codes = [int(p.exit_code) for p in plans if p.exit_code != ExitCode.OK]
        code = codes[0] if codes else int(decision.exit_code)
        if not args.json:
            _show(evaluation, decision.message, args.watch)
            for plan in plans:
                actions.show_plan(plan, verbose=True)
        data = {
            "dry_run": True,
            **evaluation.to_json(),
            "decision": decision.to_json(),
            "plans": [p.to_json() for p in plans],
            "exit_code": code,
        }
        return Look(code, True, data)
    if not args.json:
        _show(evaluation, decision.message, args.watch)
    acted = rollouts.act(evaluation, decision, _confirm(args), progress=None if args.json else actions.progress)
    quiet = (ExitCode.OK, ExitCode.ROLLOUT_ABORTED, ExitCode.NEEDS_PERSON)
    if not args.json:
        for plan, result in acted.steps:
            if result is None:
                actions.show_plan(plan, verbose=False)
            else:
                actions.show_result(result)
    if acted.exit_code not in quiet and (args.json or not any(r for _, r in acted.steps)):
        report_error(acted.message, int(acted.exit_code))
    return Look(int(acted.exit_code), ended or acted.exit_code != ExitCode.OK, acted.to_json(), decision.until)


def _confirm(args: argparse.Namespace) -> Confirm:
    return (lambda plan: True) if args.yes else actions.confirm


def _show(evaluation: Evaluation, message: str, watching: bool) -> None:
    if watching:
        print(progress_line(evaluation, message), flush=True)  # one line per look, never wrapped
        return
    show(*analysis(evaluation), Text(f"→ {plain(message)}", style="bold"))


def progress_line(evaluation: Evaluation, message: str) -> str:
    """``[09:42:10] ▰▰▱▱ fraud-card 2.2.0 step 2 of 4 · 25% · … → holding until …``: one line per look."""
    from mlrelease.rollout.report import progress_text

    stamp = datetime.now(UTC).strftime("%H:%M:%S")
    pos = evaluation.position
    if pos is None:
        return visible(f"[{stamp}] {message}", single_line=True)
    done = pos.step + 1 if pos.step is not None else 0
    bar = "▰" * done + "▱" * (pos.steps - done)
    return visible(f"[{stamp}] {bar} {evaluation.model} {progress_text(evaluation)} → {message}", single_line=True)


def _wait(interval: float, until: datetime | None) -> None:
    """Sleep until the next look: --interval, or sooner when a hold ends then."""
    seconds = interval
    if until is not None:
        seconds = min(seconds, max((until - datetime.now(UTC)).total_seconds() + 1.0, 1.0))
    time.sleep(seconds)


def _all(rollouts: Rollouts, args: argparse.Namespace) -> int:
    if not args.dry_run:
        rollouts.service.refresh()
    found = rollouts.active(args.env)
    if not found and not args.json:
        console().print(Text("no rollout in progress: no canary is live where a rollout strategy is set"))
    looks = [_once(rollouts, args, env, model, None) for env, model in found]
    code = next((c for c in SEVERITY if c in [look.code for look in looks]), 0)
    if args.json:
        print_json({"rollouts": [look.data for look in looks], "exit_code": code})
    return code
