"""List every model: owner, versions, what is live in each environment, headline metrics.

Per environment the live version is shown, with a canary and its traffic weight, a
promotion still pending or failed, and a pin. Headline metrics are those of the version
live in the furthest environment. Status names facts only: unverified (a state whose
history `mlrelease verify` does not accept: hand-edited, forged, unsigned...), a
break-glass promotion not reviewed yet, forced gates, a candidate newer than what the
last environment runs, pending, failed, pinned.

Exit codes: 0 ok; 1 a registry file could not be read (the rest is still listed).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from rich.text import Text

from mlrelease.cli.args import add_at, add_json, registry
from mlrelease.cli.kept import kept
from mlrelease.cli.output import folded, plain, print_json, report_problems, show, to_data

if TYPE_CHECKING:
    from mlrelease.registry.overview import EnvStatus, ModelSummary, Overview


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_at(parser)
    add_json(parser)


def run(args: argparse.Namespace) -> int:
    if args.json:  # one answer per state of the registry (cli/kept.py): the work tree must be clean
        return kept(args, "list --json", (), lambda: _run(args), whole_tree=True)
    return _run(args)[0]


def _run(args: argparse.Namespace) -> tuple[int, bool]:
    """(exit code, whether verify ran: an answer without its marks is not kept)."""
    from mlrelease.audit import marks  # the parser and verify: imported only when the answer is computed
    from mlrelease.registry.overview import overview

    with registry(args) as reg:
        with marks.counted_ahead(reg):  # git counts what is not verified yet on the other core while the overview parses
            unmarked = overview(reg, parallel=True)
            found, unchecked = marks.safe_findings(reg, marks.BUDGET)
        view = marks.mark_overview(unmarked, found)
    if args.json:
        print_json({**overview_json(view), "verify_error": unchecked})
    else:
        render(view)
        if unchecked:
            show(Text(f"the release states are not verified: {plain(unchecked)}", style="bold red"))
        elif any(m.flags and "unverified" in m.flags for m in view.models):
            show(
                Text(
                    "⚠ unverified: a state's history has changes that are not verified mlrelease actions (`mlrelease verify`)",
                    style="bold red",
                )
            )
    return report_problems(view.problems), unchecked is None


def summary_json(m: ModelSummary) -> dict[str, Any]:
    return {
        "name": m.name,
        "owner": m.owner,
        "description": m.description,
        "versions": m.version_count,
        "latest": m.latest,
        "environments": {e.environment: env_json(e) for e in m.environments},
        "headline": None
        if m.headline_environment is None
        else {
            "environment": m.headline_environment,
            "version": m.headline_version,
            "metrics": [
                {
                    "name": h.name,
                    "value": h.value,
                    "display": h.render(),
                    "goal": h.definition.goal if h.definition else None,
                    "unit": h.definition.unit if h.definition else None,
                }
                for h in m.headline
            ],
        },
        "candidate": m.candidate,
        "flags": list(m.flags),
    }


def env_json(e: EnvStatus) -> dict[str, Any]:
    return {
        "live": e.live,
        "canary": to_data(e.canary),
        "desired": e.desired,
        "phase": e.phase,
        "pending": e.pending,
        "failed": e.failed,
        "pinned": e.pinned,
        "pin": to_data(e.pin),
        "forced": list(e.forced),
        "break_glass_not_reviewed": list(e.break_glass),
        "unverified": list(e.marks),
        "accepted": list(e.accepted),
    }


def overview_json(view: Overview) -> dict[str, Any]:
    return {
        "environments": list(view.environments),
        "models": [summary_json(m) for m in view.models],
        "problems": [p.to_json() for p in view.problems],
    }


def env_cell(e: EnvStatus) -> Text:
    """Words carry the meaning; colour only repeats it."""
    text = Text()
    text.append(plain(e.live) if e.live else "—", style="bold" if e.live else "dim")
    if e.canary is not None:
        text.append(f"\n+ canary {plain(e.canary.version)} @ {e.canary.weight:g}%", style="magenta")
    if e.pending:
        text.append(f"\n⧗ {plain(e.desired)} pending", style="yellow")
    elif e.failed:
        text.append(f"\n✗ {plain(e.desired)} failed", style="red")
    if e.pinned:
        text.append("\n⚑ pinned", style="cyan")
    for m in e.marks:
        text.append(f"\n⚠ {plain(m)}", style="bold red")
    for m in e.accepted:
        text.append(f"\n✓ {plain(m)}", style="dim")
    if e.break_glass:
        text.append("\n⚠ break-glass, not reviewed", style="bold red")
    elif e.forced:
        text.append(f"\n! forced {plain(', '.join(e.forced))}", style="red")
    return text


def headline_cell(m: ModelSummary) -> Text:
    if m.headline_environment is None:
        return Text("nothing live", style="dim")
    text = Text()
    for h in m.headline:
        text.append(f"{plain(h.name)} ")
        text.append(h.render(), style="bold")
        text.append("\n")
    text.append(f"({plain(m.headline_environment)} {plain(m.headline_version)})", style="dim")
    return text


def status_cell(m: ModelSummary) -> Text:
    styles = {
        "unverified": "bold red",
        "break-glass": "bold red",
        "forced": "red",
        "candidate": "green",
        "pending": "yellow",
        "failed": "red",
        "pinned": "cyan",
    }
    text = Text()
    for i, flag in enumerate(m.flags):
        if i:
            text.append("\n")
        label = f"candidate {plain(m.candidate)}" if flag == "candidate" else flag
        text.append(label, style=styles[flag])
    return text


def render(view: Overview) -> None:
    if not view.models:
        show(Text("No models yet: `mlrelease register MODEL VERSION ...` adds the first."))
        return
    columns = ["Model", "Owner", "Versions", "Latest", *(plain(e) for e in view.environments), "Headline (live)", "Status"]
    rows = [
        [
            Text(plain(m.name), style="bold"),
            plain(m.owner) if m.owner is not None else Text("unreadable", style="red"),
            str(m.version_count),
            plain(m.latest),
            *(env_cell(e) for e in m.environments),
            headline_cell(m),
            status_cell(m),
        ]
        for m in view.models
    ]
    show(folded(columns, rows))
