"""Notifications: try a channel, list channels and routes, read the delivery log.

  mlrelease notify test CHANNEL   send a test message to one channel now
  mlrelease notify channels       the channels of mlrelease.yaml's notify: section, whether
                                  each one's environment variable is set, and the routes
  mlrelease notify log [--failed] every delivery recorded on this clone, newest first

Channels are Apprise URLs read from environment variables (docs/notifications.md); a
channel is shown as `name (scheme://host)`, never with its tokens. Releases announce
themselves after their record is written; a notification that fails is recorded in
`.git/mlrelease/notifications.jsonl` and shown as a note, never a failed release. The
TUI shows the same log (key N) and counts the failures since it was last looked at.

Exit codes: 0 sent (test) or listed; 1 not delivered (the line says why), no such
channel, or the notify section has problems (channels).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from rich.text import Text

from mlrelease.cli.args import add_json, add_limit, registry
from mlrelease.cli.output import console, plain, print_json, report_error, table
from mlrelease.errors import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="notify_command", metavar="SUBCOMMAND", required=True)
    test = sub.add_parser("test", help="send a test message to CHANNEL now")
    test.add_argument("channel", metavar="CHANNEL", help="a channel name under notify.channels")
    add_json(test)
    channels = sub.add_parser("channels", help="channels, whether their environment variable is set, and which events go where")
    add_json(channels)
    log = sub.add_parser("log", help="deliveries recorded on this clone, newest first")
    log.add_argument("--failed", action="store_true", help="only the ones that were not delivered")
    add_limit(log, "at most N entries (default 50)", default=50)
    add_json(log)


def run(args: argparse.Namespace) -> int:
    return {"test": _test, "channels": _channels, "log": _log}[args.notify_command](args)


def _test(args: argparse.Namespace) -> int:
    from mlrelease.gitstore.gitwrite import identity
    from mlrelease.notify import send

    with registry(args) as reg:
        section, root = reg.config.notify, reg.root
    try:
        actor = str(identity(root))
    except Exception:  # a test message needs no git identity
        actor = "an unknown user"
    delivery = send.test(root, section, args.channel, actor=actor)
    code = ExitCode.OK if delivery.ok else ExitCode.PROBLEM
    if args.json:
        print_json({"delivery": delivery.to_json(), "exit_code": int(code)})
    if delivery.ok:
        if not args.json:
            console().print(Text(f"{plain(args.channel)}: {plain(delivery.detail)}", style="green"))
    else:
        report_error(f"channel {args.channel}: not delivered: {delivery.detail}", int(code))
    return int(code)


def _channels(args: argparse.Namespace) -> int:
    from mlrelease.notify.config import EVENTS, read

    with registry(args) as reg:
        config, problems = read(reg.config.notify, reg.config.environment_names)
    channels: list[dict[str, Any]] = [
        {"name": c.name, "url_env": c.url_env, "set": bool(os.environ.get(c.url_env)), "events": _events_of(config, c.name)}
        for c in config.channels.values()
    ]
    routes: list[dict[str, Any]] = [
        {"event": e, "channels": list(r.channels), "environments": list(r.environments) or None} for e, r in config.routes.items()
    ]
    if args.json:
        print_json(
            {
                "channels": channels,
                "routes": routes,
                "events": EVENTS,
                "timeout": config.timeout,
                "problems": [str(p) for p in problems],
            }
        )
    else:
        out = console()
        if not channels:
            out.print("no notification channels (add a notify: section to mlrelease.yaml; see docs/notifications.md)")
        else:
            rows = [[c["name"], c["url_env"], "set" if c["set"] else "NOT SET", ", ".join(c["events"]) or "—"] for c in channels]
            out.print(table(["channel", "URL from", "", "events"], rows, title="Channels"))
        if routes:
            rows = [[r["event"], ", ".join(r["channels"]), ", ".join(r["environments"] or ["every environment"])] for r in routes]
            out.print(table(["event", "channels", "where"], rows, title="Routes"))
        for p in problems:
            report_error(str(p), int(ExitCode.PROBLEM))
    return int(ExitCode.PROBLEM if problems else ExitCode.OK)


def _events_of(config: object, name: str) -> list[str]:
    routes = getattr(config, "routes", {})
    return [e for e, r in routes.items() if name in r.channels]


def _log(args: argparse.Namespace) -> int:
    from mlrelease.notify import journal

    with registry(args) as reg:
        entries = journal.read(reg.root, limit=args.limit, failed_only=args.failed)
    if args.json:
        print_json({"deliveries": [e.to_json() for e in entries]})
        return int(ExitCode.OK)
    if not entries:
        console().print("no notifications recorded on this clone" + (" that failed" if args.failed else ""))
        return int(ExitCode.OK)
    rows = [
        [
            e.to_json()["at"],
            e.event,
            e.channel,
            Text("sent", style="green") if e.ok else Text("FAILED", style="bold red"),
            " ".join(v for v in (e.model, e.environment) if v) or "—",
            e.detail,
        ]
        for e in entries
    ]
    console().print(table(["at", "event", "channel", "", "what", "detail"], rows, title="Notifications"))
    return int(ExitCode.OK)
