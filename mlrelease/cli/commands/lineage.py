"""Lineage of a model version, or the impact of a data set version.

  mlrelease lineage MODEL@VERSION             upstream: data sets by role, code, parent chain;
                                              downstream: consumers, where live, child versions
  mlrelease lineage --dataset NAME@VERSION    every model version trained, validated or tested
                                              on it, and where those are live now (the table
                                              shows every live one, and up to --limit rows)
  mlrelease lineage --dataset NAME            the same for every version of the data set
  mlrelease lineage --consumer APP            which models the application APP calls (the
                                              model.yaml consumers naming it), in which
                                              environments, and what is live there now

Exit codes: 0 ok; 1 unknown model, version, data set or consumer, or an unreadable manifest
met on the way (the rest is still shown); 2 bad syntax, or not exactly one of the forms.
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.text import Text
from rich.tree import Tree

from mlrelease.cli.args import add_at, add_json, add_limit, model_at_version, registry
from mlrelease.cli.kept import kept
from mlrelease.cli.output import folded, plain, plural, print_json, report_problems, show, to_data
from mlrelease.errors import UsageError
from mlrelease.registry.lineage import ConsumerCall, DatasetImpact, DatasetUse, Lineage, consumer_calls, dataset_impact, lineage
from mlrelease.registry.names import split_ref, version_key

TABLE_LIMIT = 100


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", nargs="?", metavar="MODEL@VERSION", help="the model version to trace")
    parser.add_argument(
        "--dataset",
        metavar="NAME[@VERSION]",
        help="show what was trained or validated on this data set: one version (NAME@VERSION) or any version (NAME)",
    )
    parser.add_argument("--consumer", metavar="APP", help="show which models the application APP calls, where, and what is live there")
    add_limit(parser, f"--dataset table: at most N rows, live versions first (default {TABLE_LIMIT}; --json lists all)")
    add_at(parser)
    add_json(parser)


def run(args: argparse.Namespace) -> int:
    if sum(x is not None for x in (args.target, args.dataset, args.consumer)) != 1:
        raise UsageError("give one of MODEL@VERSION, --dataset NAME[@VERSION] or --consumer APP")
    if args.consumer is not None:
        with registry(args) as reg:
            calls, problems = consumer_calls(reg, args.consumer)
        if args.json:
            print_json({"consumer": args.consumer, "calls": [call_json(c) for c in calls], "problems": [p.to_json() for p in problems]})
        else:
            render_calls(args.consumer, calls)
        return report_problems(problems)
    if args.dataset is not None:
        name, version = split_ref(args.dataset, "NAME@VERSION") if "@" in args.dataset else (args.dataset, None)
        if not name:
            raise UsageError(f"expected NAME or NAME@VERSION, got {args.dataset!r}")
        if args.json:  # one answer per state of the registry (cli/kept.py): it reads every manifest's index row
            return kept(args, "lineage --dataset --json", (name, version), lambda: _impact(args, name, version), whole_tree=True)
        return _impact(args, name, version)[0]
    model, version = model_at_version(args.target)
    with registry(args) as reg:
        lin = lineage(reg, model, version)
    if args.json:
        print_json({"model": model, "version": version, **lineage_json(lin)})
    else:
        show(lineage_tree(lin))
    return report_problems(lin.problems)


def _impact(args: argparse.Namespace, name: str, version: str | None) -> tuple[int, bool]:
    """(exit code, whether the answer is whole: always, its problems make the exit code)."""
    with registry(args) as reg:
        impact = dataset_impact(reg, name, version)
    if args.json:
        print_json(impact_json(impact))
    else:
        render_impact(impact, args.limit or TABLE_LIMIT)
    return report_problems(impact.problems), True


def lineage_json(lin: Lineage) -> dict[str, Any]:
    return {
        "upstream": {
            "data": [{"role": d.role, **to_data(d.ref), "manifest": to_data(d.manifest)} for d in lin.data],
            "code": to_data(lin.code),
            "parents": [to_data(a) for a in lin.parents.ancestors],
            "parents_end": {"kind": lin.parents.end, "at": lin.parents.at},
        },
        "downstream": {
            "consumers": [{**to_data(c.consumer), "affected": c.affected} for c in lin.consumers],
            "live_in": [{"environment": p.environment, "role": p.role, "weight": p.weight} for p in lin.placements],
            "children": list(lin.children),
        },
        "problems": [p.to_json() for p in lin.problems],
    }


def impact_json(impact: DatasetImpact) -> dict[str, Any]:
    return {
        "dataset": impact.name,
        "version": impact.version,
        "manifest": to_data(impact.manifest),
        "uses": [
            {
                "model": u.model,
                "version": u.version,
                "roles": list(u.roles),
                "dataset_versions": list(u.used),
                "live_in": [{"environment": p.environment, "role": p.role, "weight": p.weight} for p in u.placements],
            }
            for u in impact.uses
        ],
        "problems": [p.to_json() for p in impact.problems],
    }


def _t(*parts: tuple[object, str] | object) -> Text:
    """A tree label from literal pieces: (value, style) pairs or plain values."""
    text = Text()
    for part in parts:
        value, style = part if isinstance(part, tuple) else (part, "")
        text.append(plain(value), style=style)
    return text


def lineage_tree(lin: Lineage) -> Tree:
    v = lin.version
    tree = Tree(_t((f"{v.model}@{v.version}", "bold")))
    up = tree.add(_t(("upstream", "bold")))
    data = up.add(_t("data sets"))
    for d in lin.data:
        ref = d.ref
        extra = []
        if ref.rows is not None:
            extra.append(f"{ref.rows:,} rows")
        if ref.digest:
            extra.append(f"digest {ref.digest}")
        label = _t(f"{d.role}: ", (f"{ref.dataset}@{ref.version}", "bold"), f"  {', '.join(extra)}" if extra else "")
        if d.manifest is None:
            label.append("  (no data set manifest)", style="dim")
        elif d.manifest.uri:
            label.append(f"  {plain(d.manifest.uri)}", style="dim")
        data.add(label)
    if not lin.data:
        data.add(_t(("none recorded", "dim")))
    code = lin.code
    if code is not None:
        up.add(_t("code: ", code.repo or "?", " @ ", (code.commit or "?", "bold"), f"  {code.entrypoint}" if code.entrypoint else ""))
    else:
        up.add(_t("code: ", ("not recorded", "dim")))
    chain = " ← ".join(plain(a.version) for a in lin.parents.ancestors)
    end = lin.parents.describe_end()
    style = "" if lin.parents.end == "root" else "red"
    up.add(_t("parents: ", (chain or "none", "bold"), (f"  ({end})", style or "dim")))
    down = tree.add(_t(("downstream", "bold")))
    live = ", ".join(p.describe() for p in lin.placements)
    down.add(_t("live in: ", (live, "bold") if live else ("not live anywhere", "dim")))
    consumers = down.add(_t("consumers"))
    for c in lin.consumers:
        envs = f" ({', '.join(c.consumer.environments)})" if c.consumer.environments else " (all environments)"
        consumers.add(_t((c.consumer.name, "bold"), envs, ("  ◆ calls this version now", "yellow") if c.affected else ""))
    if not lin.consumers:
        consumers.add(_t(("none declared in model.yaml", "dim")))
    down.add(_t("children: ", (", ".join(lin.children), "bold") if lin.children else ("none", "dim")))
    return tree


def shown_uses(impact: DatasetImpact, limit: int) -> list[DatasetUse]:
    """What matters most first: every live use, then the newest of the rest, in table order."""
    live = [u for u in impact.uses if u.placements]
    rest = [u for u in impact.uses if not u.placements]
    room = max(limit - len(live), 0)
    newest = sorted(rest, key=lambda u: version_key(u.version))[len(rest) - room :] if room else []
    keep = {(u.model, u.version) for u in (*live[:limit], *newest)}
    return [u for u in impact.uses if (u.model, u.version) in keep]


def render_impact(impact: DatasetImpact, limit: int) -> None:
    head = _t((impact.name if impact.version is None else f"{impact.name}@{impact.version}", "bold"))
    m = impact.manifest
    if m is not None:
        if m.rows is not None:
            head.append(f"  {m.rows:,} rows")
        if m.uri:
            head.append(f"  {plain(m.uri)}", style="dim")
        if m.digest:
            head.append(f"  digest {plain(m.digest)}", style="dim")
    elif impact.version is None:
        head.append("  (every version)", style="dim")
    else:
        head.append("  (no data set manifest)", style="dim")
    head.append(f"\nused by {len(impact.uses)} model versions, {len(impact.live_uses)} of them live now")
    uses = shown_uses(impact, limit)
    rows = [
        [
            u.model,
            u.version,
            ", ".join(u.roles) if impact.version is not None else ", ".join(f"{r}@{v}" for r, v in zip(u.roles, u.used, strict=True)),
            Text(", ".join(plain(p.describe()) for p in u.placements), style="bold yellow")
            if u.placements
            else Text("not live", style="dim"),
        ]
        for u in uses
    ]
    parts: list[Any] = [head, Text(""), folded(["Model", "Version", "Used as", "Live in"], rows)]
    if len(uses) < len(impact.uses):
        hidden = len(impact.uses) - len(uses)
        parts.append(Text(f"… {hidden} more model versions not shown: use --limit N for more, or --json", style="dim"))
    show(*parts)


def call_json(call: ConsumerCall) -> dict[str, Any]:
    return {
        "model": call.model,
        "environments": list(call.consumer.environments) or None,
        "contact": call.consumer.contact,
        "description": call.consumer.description,
        "running": [{"environment": env, "version": v, "role": p.role, "weight": p.weight} for env, v, p in call.running],
    }


def render_calls(application: str, calls: tuple[ConsumerCall, ...]) -> None:
    head = _t((application, "bold"), f" calls {plural(len(calls), 'model')}")
    rows = []
    for call in calls:
        envs = ", ".join(call.consumer.environments) or "all environments"
        running = ", ".join(f"{plain(v)} in {plain(p.describe())}" for _env, v, p in call.running)
        rows.append(
            [
                call.model,
                envs,
                Text(running, style="bold yellow") if running else Text("nothing live there", style="dim"),
                call.consumer.contact or "",
            ]
        )
    show(head, Text(""), folded(["Model", "Called in", "Live there now", "Contact"], rows))
