"""Release events from the git history of releases/, rejections and retrain requests.

  mlrelease history [MODEL] [--env ENV] [--limit N]

Newest first: when, who, what, from → to, and why. The table shows the newest 200
events unless --limit says otherwise; --json gives every event (or --limit of them). Events come from the structured
trailers mlrelease writes on every commit; a commit without them (a hand edit of a
release file) still shows, as an "edit" derived from the change itself. Every event whose
commit `mlrelease verify` does not accept is marked (hand-edited, unsigned, unverified:
forged trailers, a deleted record...), and forced gates and break-glass are said. A
release bundle is one event (action "bundle"): what became of each of its models, with the
marks, forced gates and break-glass of every commit in it (in one MODEL's history too:
the other models' commits of the bundle are read for its row), and in --json those
commits' events under "members". With --ref, the history is that of the given ref.

Exit codes: 0 ok; 1 unknown model or environment, or no git repository; 2 bad usage.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.text import Text

from mlrelease.cli.args import add_at, add_json, add_limit, registry
from mlrelease.cli.kept import kept
from mlrelease.cli.output import folded, plain, show
from mlrelease.errors import UsageError
from mlrelease.registry import layout
from mlrelease.registry.fields import format_timestamp
from mlrelease.registry.timetravel import parse_moment
from mlrelease.textsafe import visible

if TYPE_CHECKING:
    from mlrelease.audit.marks import Found
    from mlrelease.registry.history import Event
    from mlrelease.registry.loader import Registry

EDIT = "edit"  # registry.history.EDIT (checked by a test): the parser is imported only when events are computed

TABLE_LIMIT = 200
STYLES = {"bundle": "bold cyan", "promote": "green", "rollback": "yellow", "outcome": "blue", "reject": "red", EDIT: "magenta"}
MOVES = {"promote", "rollback", "import", EDIT}  # actions that move a version in or out
PHASE_STYLES = {"Succeeded": "green", "Failed": "red", "Pending": "yellow"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", metavar="MODEL", help="only this model's events")
    parser.add_argument("--env", metavar="ENV", help="only events in this environment")
    add_limit(parser, "at most N events (newest)")
    parser.add_argument("--since", metavar="WHEN", help="only events at or after WHEN (ISO date or time, or 'N days ago')")
    parser.add_argument("--until", metavar="WHEN", help="only events at or before WHEN (the history as it stood then)")
    add_at(parser)
    add_json(parser)


def run(args: argparse.Namespace) -> int:
    since = None if args.since is None else parse_moment(args.since)
    if args.until is not None:
        if args.at is not None:
            raise UsageError("give --until or --at, not both: both say up to when the history is read")
        args.at = args.until
    if args.json:
        if since is not None:  # a window of the history: not kept (a relative --since is a new question every second)
            return _json(args, since)[0]
        # One answer per tip commit (cli/kept.py); of the work tree history reads only what checks MODEL and --env.
        inputs = [layout.CONFIG, *([layout.model_path(args.model)] if args.model else [])]
        params = (args.model, args.env, args.limit)
        return kept(args, "history --json", params, lambda: _json(args, None), whole_tree=False, inputs=inputs)
    from mlrelease.audit import marks
    from mlrelease.registry.bundles import grouped
    from mlrelease.registry.history import history, iter_history

    # A table of thousands of rows helps no one and takes seconds to lay out: without
    # --limit, people see the newest TABLE_LIMIT events and are told there are more.
    limit = args.limit or TABLE_LIMIT + 1
    with registry(args) as reg:
        found, unchecked = marks.safe_findings(reg, marks.BUDGET)
        if since is None:
            read = history(reg, args.model, args.env, limit)
        else:
            read = list(_since(iter_history(reg, args.model, args.env, None), since, limit))
        shown = list(_whole(reg, args, grouped(marks.mark_events(read, found)), found))
    more = args.limit is None and len(read) > TABLE_LIMIT  # read: the events before a bundle's are folded into one
    render(shown[:TABLE_LIMIT] if more else shown)
    if more:
        show(Text("… older events not shown: use --limit N for more, or --json for all", style="dim"))
    if unchecked:
        show(Text(f"the events are not verified: {plain(unchecked)}", style="bold red"))
    elif any(e.marks for e in shown):
        show(Text("⚠ marked events are not verified mlrelease actions: `mlrelease verify` says why", style="bold red"))
    return 0


def _json(args: argparse.Namespace, since: datetime | None) -> tuple[int, bool]:
    """Every event as JSON: (exit code, whether the answer is whole; it is not when verify could not run)."""
    from mlrelease.audit import marks  # the parser and verify: imported only when events are computed
    from mlrelease.registry.bundles import grouped
    from mlrelease.registry.history import iter_history

    with registry(args) as reg:
        found, unchecked = marks.safe_findings(reg, marks.BUDGET)
        events = iter_history(reg, args.model, args.env, None if since else args.limit)
        write_events_json(_whole(reg, args, grouped(marks.mark_events(_since(events, since, args.limit), found)), found))
    if unchecked:
        print(f"mlrelease: warning: the events are not verified: {visible(unchecked, single_line=True)}", file=sys.stderr)
    return 0, unchecked is None


def _whole(reg: Registry, args: argparse.Namespace, events: Iterator[Event], found: list[Found]) -> Iterator[Event]:
    """One model's bundle rows say every model's fate and marks (audit.marks.whole_bundles, as the TUI's History tab)."""
    from mlrelease.audit import marks

    return marks.whole_bundles(reg, events, found) if args.model else events


def _since(events: Iterable[Event], since: datetime | None, limit: int | None) -> Iterator[Event]:
    """The events at or after ``since`` (newest first), at most ``limit`` of them."""
    count = 0
    for e in events:
        if since is not None and e.at < since:
            continue  # commit order is not time order everywhere (imports, merges): look at all
        yield e
        count += 1
        if limit is not None and count >= limit:
            return


_FIELDS: list[str] = []  # Event's field names, read when the first event is written


def event_json(e: Event) -> dict[str, Any]:
    """One event as JSON data: its fields (single values, and ``marks`` a list of words), times as ISO text, and ``who``."""
    data: dict[str, Any] = {}
    if not _FIELDS:
        _FIELDS.extend(f.name for f in dataclasses.fields(e))
    for name in _FIELDS:
        value = getattr(e, name)
        data[name] = format_timestamp(value) if isinstance(value, datetime) else value
    data["members"] = [event_json(m) for m in e.members]
    data["who"] = e.who
    return data


def write_events_json(events: Iterable[Event]) -> None:
    """``{"events": [...]}`` exactly as :func:`print_json` writes it, but one event at a time.

    A registry's whole history is 100,000 events and more: built as one document it held
    a gigabyte and spent seconds in the pure-Python encoder that ``indent`` selects. Each
    event is a flat mapping, so its indented form is written here directly, each value
    through the C encoder (ASCII-escaped, as print_json does), and nothing is held.
    """
    write = sys.stdout.write
    parts: list[str] = []
    first = True
    for e in events:
        body = ",\n".join(f"      {_encode(k)}: {_scalar(v)}" for k, v in event_json(e).items())
        parts.append(('{\n  "events": [\n    {\n' if first else ",\n    {\n") + body + "\n    }")
        first = False
        if len(parts) >= 500:
            write("".join(parts))
            parts = []
    write('{\n  "events": []\n}\n' if first else "".join(parts) + "\n  ]\n}\n")


_encode = json.encoder.encode_basestring_ascii


def _scalar(value: object) -> str:
    if isinstance(value, str):
        return _encode(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, list | tuple | dict):  # e.g. `marks`: nested as print_json's indent nests it, 6 spaces in
        return json.dumps(value, indent=2, ensure_ascii=True).replace("\n", "\n      ")
    return json.dumps(value, ensure_ascii=True)


def why(e: Event) -> Text:
    text = Text(plain(e.reason) if e.reason else "")
    if e.note:
        note = "\n".join(plain(part) for part in e.note.split("; ")) if e.members else plain(e.note)  # a bundle: a line per model
        text.append(("\n" if e.reason else "") + note, style="dim" if e.structured else "magenta")
    if not e.reason and not e.note:
        text.append(plain(e.subject), style="dim")
    if e.forced:
        text.append(f"\nforced gates: {plain(e.forced)}", style="bold red")
    if e.break_glass:
        text.append(f"\nbreak-glass by {plain(e.break_glass)}", style="bold red")
    return text


def action_cell(e: Event) -> Text:
    text = Text(plain(e.action), style=STYLES.get(e.action, ""))
    if not e.structured:
        text.append("\n(hand edit)" if e.action == EDIT else "\n(no trailers)", style="dim")
    if e.phase:
        text.append(f"\n{plain(e.phase)}", style=PHASE_STYLES.get(e.phase, ""))
    for m in e.marks:
        text.append(f"\n⚠ {plain(m)}", style="bold red")
    for m in e.accepted:
        text.append(f"\n✓ {plain(m)}", style="dim")
    return text


def move_cell(e: Event) -> Text:
    """``previous → version`` for moves; the version alone for an outcome, approval, rejection."""
    if e.previous is None and e.version is None:
        return Text("—", style="dim")
    text = Text()
    if e.previous != e.version and (e.previous is not None or e.action in MOVES):
        text.append(f"{plain(e.previous) if e.previous else ''} → ")
    text.append(plain(e.version) if e.version else "nothing", style="bold")
    if e.canary_weight:
        text.append(f"\ncanary {plain(e.canary_weight)}%", style="magenta")
    return text


def who_cell(e: Event) -> Text:
    text = Text(plain(e.who))
    if e.actor and e.actor != e.author:
        text.append(f"\nvia {plain(e.author)}", style="dim")
    return text


def details(e: Event) -> Text:
    bits = [("bundle", e.bundle), ("id", e.promotion_id), ("backend", e.backend), ("ref", e.backend_ref), ("source", e.source)]
    return Text("\n".join(f"{k} {plain(v)}" for k, v in bits if v), style="dim")


def render(events: list[Event]) -> None:
    if not events:
        show(Text("No release events found."))
        return
    rows = [
        [
            plain(e.at),
            who_cell(e),
            action_cell(e),
            plain(e.model),
            plain(e.environment),
            move_cell(e),
            why(e),
            details(e),
            e.commit[:10],
        ]
        for e in events
    ]
    show(folded(["When", "Who", "Action", "Model", "Env", "From → To", "Why", "Details", "Commit"], rows))
