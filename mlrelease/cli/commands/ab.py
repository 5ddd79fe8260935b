"""The A/B report of a canary: challenger against champion, metric by metric, and each arm's input drift.

  mlrelease ab MODEL --env ENV [--format table|markdown|json]

For each metric of the environment's rollout analysis: both arms' figures over the
current step, the difference with its confidence interval, the p-value and the named test
(two-proportion z-test for rates, Welch's t-test for means, Mann-Whitney U with the
Hodges-Lehmann shift for distributions), the samples per arm, the verdict (pass, fail,
inconclusive) and, for an inconclusive metric, about how many more samples per arm would
settle it. Then PSI by feature of each arm's live inputs against its version's training
profile, and of the challenger's inputs against the champion's (near 0 unless routing
differs), and what the next `mlrelease rollout` would do. Changes nothing.

``--format markdown`` prints a pull-request or ticket comment; ``--json`` is ``--format json``.

Exit codes: 0 ok (whatever the verdicts); 1 unknown model or environment, a registry
problem or a misconfigured telemetry source.
"""

from __future__ import annotations

import argparse
import math
import sys
from datetime import UTC, datetime

from rich.console import RenderableType
from rich.text import Text

from mlrelease.cli.args import add_json, registry
from mlrelease.cli.output import folded, plain, print_json, show
from mlrelease.registry.fields import format_timestamp
from mlrelease.rollout.decide import Evaluation, change, figure
from mlrelease.rollout.judge import FAIL, PASS, MetricVerdict
from mlrelease.rollout.report import Report
from mlrelease.telemetry.drift import FeatureDrift

VERDICT_STYLE = {PASS: ("pass", "green"), FAIL: ("FAIL", "bold red"), "inconclusive": ("inconclusive", "yellow")}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="the model whose canary to report on")
    parser.add_argument("--env", required=True, metavar="ENV", help="the environment where the canary runs")
    parser.add_argument("--format", choices=("table", "markdown", "json"), default="table", help="output format (default: table)")
    add_json(parser)


def run(args: argparse.Namespace) -> int:
    from mlrelease.rollout.report import ab_report

    args.json = args.json or args.format == "json"
    with registry(args) as reg:
        report = ab_report(reg, args.model, args.env, datetime.now(UTC).replace(microsecond=0))
    if args.json:
        print_json(report.to_json())
    elif args.format == "markdown":
        sys.stdout.write(markdown(report))
    else:
        show(*renderables(report))
    return 0


# ---- cells shared with `mlrelease rollout` ------------------------------------------------------


def p_text(v: MetricVerdict) -> str:
    if v.p_value is None:
        return "—"
    return "< 1e-16" if v.p_value < 1e-16 else f"{v.p_value:.3g}"


def interval_text(v: MetricVerdict) -> str:
    if v.low is None or v.high is None:
        return "—"
    if not (math.isfinite(v.low) and math.isfinite(v.high)):
        return "too few samples"
    return f"{change(v, v.low)} … {change(v, v.high)}"


def note_text(v: MetricVerdict) -> str:
    if v.more_samples is not None and v.verdict == "inconclusive" and v.delta is not None:
        a, b = v.more_samples
        return f"{v.reason}; about {b:,.0f} more challenger and {a:,.0f} more champion samples would settle it"
    return v.reason


def rows(evaluation: Evaluation) -> list[list[object]]:
    out: list[list[object]] = []
    for v in evaluation.judgement.verdicts if evaluation.judgement else ():
        word, style = VERDICT_STYLE[v.verdict]
        out.append(
            [
                plain(v.metric) + (" (critical)" if v.critical else ""),
                Text(word, style=style),
                figure(v, v.champion),
                figure(v, v.challenger),
                change(v, v.delta),
                interval_text(v),
                p_text(v),
                v.test,
                f"{v.n_champion:,.0f} / {v.n_challenger:,.0f}",
                plain(note_text(v)),
            ]
        )
    return out


COLUMNS = ["Metric", "Verdict", "Champion", "Challenger", "Δ", "CI", "p", "Test", "n champion / challenger", "Why"]


def header(evaluation: Evaluation) -> str:
    pos = evaluation.position
    if pos is None:
        return f"{evaluation.model} in {evaluation.environment}: {evaluation.decision.message}"
    return (
        f"{evaluation.model} in {evaluation.environment}: {pos.describe()}; judged from {format_timestamp(pos.step_since)} "
        f"to {format_timestamp(evaluation.at)} ({evaluation.source or 'no source'})"
    )


def analysis(evaluation: Evaluation) -> list[RenderableType]:
    out: list[RenderableType] = [Text(plain(header(evaluation)), style="bold")]
    judgement = evaluation.judgement
    if judgement is None:
        return out
    if judgement.verdicts:
        confidence = judgement.verdicts[0].confidence
        out.append(folded(COLUMNS, rows(evaluation), title=f"Challenger vs champion ({confidence:.0%} confidence intervals)"))
    else:
        out.append(Text("The analysis compares no metrics: steps advance on their hold alone."))
    for note in judgement.notes:
        out.append(Text(f"note: {plain(note)}", style="yellow"))
    return out


def _drift_rows(features: tuple[FeatureDrift, ...]) -> list[list[object]]:
    return [[plain(f.feature), "—" if f.psi is None else f"{f.psi:.3f}", f.level, plain(f.note or "")] for f in features]


def renderables(report: Report) -> list[RenderableType]:
    out = analysis(report.evaluation)
    for d in report.drift:
        if d.features:
            out.append(
                folded(
                    ["Feature", "PSI", "Level", "Note"],
                    _drift_rows(d.features),
                    title=f"Input drift of {plain(d.version)} (vs {plain(d.baseline)})",
                )
            )
        else:
            out.append(Text(f"Input drift of {plain(d.version)}: {plain(d.note)}", style="dim"))
    if report.between:
        title = "Challenger's inputs vs champion's (should be near 0: both arms see the same traffic)"
        out.append(folded(["Feature", "PSI", "Level", "Note"], _drift_rows(report.between), title=title))
    for note in report.notes:
        out.append(Text(f"note: {plain(note)}", style="yellow"))
    out.append(Text(f"Next `mlrelease rollout`: {plain(report.evaluation.decision.message)}"))
    return out


# ---- markdown -----------------------------------------------------------------------------------


def _md(text: object) -> str:
    """A table cell: literal text, pipes escaped, one line."""
    return plain(text).replace("|", "\\|").replace("\n", " ")


def markdown(report: Report) -> str:
    e = report.evaluation
    lines = [f"### A/B: {_md(e.model)} in {_md(e.environment)}", "", _md(header(e)), ""]
    if e.judgement and e.judgement.verdicts:
        lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        for row in rows(e):
            lines.append("| " + " | ".join(_md(c.plain if isinstance(c, Text) else c) for c in row) + " |")
        lines.append("")
    for d in report.drift:
        worst = max((f for f in d.features if f.psi is not None), key=lambda f: f.psi or 0.0, default=None)
        if worst is not None:
            lines.append(f"- Input drift of {_md(d.version)}: largest PSI {worst.psi:.3f} ({_md(worst.feature)}, {worst.level})")
        else:
            lines.append(f"- Input drift of {_md(d.version)}: {_md(d.note or 'no PSI')}")
    if report.between:
        worst = max((f for f in report.between if f.psi is not None), key=lambda f: f.psi or 0.0, default=None)
        if worst is not None:
            lines.append(f"- Challenger's inputs vs champion's: largest PSI {worst.psi:.3f} ({_md(worst.feature)})")
    for note in report.notes:
        lines.append(f"- Note: {_md(note)}")
    lines += ["", f"**Next `mlrelease rollout`:** {_md(e.decision.message)}", ""]
    return "\n".join(lines)
