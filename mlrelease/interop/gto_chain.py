"""Writing an import's chain of commits: one ``git fast-import``, one compare-and-swap of the branch.

Each GTO event is one commit authored by its tagger at the tag's own time and UTC offset
(the committer is whoever runs the import). Building the chain is the caller's (a
function of the registry at the tip and the tags already imported there); this module
only writes it, locally or to the config's remote, without ever losing a concurrent write.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from mlrelease.errors import MlreleaseError
from mlrelease.gitstore import gitwrite, locks, transaction
from mlrelease.interop.gto_tags import imported_tags
from mlrelease.registry.gitio import git
from mlrelease.registry.loader import Registry


@dataclass(frozen=True)
class Commit:
    """One commit of the chain: its files (None deletes), message, author and date."""

    files: dict[str, bytes | None]
    message: str
    author_name: str
    author_email: str
    at: datetime


Build = Callable[[Registry, dict[str, str]], list[Commit]]


def target(registry_root: Path, push: bool) -> transaction.Target:
    """Where the chain goes: the checked-out branch, and the config's remote when pushing."""
    if not push:
        return transaction.target(registry_root)
    with Registry(registry_root) as reg:
        remote = reg.config.remote
    return transaction.target(registry_root, remote=remote.name if remote else "origin", branch=remote.branch if remote else None)


def write_chain(t: transaction.Target, build: Build) -> tuple[list[str], str | None]:
    """Commit a chain of dated, authored commits on the branch tip, then move the branch once.

    One compare-and-swap for the whole chain (like :func:`transaction.apply` for one
    commit): a writer that moved the branch meanwhile makes this fail cleanly, never
    lose either side. With a remote, the chain is built on the fetched remote tip (so
    tags already imported there are not imported again), pushed, and rebuilt on the new
    tip after a recognised rejection, bounded like every push; then the local branch is
    fast-forwarded where that loses nothing. Returns the commits and a note, if any.
    """
    with locks.repo_lock(t.git_root):
        if t.remote is None:
            return _write_local(t, build), None
        remote = t.remote
        who = gitwrite.identity(t.git_root)
        contention = gitwrite.Contention(t.git_root, remote, t.branch, nothing="nothing was imported there")

        def attempt() -> tuple[list[str], str | None] | None:
            tip = gitwrite.fetch(t.git_root, remote, t.branch)
            with Registry(t.registry_root, tip) as reg:
                chain = build(reg, imported_tags(t.git_root, tip))
            if not chain:
                return [], None
            made = fast_import(t, tip, chain, who)
            result = gitwrite.push(t.git_root, remote, made[-1], t.branch)
            if result.ok:
                paths = sorted({t.git_path(p) for c in chain for p in c.files})
                return made, transaction.fast_forward_local(t, made[-1], paths)
            contention.rejected(result, tip)
            return None

        return gitwrite.retrying(attempt)


def _write_local(t: transaction.Target, build: Build) -> list[str]:
    tip = gitwrite.rev(t.git_root, f"refs/heads/{t.branch}")
    if tip is None:
        raise MlreleaseError(f"branch {t.branch} has no commits yet in {t.git_root}; commit the registry first")
    with Registry(t.registry_root, tip) as reg:
        chain = build(reg, imported_tags(t.git_root, tip))
    if not chain:
        return []
    paths = sorted({t.git_path(p) for c in chain for p in c.files})
    if gitwrite.current_branch(t.git_root) == t.branch:
        dirty = gitwrite.dirty_paths(t.git_root, paths)
        if dirty:
            raise MlreleaseError(
                f"{dirty[0]}: has uncommitted changes in your checkout; commit or discard them first (nothing was imported)"
            )
    made = fast_import(t, tip, chain, gitwrite.identity(t.git_root))
    gitwrite.advance_branch(t.git_root, t.branch, made[-1], tip, paths=paths)
    return made


def fast_import(t: transaction.Target, tip: str, chain: list[Commit], committer: gitwrite.Identity) -> list[str]:
    """Write the whole chain with one ``git fast-import`` (a commit each costs ~7 git calls otherwise).

    The commits land on a private temporary ref, are read back by mark, and the ref is
    deleted: no branch moves here. Each commit keeps the tag's own time and UTC offset.
    """
    ref = f"refs/mlrelease/import-{secrets.token_hex(6)}"
    out = bytearray()
    for n, c in enumerate(chain, start=1):
        when = f"{int(c.at.timestamp())} {_offset(c.at)}"
        message = c.message.encode("utf-8")
        out += f"commit {ref}\nmark :{n}\n".encode()
        out += f"author {_ident(c.author_name, c.author_email)} {when}\n".encode()
        out += f"committer {_ident(committer.name, committer.email)} {when}\n".encode()
        out += b"data %d\n%s\n" % (len(message), message)
        if n == 1:
            out += f"from {tip}\n".encode()
        for path, data in c.files.items():
            full = t.git_path(path)
            if data is None:
                out += f"D {full}\n".encode()
            else:
                out += f"M 100644 inline {full}\ndata {len(data)}\n".encode() + data + b"\n"
    out += b"done\n"
    with tempfile.TemporaryDirectory(prefix="mlrelease-import-") as tmp:
        marks = Path(tmp) / "marks"
        try:
            git(
                t.git_root,
                "fast-import",
                "--quiet",
                "--done",
                "--date-format=raw",
                f"--export-marks={marks}",
                input=bytes(out),
                timeout=600,
            )
        finally:
            git(t.git_root, "update-ref", "-d", ref, check=False)
        by_mark = dict(line.split(" ", 1) for line in marks.read_text().split("\n") if line.startswith(":"))
    return [by_mark[f":{n}"].strip() for n in range(1, len(chain) + 1)]


def _ident(name: str, email: str) -> str:
    """``Name <email>`` for git: the characters git itself refuses in an identity are dropped."""

    def clean(text: str) -> str:
        return "".join(ch for ch in text if ch not in "<>\n\r\0").strip()

    return f"{clean(name) or 'unknown'} <{clean(email)}>"


def _offset(at: datetime) -> str:
    minutes = int((at.utcoffset() or timedelta(0)).total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
