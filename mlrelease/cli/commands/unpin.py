"""Lift the pin a rollback set on a model in an environment, so promotions are allowed again."""

from __future__ import annotations

import argparse

from mlrelease.cli.commands.pin import hold_arguments, run_hold


def add_arguments(parser: argparse.ArgumentParser) -> None:
    hold_arguments(parser, "unpin", reason="why (required; recorded in the audit trail)")


def run(args: argparse.Namespace) -> int:
    return run_hold(args, "unpin")
