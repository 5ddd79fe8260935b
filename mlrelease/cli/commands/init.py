"""Create a new registry in PATH (default: --repo or the current folder).

Lays down a commented mlrelease.yaml (valid as it is; edit it to your conventions,
metrics and environments), the folders models/, datasets/, releases/<environment>/ and
telemetry/, and CI workflow files that run `mlrelease lint` on every pull request
(.github/workflows/mlrelease-lint.yml and .gitlab-ci.yml, at the top of the git
repository), `mlrelease check --trigger` every morning (mlrelease-check.yml) and
`mlrelease rollout --all` every 30 minutes (mlrelease-rollout.yml; a scheduled job in
.gitlab-ci.yml). Runs `git init` where PATH is not yet in a git repository.

The CI files install mlrelease with `pip install "$MLRELEASE_SPEC"`, by default
mlrelease==VERSION from PyPI, where mlrelease is not published yet: set MLRELEASE_SPEC in
them to a wheel you host or a git URL (init reminds you; see docs/ci.md).

The new files are committed on the checked-out branch in one commit (trailer
Mlrelease-Action: init); nothing else you have staged or changed is touched. With
--no-commit they are only written, for you to review and commit.

Never overwrites: an existing mlrelease.yaml stops init before anything is written; other
files that already exist (your own .gitlab-ci.yml) are kept and listed as skipped.

Exit codes: 0 created; 1 a registry already exists there, or git failed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mlrelease.cli.args import add_json
from mlrelease.cli.output import console, plain, print_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", type=Path, metavar="PATH", help="folder for the registry (created if missing)")
    parser.add_argument("--no-commit", dest="commit", action="store_false", help="write the files but do not commit them")
    add_json(parser)


def run(args: argparse.Namespace) -> int:
    from mlrelease.release.scaffold import DEFAULT_SPEC, SPEC_NOTE, init_registry

    path = args.path or args.repo or Path.cwd()
    result = init_registry(path, commit=args.commit)
    if args.json:
        print_json(
            {
                "root": str(result.root),
                "git_root": str(result.git_root),
                "created_repository": result.created_repo,
                "written": result.written,
                "skipped": result.skipped,
                "commit": result.commit,
                "branch": result.branch,
                "ci_files": result.ci_files,
                "mlrelease_spec": DEFAULT_SPEC if result.ci_files else None,
                "notes": [SPEC_NOTE] if result.ci_files else [],
            }
        )
        return 0
    out = console()
    out.print(f"Initialised an mlrelease registry in {plain(result.root)}")
    if result.created_repo:
        out.print(f"  created a git repository in {plain(result.git_root)}")
    for rel in result.written:
        out.print(f"  wrote   {plain(rel)}")
    for rel in result.skipped:
        out.print(f"  skipped {plain(rel)} (already there; left as it was)")
    if result.commit:
        out.print(f"  committed {result.commit[:12]} on {plain(result.branch)}")
    else:
        out.print("  not committed (--no-commit): review the files, then commit them")
    if result.ci_files:
        out.print(f"Note: {SPEC_NOTE} (docs/ci.md)")
    out.print("Next: edit mlrelease.yaml to your conventions, metrics and environments, and run `mlrelease lint`;")
    out.print("then register a version: `mlrelease register MODEL VERSION --metrics FILE --artifact URI --create-model --owner TEAM`")
    return 0
