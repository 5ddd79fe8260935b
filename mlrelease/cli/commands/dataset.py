"""Data sets: publish a data set version's manifest, so a pipeline never writes YAML or runs git.

    mlrelease dataset register card-transactions 2026.03 \\
        --uri s3://data/card-transactions/2026-03/ --digest sha256:HEX --rows 20350000 \\
        --column amount=float --column channel=category --profile profile.json --push

writes datasets/NAME/VERSION.yaml (docs/format.md) with `created` set to now, checked by
the rules of `mlrelease lint` (the data set name and version conventions) against the
branch tip, and commits it with the trailers Mlrelease-Action: register,
Mlrelease-Dataset, -Version and -Actor. Once a data set has a folder, model versions can
only name its published versions, so register the data before the models trained on it.
A data set version is immutable: registering it again is refused.

--columns FILE and --profile FILE are YAML or JSON (`-` reads stdin, for one of them);
their problems name the file and the line.

Exit codes: 0 registered; 1 refused (conventions, an existing version, a bad file) —
nothing written; 2 bad arguments; 6 push kept being rejected.
"""

from __future__ import annotations

import argparse

from mlrelease.cli.args import add_json
from mlrelease.cli.output import plain
from mlrelease.cli.writes import add_push, read_input, report, stdin_once, write_target
from mlrelease.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="dataset_command", metavar="SUBCOMMAND", required=True)
    reg = sub.add_parser("register", help="publish a data set version's manifest and commit it")
    reg.add_argument("name", metavar="NAME")
    reg.add_argument("version", metavar="VERSION")
    reg.add_argument("--uri", help="where the data is stored")
    reg.add_argument("--digest", metavar="sha256:HEX", help="the data's digest")
    reg.add_argument("--rows", type=int, metavar="N", help="how many rows it has")
    reg.add_argument("--update-frequency", metavar="TEXT", help="e.g. daily, monthly")
    reg.add_argument("--description", help="what the data is")
    reg.add_argument("--column", action="append", default=[], metavar="NAME=TYPE", help="a column and its type (repeatable)")
    reg.add_argument("--columns", metavar="FILE", help="YAML or JSON mapping of column name to type")
    reg.add_argument("--profile", metavar="FILE", help="YAML or JSON: the data's feature distributions, for drift")
    add_push(reg)
    add_json(reg)


def run(args: argparse.Namespace) -> int:
    from mlrelease.release.catalogue import DatasetRequest, read_columns, register_dataset
    from mlrelease.release.register import parse_role_value, read_profile_file

    target = write_target(args, "dataset register")
    stdin_once(args, "columns", "profile")
    columns: dict[str, str] = read_input(args.columns, read_columns) if args.columns is not None else {}
    for text in args.column:
        name, kind = parse_role_value(text, "--column", "NAME=TYPE (e.g. amount=float)")
        if name in columns:
            raise UsageError(f"--column {name!r} given twice")
        columns[name] = kind
    profile = read_input(args.profile, read_profile_file) if args.profile is not None else None
    req = DatasetRequest(
        name=args.name,
        version=args.version,
        uri=args.uri,
        digest=args.digest,
        rows=args.rows,
        update_frequency=args.update_frequency,
        description=args.description,
        columns=columns,
        profile=profile,
    )
    done = register_dataset(target.root, req, remote=target.remote, branch=target.branch)
    fields = {"dataset": args.name, "version": args.version, "path": done.path}
    return report(args, target, done.committed, fields, f"Registered data set {plain(args.name)} {plain(args.version)}: {plain(done.path)}")
