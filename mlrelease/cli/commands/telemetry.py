"""Show a model's live figures over time, and its drift, per environment.

For each environment where the model is live: its health, a table of snapshots (calls,
errors, latency percentiles, memory, CPU, live metrics, top callers) from the
environment's telemetry source, the drift table (PSI per feature against the training
profile, with the bins that moved most), live metrics against their validation
figures, and how the training data changed since the parent version.

A source that is down or slow shows as such for its environment; the others still show.

Exit codes: 0 ok; 1 unknown model or environment, or a registry file that could not be
read (the rest is still shown).
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import RenderableType
from rich.text import Text

from mlrelease.cli.args import add_json, registry
from mlrelease.cli.commands.check import status_text
from mlrelease.cli.output import folded, plain, print_json, report_problems, show
from mlrelease.errors import Problem
from mlrelease.registry.fields import format_timestamp
from mlrelease.registry.types import Config, Snapshot
from mlrelease.telemetry.drift import MOVED, DatasetDiff, DriftReport, FeatureDrift, data_since_parent
from mlrelease.telemetry.health import Health, assess, error_rate

DEFAULT_LAST = 24


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="the model to show")
    parser.add_argument("--env", metavar="ENV", help="only this environment")
    parser.add_argument(
        "--last", type=int, default=DEFAULT_LAST, metavar="N", help=f"snapshots to list per environment (default {DEFAULT_LAST})"
    )
    add_json(parser)


def run(args: argparse.Namespace) -> int:
    problems: list[Problem] = []
    with registry(args) as reg:
        assessment = assess(reg, model=args.model, environment=args.env, history=True)
        config = reg.config
        data = {h.environment: data_since_parent(reg, h.model, h.version, problems) for h in assessment.rows}
    problems = [*assessment.problems, *problems]
    if args.json:
        print_json(
            {
                "model": args.model,
                "at": assessment.at,
                "environments": [h.to_json(series=True) | {"data_since_parent": _data_json(data[h.environment])} for h in assessment.rows],
                "problems": [p.to_json() for p in dict.fromkeys(problems)],
            }
        )
    else:
        render(args.model, assessment.rows, data, config, max(args.last, 1))
    return report_problems(dict.fromkeys(problems))


def _data_json(found: tuple[str | None, tuple[DatasetDiff, ...]]) -> dict[str, Any] | None:
    parent, diffs = found
    return None if parent is None else {"parent": parent, "changes": [d.to_json() for d in diffs]}


# ---- text -------------------------------------------------------------------------------------


def render(
    model: str, rows: tuple[Health, ...], data: dict[str, tuple[str | None, tuple[DatasetDiff, ...]]], config: Config, last: int
) -> None:
    if not rows:
        show(Text(f"{plain(model)} is not live in any environment, so there are no live figures to show."))
        return
    for h in rows:
        header = Text()
        header.append(f"{plain(h.environment)}", style="bold")
        header.append(f" — {plain(h.model)} {plain(h.version)} — ")
        header.append_text(status_text(h.status.value))
        header.append(f" — {plain(h.source)}", style="dim")
        parts: list[RenderableType] = [Text(""), header]
        for line in h.reasons:
            parts.append(Text(f"  {plain(line)}"))
        for note in h.notes:
            parts.append(Text(f"  {plain(note)}", style="dim"))
        snapshots = h.telemetry.snapshots if h.telemetry else ()
        if snapshots:
            parts.append(snapshot_table(snapshots[-last:], config))
        if h.drift is not None:
            parts.extend(drift_tables(h.drift, config))
        parts.extend(data_lines(*data.get(h.environment, (None, ()))))
        show(*parts)


def _num(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def snapshot_table(snapshots: tuple[Snapshot, ...], config: Config) -> RenderableType:
    metric_names = list(dict.fromkeys(m for s in snapshots for m in s.metrics))
    columns = [
        "At",
        "Version",
        "Calls",
        "Errors",
        "Err %",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "Mem MB",
        "CPU",
        *map(plain, metric_names),
        "Top callers",
    ]
    rows = []
    for s in snapshots:
        rate = error_rate(s)
        callers = sorted(s.callers.items(), key=lambda kv: kv[1], reverse=True)[:3]
        rows.append(
            [
                format_timestamp(s.at),
                plain(s.version),
                _num(s.calls, ","),
                _num(s.errors, ","),
                _num(rate, ".2%"),
                *(_num(s.latency_ms.get(p), ".1f") for p in ("p50", "p95", "p99")),
                _num(s.memory_mb, ".0f"),
                _num(s.cpu, ".2f"),
                *(
                    config.metrics[m].render(s.metrics.get(m)) if m in config.metrics else _num(s.metrics.get(m), ".4g")
                    for m in metric_names
                ),
                ", ".join(f"{plain(name)} {value:,.0f}" for name, value in callers) or "—",
            ]
        )
    return folded(columns, rows, title="Figures over time")


def moved_text(f: FeatureDrift) -> str:
    return "; ".join(f"{plain(b.bin)} {b.expected:.1%}→{b.actual:.1%}" for b in f.moved(MOVED)) or "—"


def drift_tables(report: DriftReport, config: Config) -> list[RenderableType]:
    out: list[RenderableType] = [Text(f"Trained {format_timestamp(report.trained)}, {report.age_days:.1f} days ago.")]
    if report.features:
        rows = [
            [plain(f.feature), _num(f.psi, ".3f"), f.level, moved_text(f) if f.psi is not None else plain(f.note)] for f in report.ranked
        ]
        where = f"training profile from the {plain(report.baseline)}; live profile at {format_timestamp(report.profile_at) if report.profile_at else '—'}"
        out.append(folded(["Feature", "PSI", "Level", "Bins that moved most"], rows, title=f"Drift ({where})"))
    if report.metrics:
        policy = config.retrain.policy_for(report.model)
        rows = []
        for m in report.metrics:
            definition = config.metrics.get(m.metric)
            render = definition.render if definition else (lambda v: _num(v, ".4g"))
            allowed = policy.metric_drop.get(m.metric)
            rows.append([plain(m.metric), render(m.validation), render(m.live), _num(m.drop, ".4g"), _num(allowed, "g")])
        out.append(folded(["Metric", "Validation", "Live", "Drop", "Allowed drop"], rows, title="Live metrics vs validation"))
    return out


def data_lines(parent: str | None, diffs: tuple[DatasetDiff, ...]) -> list[RenderableType]:
    if parent is None or not diffs:
        return []
    rows = []
    for d in diffs:
        change = []
        if d.rows_before != d.rows_after:
            pct = f" ({d.rows_change:+.1%})" if d.rows_change is not None else ""
            change.append(f"rows {_num(d.rows_before, ',')} → {_num(d.rows_after, ',')}{pct}")
        if d.frequency_before != d.frequency_after:
            change.append(f"updated {plain(d.frequency_before)} → {plain(d.frequency_after)}")
        for c in d.columns:
            if c.before is None:
                change.append(f"+{plain(c.column)} ({plain(c.after)})")
            elif c.after is None:
                change.append(f"−{plain(c.column)}")
            else:
                change.append(f"{plain(c.column)}: {plain(c.before)} → {plain(c.after)}")
        scored = [f for f in d.features if f.psi is not None and f.psi > 0]
        if scored:
            top = max(scored, key=lambda f: f.psi or 0.0)
            change.append(f"max PSI {top.psi:.3f} ({plain(top.feature)})")
        change.extend(plain(n) for n in d.notes)
        rows.append(
            [plain(d.role), f"{plain(d.before)} → {plain(d.after)}" if not d.same else plain(d.after), "; ".join(change) or "unchanged"]
        )
    return [folded(["Role", "Data set", "Changes"], rows, title=f"Training data since {plain(parent)}")]
