"""Register a trained model version: write its manifest and commit it.

What a training pipeline calls at the end of a run, e.g.

    mlrelease register fraud-card 1.5.0 --metrics metrics.json \\
        --artifact s3://ml-models/fraud-card/1.5.0/ --sha256 HEX \\
        --data train=card-transactions@2026.02 --data-rows train=18250000 \\
        --parent 1.4.0 --param max_depth=6 --profile profile.json

--metrics FILE is a YAML or JSON mapping of metric name to number (`-` reads stdin);
whole numbers stay whole (a count is written 18250000, never 18250000.0). --profile FILE
is the validation data's feature distributions ({rows, features: {NAME: {type, edges,
fractions}}}, docs/format.md "Profiles"), checked with its own file and lines.
Everything a version manifest holds can be given here, so a pipeline never writes YAML.
The manifest is checked with the same rules as `mlrelease lint` before anything is
written: names against the conventions, the version scheme, metrics in the catalogue,
the parent and data set versions existing, the artifact URI and image against their
templates, required fields. An existing version is refused (released manifests are
immutable). The commit carries the trailers Mlrelease-Action: register, -Model,
-Version and -Actor; your uncommitted work is never touched.

The model must exist (models/MODEL/model.yaml); --create-model --owner OWNER creates it
in the same commit when it does not (and does nothing when it does). --push sends the
commit to the config's remote (default origin), retrying if someone pushed first.

Exit codes: 0 registered; 1 refused (conventions, unknown metric or parent, existing
version, bad metrics file) — nothing written; 2 bad arguments; 6 push kept being rejected.
"""

from __future__ import annotations

import argparse
from typing import TypeVar

from mlrelease.cli.args import add_json
from mlrelease.cli.output import plain
from mlrelease.cli.writes import add_push, read_input, report, stdin_once, write_target
from mlrelease.errors import UsageError

T = TypeVar("T")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL")
    parser.add_argument("version", metavar="VERSION")
    parser.add_argument("--metrics", required=True, metavar="FILE", help="YAML or JSON mapping of metric name to number (- for stdin)")
    parser.add_argument("--artifact", required=True, metavar="URI", help="where the trained model is stored")
    parser.add_argument("--sha256", metavar="HEX", help="the artifact's SHA-256 digest")
    parser.add_argument(
        "--data", action="append", default=[], metavar="ROLE=DATASET@VERSION", help="a data set used, e.g. train=transactions@2026.01"
    )
    parser.add_argument(
        "--data-rows", action="append", default=[], metavar="ROLE=ROWS", help="rows of a --data role used, e.g. train=18250000"
    )
    parser.add_argument(
        "--data-digest", action="append", default=[], metavar="ROLE=sha256:HEX", help="digest of the data a --data role used"
    )
    parser.add_argument("--profile", metavar="FILE", help="YAML or JSON: the validation data's feature distributions, for drift")
    parser.add_argument("--artifact-format", metavar="FORMAT", help="the artifact's format, e.g. onnx")
    parser.add_argument("--artifact-bytes", type=int, metavar="N", help="the artifact's size in bytes")
    parser.add_argument("--tag", action="append", default=[], metavar="TAG", help="a tag on the version (repeatable)")
    parser.add_argument("--parent", metavar="VERSION", help="the version this one was trained from or compared against")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="a training parameter (repeatable)")
    parser.add_argument("--image", metavar="REF", help="container image, optionally REF@sha256:DIGEST")
    parser.add_argument("--author", help="who trained it (default: your git identity)")
    parser.add_argument("--description", help="one line on what changed")
    parser.add_argument("--code-repo", metavar="URL", help="repository of the training code")
    parser.add_argument("--code-commit", metavar="SHA", help="commit of the training code")
    parser.add_argument("--entrypoint", help="how the training was run, e.g. train.py:main")
    parser.add_argument("--create-model", action="store_true", help="create models/MODEL/model.yaml if it does not exist (needs --owner)")
    parser.add_argument("--owner", help="owner of a model created with --create-model")
    add_push(parser)
    add_json(parser)


def run(args: argparse.Namespace) -> int:
    from mlrelease.release.register import (
        Request,
        parse_data,
        parse_param,
        parse_role_value,
        parse_rows,
        read_metrics,
        read_profile_file,
        register,
    )

    if args.create_model and not args.owner:
        raise UsageError("--create-model needs --owner OWNER")
    if args.owner and not args.create_model:
        raise UsageError("--owner is only used with --create-model")
    stdin_once(args, "metrics", "profile")
    metrics = read_input(args.metrics, read_metrics)
    profile = read_input(args.profile, read_profile_file) if args.profile is not None else None
    rows = _unique([parse_rows(r) for r in args.data_rows], "--data-rows role")
    digests = _unique([parse_role_value(d, "--data-digest", "ROLE=sha256:HEX") for d in args.data_digest], "--data-digest role")
    data = _unique([parse_data(d) for d in args.data], "--data role")
    params = _unique([parse_param(p) for p in args.param], "--param key")
    target = write_target(args, "register")
    req = Request(
        model=args.model,
        version=args.version,
        metrics=metrics,
        artifact_uri=args.artifact,
        sha256=args.sha256,
        data=data,
        data_rows=rows,
        data_digests=digests,
        parent=args.parent,
        params=params,
        image=args.image,
        author=args.author,
        description=args.description,
        code_repo=args.code_repo,
        code_commit=args.code_commit,
        entrypoint=args.entrypoint,
        artifact_format=args.artifact_format,
        artifact_bytes=args.artifact_bytes,
        profile=profile,
        tags=tuple(dict.fromkeys(args.tag)),
        create_model_owner=args.owner if args.create_model else None,
    )
    result = register(target.root, req, remote=target.remote, branch=target.branch)
    fields = {"model": result.model, "version": result.version, "path": result.path, "created_model": result.created_model}
    new_model = " (new model)" if result.created_model else ""
    line = f"Registered {plain(result.model)} {plain(result.version)}{new_model}: {plain(result.path)}"
    return report(args, target, result.committed, fields, line)


def _unique(pairs: list[tuple[str, T]], what: str) -> dict[str, T]:
    """A repeated key is a mistake in the pipeline's command line, never silently last-wins."""
    out: dict[str, T] = {}
    for key, value in pairs:
        if key in out:
            raise UsageError(f"{what} {key!r} given twice")
        out[key] = value
    return out
