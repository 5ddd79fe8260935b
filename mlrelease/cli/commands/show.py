"""Show one model, or one version of it.

  mlrelease show MODEL            its versions with their metrics and where each is live
  mlrelease show MODEL@VERSION    the whole manifest, a lineage summary, where it is live

Exit codes: 0 ok; 1 unknown model or version, or an unreadable file (a model's other
versions are still shown); 2 bad MODEL@VERSION syntax.
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Group
from rich.text import Text

from mlrelease.cli.args import add_at, add_json, add_limit, model_at_version, registry
from mlrelease.cli.commands.lineage import lineage_json, lineage_tree
from mlrelease.cli.commands.list_ import env_cell, env_json
from mlrelease.cli.output import block, cell, folded, plain, print_json, report_problems, show, to_data
from mlrelease.registry.fields import scalar_text
from mlrelease.registry.lineage import VersionView, version_view
from mlrelease.registry.overview import ModelView, Placement, model_view
from mlrelease.registry.types import Config, MetricDef, Version

TABLE_LIMIT = 100


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="MODEL[@VERSION]", help="a model, or one version of it")
    add_limit(parser, f"show MODEL: the newest N versions, plus every live one (table default {TABLE_LIMIT}; --json default all)")
    add_at(parser)
    add_json(parser)


def run(args: argparse.Namespace) -> int:
    if "@" in args.target:
        model, version = model_at_version(args.target)
        with registry(args) as reg:
            view = version_view(reg, model, version)
            config = reg.config
        if args.json:
            print_json(version_json(view))
        else:
            render_version(view, config)
        return report_problems(view.lineage.problems)
    # Laying out thousands of rows takes seconds and helps no one: the table stops at
    # TABLE_LIMIT unless asked for more, and only the versions shown are parsed.
    limit = args.limit if args.limit is not None or args.json else TABLE_LIMIT
    with registry(args) as reg:
        mview = model_view(reg, args.target, limit)
        config = reg.config
    if args.json:
        print_json(model_json(mview))
    else:
        render_model(mview, config)
    return report_problems(mview.problems)


def placement_json(p: Placement) -> dict[str, Any]:
    return {"environment": p.environment, "role": p.role, "weight": p.weight}


def model_json(view: ModelView) -> dict[str, Any]:
    return {
        "model": to_data(view.model),
        "total": view.total,
        "environments": {e.environment: env_json(e) for e in view.environments},
        "metrics": list(view.metrics),
        "versions": [
            {
                "version": row.version,
                "readable": row.manifest is not None,
                "created": to_data(row.manifest.created) if row.manifest else None,
                "author": row.manifest.author if row.manifest else None,
                "description": row.manifest.description if row.manifest else None,
                "parent": row.manifest.parent if row.manifest else None,
                "metrics": dict(row.manifest.metrics) if row.manifest else {},
                "live_in": [placement_json(p) for p in row.placements],
                "rejection": to_data(row.rejection),
            }
            for row in view.versions
        ],
        "problems": [p.to_json() for p in view.problems],
    }


def version_json(view: VersionView) -> dict[str, Any]:
    return {
        "manifest": to_data(view.version),
        "live_in": [placement_json(p) for p in view.lineage.placements],
        "lineage": lineage_json(view.lineage),
        "rejection": to_data(view.rejection),
        "approvals": to_data(view.approvals),
    }


def metric_def(config: Config, name: str) -> MetricDef:
    return config.metrics.get(name) or MetricDef(name, "max")


def where_text(placements: tuple[Placement, ...]) -> Text:
    return Text(", ".join(plain(p.describe()) for p in placements)) if placements else Text("—", style="dim")


def render_model(view: ModelView, config: Config) -> None:
    m = view.model
    head = Text()
    head.append(plain(m.name), style="bold")
    head.append(f"  owner {plain(m.owner)}")
    if m.task:
        head.append(f"  task {plain(m.task)}")
    if m.description:
        head.append(f"\n{block(m.description)}")
    if m.consumers:
        head.append("\nconsumers: " + ", ".join(_consumer(c.name, c.environments) for c in m.consumers))
    envs = folded([plain(e.environment) for e in view.environments], [[env_cell(e) for e in view.environments]])
    columns = ["Version", "Created", "Author", *(plain(n) for n in view.metrics), "Live in", "Note"]
    rows = []
    for row in reversed(view.versions):  # newest first: what people look for
        v = row.manifest
        note = Text()
        if v is None:
            note.append("unreadable manifest", style="red")
        if row.rejection is not None:
            note.append(f"rejected by {plain(row.rejection.by)}: {plain(row.rejection.reason)}", style="red")
        rows.append(
            [
                Text(plain(row.version), style="bold"),
                cell(v.created if v else None),
                cell(v.author if v else None),
                *(metric_def(config, n).render(v.metrics.get(n) if v else None) for n in view.metrics),
                where_text(row.placements),
                note,
            ]
        )
    title = f"{view.total} versions, newest first" if not view.hidden else f"{len(view.versions)} of {view.total} versions, newest first"
    parts: list[Any] = [head, Text(""), envs, Text(""), folded(columns, rows, title=title)]
    if view.hidden:
        parts.append(Text(f"… {view.hidden} older versions not shown: use --limit N for more, or --json", style="dim"))
    show(*parts)


def _consumer(name: str, envs: tuple[str, ...]) -> str:
    return plain(name) + (f" ({', '.join(plain(e) for e in envs)})" if envs else "")


def render_version(view: VersionView, config: Config) -> None:
    v = view.version
    facts: list[tuple[str, object]] = [
        ("model", v.model),
        ("version", v.version),
        ("created", v.created),
        ("author", v.author),
        ("description", v.description),
        ("parent", v.parent),
        ("tags", ", ".join(v.tags) if v.tags else None),
        ("artifact", v.artifact.uri),
        ("artifact.sha256", v.artifact.sha256),
        ("artifact.format", v.artifact.format),
        ("artifact.bytes", v.artifact.bytes),
    ]
    if v.image:
        facts += [("image", v.image.ref), ("image.digest", v.image.digest)]
    if v.code:
        facts += [("code.repo", v.code.repo), ("code.commit", v.code.commit), ("code.entrypoint", v.code.entrypoint)]
    rows = [[k, Text(block(val)) if k == "description" else cell(val)] for k, val in facts if val is not None]
    parts: list[Any] = [folded(["Field", "Value"], rows, title=f"{v.model}@{v.version}")]
    if view.rejection:
        r = view.rejection
        parts.append(Text(f"REJECTED by {plain(r.by)} at {plain(r.at)}: {plain(r.reason)}", style="bold red"))
    parts.append(Text(""))
    parts.append(_metrics_table(v, config))
    if v.params:
        parts += [Text(""), folded(["Param", "Value"], [[k, scalar_text(val)] for k, val in v.params.items()], title="params")]
    if v.data:
        rows = [
            [role, ref.dataset, ref.version, _count(ref.rows), ref.digest, "yes" if d.manifest else "no"]
            for role, ref, d in ((d.role, d.ref, d) for d in view.lineage.data)
        ]
        parts += [Text(""), folded(["Role", "Dataset", "Version", "Rows", "Digest", "Manifest"], rows, title="data")]
    if v.profile:
        rows = [[name, f.kind, f.dtype, len(f.bins), _num(f.mean), _num(f.missing)] for name, f in sorted(v.profile.features.items())]
        title = f"data profile ({_count(v.profile.rows)} rows)" if v.profile.rows is not None else "data profile"
        parts += [Text(""), folded(["Feature", "Type", "Dtype", "Bins", "Mean", "Missing"], rows, title=title)]
    if view.approvals:
        rows = [[env, a.by, a.at, a.comment] for env, approvals in view.approvals.items() for a in approvals]
        parts += [Text(""), folded(["Environment", "Approved by", "At", "Comment"], rows, title="approvals")]
    parts += [Text(""), lineage_tree(view.lineage)]
    show(Group(*parts))


def _metrics_table(v: Version, config: Config) -> Any:
    rows = []
    for name, value in v.metrics.items():
        d = config.metrics.get(name)
        goal = ("higher is better" if d.goal == "max" else "lower is better") if d else "not in the metric catalogue"
        rows.append([name, metric_def(config, name).render(value), d.kind if d else "?", goal])
    return folded(["Metric", "Value", "Kind", "Goal"], rows, title="metrics")


def _count(n: int | None) -> str:
    return f"{n:,}" if n is not None else "—"


def _num(x: float | None) -> str:
    return f"{x:.4g}" if x is not None else "—"
