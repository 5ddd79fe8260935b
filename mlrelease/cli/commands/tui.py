"""Open the keyboard-first dashboard on a registry (the default when run in a terminal).

Views: overview of every model, a model's versions, metric trend, lineage, history,
telemetry and drift, and the comparison of two versions. Actions (promote, rollback,
retrain, approve, reject, unpin) show their plan — every gate with its numbers, the
backend call, the commit — and ask for a reason and an explicit y/n. `?` shows the keys.

--readonly disables every action (so does `read_only: true` on an environment, for that
environment); reading a --ref is always read-only. Keys can be remapped in
$XDG_CONFIG_HOME/mlrelease/config.yaml (see docs/tui.md).

Exit codes: 0 ok; 1 registry or config problem; 2 not run in a terminal.
"""

from __future__ import annotations

import argparse

from mlrelease.cli.args import add_at, resolve_at


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--readonly", action="store_true", help="browse only: every action is refused")
    add_at(parser)


def run(args: argparse.Namespace) -> int:
    from mlrelease.tui.main import run_tui

    found = resolve_at(args)
    return run_tui(args.repo, args.ref, readonly=args.readonly, as_of=found.asked if found else None)
