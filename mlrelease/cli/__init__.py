"""The headless face: parse arguments, call the services, print tables or JSON.

Each command lives in ``mlrelease/cli/commands/<module>.py`` and exposes ``add_arguments``
and ``run``; :data:`COMMANDS` maps command names to those modules. Command modules import
their heavy dependencies inside ``run`` so that ``--help`` and quick commands stay fast,
and nothing here imports Textual except the ``tui``/``demo`` commands when they run.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import NoReturn

from mlrelease import __version__
from mlrelease.errors import ExitCode, MlreleaseError, UsageError
from mlrelease.secrets import redacting

# Textual owns the terminal for these: their output is not line-oriented text to redact.
FULL_SCREEN = ("tui", "demo")

# command name → (module under mlrelease/cli/commands, one-line help), in `--help` order.
COMMANDS: dict[str, tuple[str, str]] = {
    "list": ("list_", "every model: owner, versions, live version per environment, headline metrics"),
    "show": ("show", "one model's versions and where each is live, or one version's whole manifest"),
    "diff": ("diff", "compare two versions: metrics better/worse by goal, params, data (table, markdown, json)"),
    "lineage": ("lineage", "upstream and downstream of a model version, or the impact of a data set version"),
    "history": ("history", "release events from git: when, who, what, from → to, why"),
    "lint": ("lint", "check every file: parses, follows the conventions, references resolve"),
    "verify": ("verify", "audit the release history: every change an mlrelease action, signed and approved as required"),
    "init": ("init", "create a new registry (config, folders, CI lint workflows) and commit it"),
    "register": ("register", "register a trained model version: write its manifest and commit it"),
    "model": ("model", "set a model's owner, description, task, tags, headline and consumers (model.yaml), or create it"),
    "dataset": ("dataset", "publish a data set version's manifest (dataset register) and commit it"),
    "promote": ("promote", "promote MODEL@VERSION to an environment: gates, intent, backend, outcome (--canary, --dry-run)"),
    "plan": ("plan", "show what an action would do (gates, backend call, commits) and change nothing"),
    "rollback": ("rollback", "roll a model back in an environment (default: what was live before) and pin it"),
    "pin": ("pin", "hold a model in an environment (pause a rollout): promotions wait until unpin"),
    "unpin": ("unpin", "lift a rollback's pin so promotions are allowed again"),
    "approve": ("approve", "approve MODEL@VERSION for an environment as your git identity (--break-glass for an emergency)"),
    "review": ("review", "review a break-glass promotion after the fact, so the faces stop flagging it"),
    "reject": ("reject", "reject MODEL@VERSION: never promotable again without --force"),
    "retrain": ("retrain", "request retraining through the retrain backend and record the request"),
    "reconcile": ("reconcile", "finish what a crash left Pending: ask the backend, record the truth"),
    "rollout": ("rollout", "drive a canary through the environment's rollout strategy: advance, finish, hold or abort on evidence"),
    "check": ("check", "which live models are due for retraining and why, health per environment (--trigger starts retraining)"),
    "telemetry": ("telemetry", "a model's live figures over time per environment, and its drift per feature"),
    "ab": ("ab", "the A/B report of a canary: challenger vs champion per metric (test, CI, p-value), per-arm drift"),
    "notify": ("notify", "notifications: send a test to a channel, list channels and routes, read the delivery log"),
    "backends": ("backends", "list installed backend types and configured backends, with a health check"),
    "import": ("import_", "import models and release history from MLflow (REST) or GTO (git tags)"),
    "tui": ("tui", "open the keyboard-first dashboard (the default in a terminal); --readonly to browse only"),
    "serve": ("serve", "serve the dashboard to web browsers (textual-serve); read-only unless --allow-actions"),
    "demo": ("demo", "build the bundled example registry (a bank's fraud models, with history) and open it"),
}


class Parser(argparse.ArgumentParser):
    """argparse, except that a usage error under ``--json`` also prints the JSON document scripts read.

    The README promises every error with ``--json`` as ``{"error": ..., "exit_code": ...}`` on
    stdout; argparse's own errors (a missing argument, an unknown flag, a bad number) exit 2
    before any command runs, so they are answered here. The usage text still goes to stderr.
    """

    json_wanted = False  # set by main() from the command line, before parsing

    def error(self, message: str) -> NoReturn:
        if Parser.json_wanted:
            from mlrelease.cli.output import print_json

            print_json({"error": message, "exit_code": int(ExitCode.USAGE)})
        super().error(message)


def _common(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--repo", type=Path, metavar="PATH", default=default, help="registry folder (default: found upward from the current folder)"
    )
    parser.add_argument(
        "--ref", metavar="REF", default=default, help="read the registry at a git ref (branch, tag, commit) instead of the work tree"
    )
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS if suppress else False, help="show a traceback on errors")


def _load(module: str) -> ModuleType:
    return importlib.import_module(f"mlrelease.cli.commands.{module}")


def _chosen(argv: Sequence[str]) -> str | None:
    """The command named in ``argv``, found without importing any command module."""
    value_next = False
    for word in argv:
        if value_next:
            value_next = False
        elif word in ("--repo", "--ref"):
            value_next = True
        elif not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, just that command (a run parses only its own arguments).

    ``only=""`` imports no command module and lists every command (the top-level ``--help``
    and ``--version``); ``None`` imports all.
    """
    parser = Parser(
        prog="mlrelease",
        description="Release manager for machine-learning models, with a git repository as the system of record. "
        "Run without a command in a terminal to open the dashboard.",
        epilog="Exit codes: 0 ok, 1 registry or input problem, 2 usage, 3 gate refused, 4 stale state, "
        "5 backend failed, 6 retries exhausted, 7 read-only, 8 retraining due, 9 rollout aborted, "
        "10 rollout needs a person (see README).",
    )
    parser.add_argument("--version", action="version", version=f"mlrelease {__version__}")
    _common(parser, suppress=False)
    common = Parser(add_help=False)
    _common(common, suppress=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, summary) in COMMANDS.items():
        if only is not None and name != only:
            if not only:  # the command list of the top-level --help (30 parsers cost a run ~10 ms)
                sub.add_parser(name, help=summary)  # importing every command would cost each run ~0.2 s
            continue
        mod = _load(module)
        p = sub.add_parser(
            name,
            help=summary,
            description=(mod.__doc__ or summary).strip(),
            parents=[common],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        mod.add_arguments(p)
        p.set_defaults(_module=mod)
    return parser


def _refuse_empty_values(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """An option given ``--`` as its value (``--reason=--``): argparse hands back a list, not text."""
    parsers = [parser]
    for action in parser._subparsers._group_actions if parser._subparsers else ():
        choices = getattr(action, "choices", None) or {}
        if args.command in choices:
            parsers.append(choices[args.command])
    for p in parsers:
        for action in p._actions:
            value = getattr(args, action.dest, None)
            if type(action) is argparse._StoreAction and action.nargs is None and action.option_strings and isinstance(value, list):
                raise UsageError(f"{action.option_strings[-1]} needs a value; write it as {action.option_strings[-1]}='TEXT'")


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    Parser.json_wanted = "--json" in (args_list[: args_list.index("--")] if "--" in args_list else args_list)
    # No command named (``--version``, ``--help``, nothing): import no command module at all,
    # so answering costs the interpreter's start and this module, not every command's imports.
    parser = build_parser(_chosen(args_list) or "")
    args = parser.parse_args(args_list)
    if args.command is None:
        if sys.stdin.isatty() and sys.stdout.isatty() and "tui" in COMMANDS:
            args = build_parser("tui").parse_args([*args_list, "tui"])
        else:
            parser.print_help(sys.stderr)
            return ExitCode.USAGE
    if args.command in FULL_SCREEN:
        return _run(parser, args)
    with redacting():  # every line printed passes the one redaction (mlrelease.secrets)
        return _run(parser, args)


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        _refuse_empty_values(parser, args)
        return int(args._module.run(args) or 0)
    except MlreleaseError as exc:
        if args.debug:
            # --debug adds a traceback on stderr and changes nothing else: exit codes and
            # --json output are an API.
            traceback.print_exc(file=sys.stderr)
        from mlrelease.cli.output import report_error

        report_error(str(exc), int(exc.exit_code), json_mode=getattr(args, "json", False))
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("mlrelease: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception:  # a bug: its traceback still goes through the redacting stderr
        traceback.print_exc(file=sys.stderr)
        return 1
