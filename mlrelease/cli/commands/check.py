"""Which live models are due for retraining, and why, with the numbers; health per environment.

  mlrelease check                     every live model in every environment
  mlrelease check MODEL --env ENV     one model, one environment
  mlrelease check --trigger --yes     also start retraining for each due model (scheduled CI)

A model is due when the retraining policy in mlrelease.yaml fires in an environment
where it is live: its live version is older than max_age_days, a feature's PSI reaches
psi_threshold, or a live metric is worse than its validation figure by metric_drop. The
health of each model in each environment is ok, drifting, degraded, due or unknown (its
telemetry source is down, slow or has no figures — the other rows are still checked).

--trigger starts retraining through the retrain backend for each due model, the same
way as `mlrelease retrain`, recorded in retrain/<model>.yaml and the history with the
trigger policy:<rules>. At most once per rule within the cadence (cadence_days): a
second run triggers nothing new. It asks first; when not interactive it needs --yes.

Exit codes: 0 nothing is due; 8 at least one model is due (it stays due until a newer
version is live); 1 a registry problem (a broken file, a misconfigured telemetry source)
kept the check from being complete — everything else is still shown; with --trigger,
the exit code of a retraining that could not be started (e.g. 5 backend failed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text

from mlrelease.cli.args import add_json, registry
from mlrelease.cli.output import folded, plain, plural, print_json, report_problems, show
from mlrelease.errors import ExitCode, UsageError
from mlrelease.registry.fields import format_timestamp
from mlrelease.telemetry.health import Assessment, Health, assess
from mlrelease.telemetry.policy import Decision

if TYPE_CHECKING:
    from rich.console import RenderableType

    from mlrelease.telemetry.trigger import Triggered

STATUS_STYLES = {"ok": "green", "drifting": "yellow", "degraded": "magenta", "due": "bold red", "unknown": "dim"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", metavar="MODEL", help="only this model (default: every live model)")
    parser.add_argument("--env", metavar="ENV", help="only this environment")
    parser.add_argument(
        "--trigger", action="store_true", help="start retraining for each due model (at most once per rule within the cadence)"
    )
    parser.add_argument("--yes", action="store_true", help="do not ask before triggering (needed when not interactive)")
    add_json(parser)


def run(args: argparse.Namespace) -> int:
    if args.trigger and args.ref is not None:
        raise UsageError("--trigger acts on the registry's branch; it cannot be combined with --ref")
    if args.trigger and args.json and not args.yes:
        raise UsageError("--trigger with --json cannot ask first; add --yes")
    with registry(args) as reg:
        assessment = assess(reg, model=args.model, environment=args.env)
        root = reg.root
    if not args.json:
        render(assessment)
    triggered = _trigger(assessment, root, yes=args.yes) if args.trigger else []
    if args.json:
        data = assessment.to_json(rendered=True)  # printed by json_text, which copies the kept rows' JSON
        print_json(data | {"triggered": [t.to_json() for t in triggered]} if args.trigger else data)
    elif triggered:
        show(*(Text(plain(t.message), style="red" if t.exit_code != ExitCode.OK else "") for t in triggered))
    code = report_problems(assessment.problems)
    if code:
        return code
    failed = [t.exit_code for t in triggered if t.exit_code != ExitCode.OK]
    if failed:
        return int(failed[0])
    return int(ExitCode.DUE) if assessment.due else int(ExitCode.OK)


def _trigger(assessment: Assessment, root: Path, *, yes: bool) -> list[Triggered]:
    """Ask (unless --yes), then start retraining for the due models through the release service."""
    if not assessment.due:
        return []
    wanted = [d for d in assessment.due if d.trigger is not None]
    if wanted and not yes and not _confirmed(wanted):
        show(Text("Nothing was triggered."))
        return []
    from mlrelease.release.service import ReleaseService
    from mlrelease.telemetry.trigger import trigger_due

    return trigger_due(ReleaseService(root), list(assessment.due), assessment.at)


def _confirmed(decisions: list[Decision]) -> bool:
    if not sys.stdin.isatty():
        raise UsageError("--trigger starts retraining; add --yes to do it without asking (needed when not interactive)")
    names = ", ".join(plain(d.model) for d in decisions)
    return input(f"Start retraining for {names}? [y/N] ").strip().lower() in ("y", "yes")


# ---- text -------------------------------------------------------------------------------------


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


def why_text(h: Health) -> Text:
    text = Text()
    for i, line in enumerate(h.reasons):
        text.append(("\n" if i else "") + plain(line))
    for note in h.notes:
        text.append(("\n" if text.plain else "") + plain(note), style="dim")
    return text


def render(assessment: Assessment) -> None:
    if not assessment.rows:
        show(Text("No live models to check."))
        return
    rows = [
        [Text(plain(h.model), style="bold"), plain(h.environment), plain(h.version), status_text(h.status.value), why_text(h)]
        for h in assessment.rows
    ]
    parts: list[RenderableType] = [
        folded(["Model", "Env", "Version", "Health", "Why"], rows, title=f"Health at {format_timestamp(assessment.at)}")
    ]
    due = assessment.due
    if due:
        due_rows = []
        for d in due:
            for r in d.reasons:
                request = d.covered.get(r.rule)
                requested = f"{plain(request.id)} at {format_timestamp(request.at)}" if request else "—"
                due_rows.append([Text(plain(d.model), style="bold"), r.rule, plain(r.message), requested])
        title = f"Due for retraining: {plural(len(due), 'model')} (requested = within the cadence already)"
        parts.append(folded(["Model", "Rule", "Why", "Requested"], due_rows, title=title))
    else:
        parts.append(Text("Nothing is due for retraining."))
    show(*parts)
