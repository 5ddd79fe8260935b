"""Compare two versions: metrics side by side, then params, data and other changes.

  mlrelease diff MODEL@A MODEL@B [--format table|markdown|json]

Each metric's delta is judged by its goal in the metric catalogue (▲ better, ▼ worse,
= same); a metric missing from the catalogue is shown with "? unknown direction". The
two versions may belong to different models (a challenger against the champion).
``--format markdown`` prints a pull-request comment; ``--json`` is ``--format json``.

Exit codes: 0 ok (whatever the verdicts); 1 unknown model or version, or an unreadable
manifest; 2 bad MODEL@VERSION syntax.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rich.text import Text

from mlrelease.cli.args import add_at, add_json, model_at_version, registry
from mlrelease.cli.output import folded, plain, print_json, show, to_data
from mlrelease.registry.compare import ADDED, BETTER, REMOVED, SAME, UNKNOWN, WORSE, Comparison, MetricDelta, compare
from mlrelease.registry.fields import scalar_text
from mlrelease.textsafe import visible

# symbol + word for each verdict: never colour alone
MARKS = {
    BETTER: ("▲", "better", "green"),
    WORSE: ("▼", "worse", "red"),
    SAME: ("=", "same", "dim"),
    UNKNOWN: ("?", "unknown direction", "yellow"),
    ADDED: ("+", "only in new", "cyan"),
    REMOVED: ("−", "only in old", "cyan"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("old", metavar="MODEL@A", help="the version to compare from (e.g. what is live)")
    parser.add_argument("new", metavar="MODEL@B", help="the version to compare to (e.g. the candidate)")
    parser.add_argument("--format", choices=("table", "markdown", "json"), default="table", help="output format (default: table)")
    add_at(parser)
    add_json(parser)


def run(args: argparse.Namespace) -> int:
    args.json = args.json or args.format == "json"  # errors, too, then come as JSON
    old, new = model_at_version(args.old), model_at_version(args.new)
    with registry(args) as reg:
        comparison = compare(reg, old, new)
    if args.json:
        print_json(comparison_json(comparison))
    elif args.format == "markdown":
        sys.stdout.write(markdown(comparison))
    else:
        render(comparison)
    return 0


def _label(c: Comparison, side: str) -> str:
    """Column label: the version alone when both are of one model, else model@version."""
    v = c.old if side == "old" else c.new
    return v.version if c.old.model == c.new.model else f"{v.model}@{v.version}"


def _title(c: Comparison) -> str:
    if c.old.model == c.new.model:
        return f"{c.old.model} {c.old.version} → {c.new.version}"
    return f"{c.old.model}@{c.old.version} → {c.new.model}@{c.new.version}"


def summary(c: Comparison) -> str:
    counts = c.counts()
    words = [f"{counts[k]} {MARKS[k][1]}" for k in (BETTER, WORSE, SAME, UNKNOWN, ADDED, REMOVED) if counts[k]]
    return ", ".join(words) or "no metrics"


def comparison_json(c: Comparison) -> dict[str, Any]:
    return {
        "old": {"model": c.old.model, "version": c.old.version},
        "new": {"model": c.new.model, "version": c.new.version},
        "summary": c.counts(),
        "metrics": [
            {
                "name": m.name,
                "old": m.old,
                "new": m.new,
                "delta": m.delta,
                "verdict": m.verdict,
                "goal": m.definition.goal if m.definition else None,
                "kind": m.definition.kind if m.definition else None,
                "unit": m.definition.unit if m.definition else None,
                "display": {"old": m.render(m.old), "new": m.render(m.new), "delta": m.render_delta()},
            }
            for m in c.metrics
        ],
        "params": [{"name": p.name, "old": p.old, "new": p.new, "change": p.kind} for p in c.params],
        "unchanged_params": c.unchanged_params,
        "data": [
            {"role": d.role, "change": d.kind, "changed": list(d.changed), "old": to_data(d.old), "new": to_data(d.new)} for d in c.data
        ],
        "fields": [to_data(f) for f in c.fields],
    }


def verdict_text(m: MetricDelta) -> Text:
    symbol, word, style = MARKS[m.verdict]
    return Text(f"{symbol} {word}", style=style)


def _value(v: object) -> str:
    return "—" if v is None else scalar_text(v)


def _ref(d: Any) -> str:
    if d is None:
        return "—"
    bits = [f"{d.dataset}@{d.version}"]
    if d.rows is not None:
        bits.append(f"{d.rows:,} rows")
    if d.digest:
        bits.append(f"digest {d.digest}")
    return ", ".join(bits)


def render(c: Comparison) -> None:
    a, b = plain(_label(c, "old")), plain(_label(c, "new"))
    parts: list[Any] = [Text(plain(_title(c)), style="bold"), Text(f"metrics: {summary(c)}")]
    rows = [[m.name, m.render(m.old), m.render(m.new), m.render_delta(), verdict_text(m)] for m in c.metrics]
    parts.append(folded(["Metric", a, b, "Δ", "Verdict"], rows))
    if c.params:
        rows = [[p.name, _value(p.old), _value(p.new), p.kind] for p in c.params]
        parts += [Text(""), folded(["Param", a, b, "Change"], rows, title=f"params ({c.unchanged_params} unchanged)")]
    else:
        parts.append(Text(f"params: no change ({c.unchanged_params} the same)"))
    if c.data:
        rows = [[d.role, _ref(d.old), _ref(d.new), ", ".join(d.changed)] for d in c.data]
        parts += [Text(""), folded(["Data", a, b, "Changed"], rows, title="data")]
    else:
        parts.append(Text("data: no change"))
    if c.fields:
        parts += [Text(""), folded(["Field", a, b], [[f.field, _value(f.old), _value(f.new)] for f in c.fields], title="other changes")]
    show(*parts)


_MD_SPECIAL = set("\\`*_[]<>|~&")


def md(value: object) -> str:
    """Untrusted text as inert Markdown: no links, images, HTML, emphasis or table breaks."""
    text = visible(_value(value), single_line=True)
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in text)


def markdown(c: Comparison) -> str:
    a, b = md(_label(c, "old")), md(_label(c, "new"))
    lines = [f"### {md(_title(c))}", "", f"**Metrics:** {summary(c)}", ""]
    lines += [f"| Metric | {a} | {b} | Δ | Verdict |", "|---|---:|---:|---:|---|"]
    for m in c.metrics:
        symbol, word, _ = MARKS[m.verdict]
        lines.append(f"| {md(m.name)} | {md(m.render(m.old))} | {md(m.render(m.new))} | {md(m.render_delta())} | {symbol} {word} |")
    lines.append("")
    if c.params:
        lines += [f"**Params** ({c.unchanged_params} unchanged)", "", f"| Param | {a} | {b} | Change |", "|---|---|---|---|"]
        lines += [f"| {md(p.name)} | {md(p.old)} | {md(p.new)} | {p.kind} |" for p in c.params]
    else:
        lines.append(f"**Params:** no change ({c.unchanged_params} the same)")
    lines.append("")
    if c.data:
        lines += ["**Data**", "", f"| Role | {a} | {b} | Changed |", "|---|---|---|---|"]
        lines += [f"| {md(d.role)} | {md(_ref(d.old))} | {md(_ref(d.new))} | {', '.join(d.changed)} |" for d in c.data]
    else:
        lines.append("**Data:** no change")
    if c.fields:
        lines += ["", "**Other changes**", "", f"| Field | {a} | {b} |", "|---|---|---|"]
        lines += [f"| {md(f.field)} | {md(f.old)} | {md(f.new)} |" for f in c.fields]
    return "\n".join(lines) + "\n"
