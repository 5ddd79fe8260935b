"""Import a team's models and release history from MLflow or GTO.

    mlrelease import mlflow --tracking-uri https://mlflow.example.com \\
        [--model NAME ...] [--alias-map champion=production ...] [--push]
    mlrelease import gto [PATH] [--stage-map prod=production ...] [--push]

mlflow: registered models, READY versions (with their run's metrics, params, code
lineage and log_input data sets, and their MLflow 3 logged model's metrics) and aliases
mapped to environments become model.yaml files, version manifests and release states,
in ONE commit (Mlrelease-Action: import). Aliases that map to no environment are listed
as skipped. MLflow version N becomes
version --version-format (default N.0.0 under semver). Credentials come from
MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD.

gto: the annotated GTO tags of the git repository at PATH (default: the current folder)
— registrations, stage assignments, un-assignments, deregistrations, deprecations — and
its artifacts.yaml become manifests and release history: one commit per event, in event
order, dated and authored as the tag was, the tag message as the reason. Stages map to
environments with --stage-map (default: same name).

Both import only what is new: run them again (e.g. nightly) and nothing already imported
is written twice; when nothing is new, no commit is made. Neither ever changes a release
state that mlrelease owns, or one that is pinned or pending: the import stops and names it. A name that does not follow the
registry's conventions stops the import before anything is written; map it with
--rename SOURCE=MODEL. Docs: docs/mlflow.md, docs/gto.md.

Exit codes: 0 imported (or nothing new); 1 refused (names, unknown environments, clashes,
source unreachable) — nothing written; 2 bad arguments; 6 push kept being rejected.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from mlrelease.cli import _common
from mlrelease.cli.args import add_json, registry
from mlrelease.cli.output import console, plain, print_json
from mlrelease.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="source", metavar="SOURCE", required=True)
    mlflow = sub.add_parser(
        "mlflow", help="an MLflow model registry (REST API)", description="Import registered models, versions and aliases from MLflow."
    )
    mlflow.add_argument("--tracking-uri", metavar="URI", help="the MLflow tracking server (default: $MLFLOW_TRACKING_URI)")
    mlflow.add_argument(
        "--model", action="append", default=[], metavar="NAME", help="a registered model to import (repeatable; default: all)"
    )
    mlflow.add_argument(
        "--alias-map",
        action="append",
        default=None,
        metavar="ALIAS=ENV",
        help="an alias that stands for an environment (repeatable; default: aliases named like an environment, and those of the registry's mlflow backends)",
    )
    mlflow.add_argument(
        "--version-format", metavar="TEMPLATE", help="the version for MLflow version {n} (default: {n}.0.0 under semver, else {n})"
    )
    gto = sub.add_parser(
        "gto", help="a GTO-managed git repository (tags)", description="Import GTO tags and artifacts.yaml as release history."
    )
    gto.add_argument("path", nargs="?", default=".", type=Path, metavar="PATH", help="the GTO repository (default: the current folder)")
    gto.add_argument("--model", action="append", default=[], metavar="NAME", help="a GTO artifact to import (repeatable; default: all)")
    gto.add_argument(
        "--stage-map",
        action="append",
        default=[],
        metavar="STAGE=ENV",
        help="the environment a GTO stage stands for (repeatable; default: same name)",
    )
    for p in (mlflow, gto):
        p.add_argument(
            "--rename", action="append", default=[], metavar="SOURCE=MODEL", help="import a model under another name (repeatable)"
        )
        p.add_argument("--owner", help="owner of models created by the import (default: the source's owner tag, else 'unknown')")
        p.add_argument("--push", action="store_true", help="push what is imported to the config's remote (default origin)")
        add_json(p)
        _common(p, suppress=True)


def run(args: argparse.Namespace) -> int:
    from mlrelease.interop.common import pairs

    if args.ref is not None:
        raise UsageError("import writes to the checked-out branch; --ref cannot be used with it")
    if args.owner is not None and not args.owner.strip():
        raise UsageError("--owner must not be empty")
    with registry(args) as reg:
        root = reg.root
    renames = pairs(args.rename, "--rename")
    if args.source == "mlflow":
        from mlrelease.interop.mlflow_import import Options, import_mlflow

        opts = Options(
            tracking_uri=args.tracking_uri,
            models=tuple(args.model),
            alias_map=None if args.alias_map is None else pairs(args.alias_map, "--alias-map"),
            renames=renames,
            version_format=args.version_format,
            owner=args.owner,
            push=args.push,
        )
        report = import_mlflow(root, opts, os.environ)
    else:
        from mlrelease.interop.gto_import import GtoOptions, import_gto

        gopts = GtoOptions(
            models=tuple(args.model), stage_map=pairs(args.stage_map, "--stage-map"), renames=renames, owner=args.owner, push=args.push
        )
        report = import_gto(root, args.path, gopts)
    if args.json:
        print_json(report.to_json())
        return 0
    out = console()
    if not report.commits:
        out.print(f"Nothing new from {plain(report.source)}: {_n(report.unchanged, 'item')} already in the registry; no commit made.")
    else:
        what = f"{_n(len(report.models), 'new model')}, {_n(len(report.versions), 'version')}, {_n(len(report.releases), 'release state change')}"
        commits = (
            f"commit {plain(report.commits[0][:10])}" if len(report.commits) == 1 else f"{len(report.commits)} commits (one per event)"
        )
        pushed = " (pushed)" if report.pushed else ""
        out.print(f"Imported from {plain(report.source)}: {what} in {commits}{pushed}, {report.seconds:.1f} s.")
        for item in report.versions[:20]:
            out.print(f"  version {plain(item)}")
        if len(report.versions) > 20:
            out.print(f"  ... and {len(report.versions) - 20} more versions")
        for item in list(dict.fromkeys(report.releases))[:20]:  # GTO: one entry per event; each state once
            out.print(f"  release {plain(item)}")
    for item in report.skipped:
        out.print(f"skipped: {plain(item)}")
    for item in report.warnings:
        out.print(f"warning: {plain(item)}")
    return 0


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"
