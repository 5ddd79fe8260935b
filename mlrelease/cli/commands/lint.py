"""Check the whole registry: every file parses, names follow the conventions, references resolve.

Prints every problem of every file as `file:line: problem`, sorted by file and line
(a summary goes to stderr), or with --json one object: `ok`, `counts` and
`problems` (a list of {path, line, message}). What is checked is listed in
docs/format.md ("What lint checks"). Run it in CI on every pull request (`mlrelease init`
lays down workflow files that do).

Exit codes: 0 no problems; 1 at least one problem.
"""

from __future__ import annotations

import argparse
import sys

from mlrelease.cli.args import add_json, registry
from mlrelease.cli.output import lines, plural, print_json
from mlrelease.errors import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_json(parser)


def run(args: argparse.Namespace) -> int:
    from mlrelease import backends
    from mlrelease.notify import config as notify
    from mlrelease.registry.lint import lint
    from mlrelease.telemetry import base as telemetry

    with registry(args) as reg:
        context = telemetry.SourceContext(reg)
        result = lint(
            reg,
            lambda c: [
                *backends.settings_problems(c, reg.root),
                *telemetry.settings_problems(c, context),
                *notify.read(c.notify, c.environment_names)[1],
            ],
        )
    if args.json:
        print_json(result.to_json())
    else:
        lines(result.problems)
        count, files = len(result.problems), len({p.path for p in result.problems})
        found = "no problems" if result.ok else f"{plural(count, 'problem')} in {plural(files, 'file')}"
        print(f"{plural(result.files, 'file')} checked: {found}", file=sys.stderr)
    return ExitCode.OK if result.ok else ExitCode.PROBLEM
