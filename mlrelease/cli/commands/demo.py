"""Build the bundled example registry (a bank's fraud models, with months of history) and open it.

The example is built once into a cache folder — $XDG_CACHE_HOME/mlrelease/demo, or
--path DIR — and reused; it is rebuilt when missing, when the bundled example changed,
or with --rebuild. It is a real git repository: every command works on it, including
promotions and rollbacks (production uses a stand-in rollout script, so nothing reaches
out). In a terminal the dashboard opens on it; otherwise the overview is printed, with
where the repository is and what to try next.

Exit codes: 0 ok; 1 the folder exists and is not a demo built by mlrelease, or the build
failed.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from pathlib import Path

from mlrelease.errors import MlreleaseError

MARKER = "mlrelease-demo"  # in .git/: the example's fingerprint, and proof the folder is ours to replace


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--path", type=Path, metavar="DIR", help="where to build the example (default: $XDG_CACHE_HOME/mlrelease/demo)")
    parser.add_argument("--rebuild", action="store_true", help="build it afresh even if it is already there (your changes to it are lost)")


def default_path() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "mlrelease" / "demo"


def prepare(path: Path, *, rebuild: bool) -> tuple[Path, str | None]:
    """The demo repository at ``path``, built if needed; the second value says why it was built.

    A folder is only ever deleted when it carries our marker, so ``--path`` pointed at
    someone's work by mistake is refused, never wiped. The new repository is built beside
    the target and moved into place, so an interrupted build leaves no half repository.
    """
    from mlrelease import example

    path = path.expanduser().absolute()
    marker = path / ".git" / MARKER
    wanted = example.fingerprint()
    why: str | None = "built"
    if path.exists():
        if not marker.is_file():
            if not path.is_dir() or any(path.iterdir()):
                raise MlreleaseError(f"{path}: exists and is not a demo built by mlrelease; choose a new or empty folder with --path")
            path.rmdir()
        elif rebuild:
            why = "rebuilt (--rebuild)"
        elif marker.read_text(encoding="utf-8").strip() != wanted:
            why = "rebuilt (the bundled example changed since it was built)"
        else:
            return path, None
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.parent / f".{path.name}.building-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        example.build(staging)
        (staging / ".git" / MARKER).write_text(wanted + "\n", encoding="utf-8")
        if path.exists():
            shutil.rmtree(path)
        staging.rename(path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path, why


def run(args: argparse.Namespace) -> int:
    from mlrelease.cli import COMMANDS, build_parser
    from mlrelease.cli.output import plain

    root, why = prepare(args.path or default_path(), rebuild=args.rebuild)
    if why:
        print(f"{why}: the example registry at {plain(root)}", file=sys.stderr)
    if "tui" in COMMANDS and sys.stdin.isatty() and sys.stdout.isatty():
        view = build_parser("tui").parse_args(["--repo", str(root), "tui"])
        code = int(view._module.run(view) or 0)
        print(f"The demo registry is at {plain(root)} (mlrelease --repo {plain(root)} list)")
        return code
    overview = build_parser("list").parse_args(["--repo", str(root), "list"])
    code = int(overview._module.run(overview) or 0)
    repo = plain(shlex.quote(str(root)))
    print(
        f"\nThe demo registry is a git repository at {repo}\n"
        "Try:\n"
        f"  mlrelease --repo {repo} show fraud-card\n"
        f"  mlrelease --repo {repo} history fraud-mobile        # a rollback, pinned\n"
        f"  mlrelease --repo {repo} diff fraud-card@2.1.0 fraud-card@2.2.0\n"
        f"  mlrelease --repo {repo} lineage --dataset card-transactions@2026.08\n"
        f"  mlrelease --repo {repo} ab fraud-card --env production   # the 2.2.0 canary against 2.1.0\n"
        f"  mlrelease --repo {repo} rollout fraud-card --env production --dry-run\n"
        f"  mlrelease --repo {repo} promote fraud-card@2.2.0 --to production --reason 'Canary clean' --dry-run\n"
        f"  git -C {repo} log --format='%ad %an: %s' --date=short releases/\n"
        "Run `mlrelease demo` in a terminal to open the dashboard."
    )
    return code
