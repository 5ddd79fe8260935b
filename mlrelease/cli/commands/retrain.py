"""Request retraining of a model: record the request, call the retrain backend, record its answer.

The backend is `retrain.backend` in mlrelease.yaml. The request is kept in
retrain/<model>.yaml (Pending, then Succeeded or Failed with the backend's reference).
While a request is Pending, another is refused (exit 4) until `mlrelease reconcile`.
"""

from __future__ import annotations

import argparse

from mlrelease.cli import actions
from mlrelease.release.plan import Request


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL")
    parser.add_argument("--reason", metavar="TEXT", help="why (required; recorded with the request)")
    actions.add_flags(parser)


def run(args: argparse.Namespace) -> int:
    actions.require_reason(args, "retrain")
    return actions.run(args, Request("retrain", args.model, reason=args.reason))
