"""Set what a model's own record says: owner, description, task, tags, headline, consumers.

    mlrelease model fraud-card --description "Scores card payments for fraud" \\
        --consumer card-gateway@staging,production --tag fraud --tag cards

edits models/NAME/model.yaml (docs/format.md) in one commit (Mlrelease-Action: model),
keeping every key it was not asked to change; a model that does not exist is created when
--owner is given. What a pipeline or a team knows about a model, without writing YAML.

  --tag T, --headline METRIC     set the list (repeat for several); --tag "" clears it
  --consumer NAME[@ENV,ENV]      add the application NAME as a consumer, or change the
                                 environments it calls the model in (no @: all of them);
                                 its contact and description are kept
  --remove-consumer NAME         take an application off the list
  --consumers FILE               the whole list, YAML or JSON: [{name, environments,
                                 contact, description}] (`-` reads stdin)
  --description "" / --task ""   remove the field

The result is checked by the rules of `mlrelease lint` (headline metrics in the catalogue,
consumers' environments configured) before anything is written; asking for what the file
already says writes nothing (exit 0, "no change").

Exit codes: 0 set (or no change); 1 refused (unknown model without --owner, a check
failed) — nothing written; 2 bad arguments; 6 push kept being rejected.
"""

from __future__ import annotations

import argparse

from mlrelease.cli.args import add_json
from mlrelease.cli.output import plain
from mlrelease.cli.writes import add_push, read_input, report, write_target
from mlrelease.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="MODEL")
    parser.add_argument("--owner", help="the team or person who owns it (creates the model if it does not exist)")
    parser.add_argument("--description", help="what the model does")
    parser.add_argument("--task", help="e.g. binary-classification")
    parser.add_argument("--tag", action="append", metavar="TAG", help="set the tags (repeatable; --tag '' clears them)")
    parser.add_argument("--headline", action="append", metavar="METRIC", help="set the headline metrics (repeatable; '' clears)")
    parser.add_argument(
        "--consumer", action="append", default=[], metavar="NAME[@ENV,ENV]", help="add or update an application that calls the model"
    )
    parser.add_argument("--remove-consumer", action="append", default=[], metavar="NAME", help="remove a consumer")
    parser.add_argument("--consumers", metavar="FILE", help="YAML or JSON list of consumers: replaces the list")
    add_push(parser)
    add_json(parser)


def _listed(values: list[str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(v.strip() for v in values if v.strip())


def run(args: argparse.Namespace) -> int:
    from mlrelease.release.catalogue import ModelChange, parse_consumer, read_consumers, set_model

    target = write_target(args, "model")
    consumers = read_input(args.consumers, read_consumers) if args.consumers is not None else None
    added = tuple(parse_consumer(c) for c in args.consumer)
    names = [n for n, _ in added] + list(args.remove_consumer)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UsageError(f"consumer {twice[0]!r} named twice by --consumer/--remove-consumer")
    change = ModelChange(
        name=args.name,
        owner=args.owner,
        description=args.description,
        task=args.task,
        tags=_listed(args.tag),
        headline=_listed(args.headline),
        consumers=consumers,
        add_consumers=added,
        remove_consumers=tuple(args.remove_consumer),
    )
    done = set_model(target.root, change, remote=target.remote, branch=target.branch)
    c = done.committed
    fields = {"model": args.name, "path": done.path, "created": done.created, "changed": c.commit is not None}
    if c.commit is None:
        return report(args, target, c, fields, f"{plain(done.path)}: no change (it already says so)")
    return report(args, target, c, fields, f"{'Created' if done.created else 'Updated'} {plain(done.path)}")
