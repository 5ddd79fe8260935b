"""Commits written in this process: loose objects (zlib + SHA-1), the way git itself writes them.

A commit of one or two changed files used to cost seven git processes (``read-tree``,
``hash-object``, ``update-index``, ``write-tree``, ``rev-parse``, ``config``,
``commit-tree``). Here the new blobs, the trees on the path to each changed file, and the
commit are written as loose objects under ``objects/`` — a zlib stream of
``"<type> <size>\\0<content>"``, named by its SHA-1, written to a temporary file and
renamed into place, read-only — while the parent's trees are read through the shared
``cat-file --batch`` process. Nothing else changes: no index, no work tree, no ref.

Where git would write differently, :func:`writes_here` and :func:`commits_here` say no and
the caller keeps git's own plumbing: a SHA-256 repository, a shared repository (group
permissions), a commit encoding other than UTF-8, or signing (``commit.gpgsign``: git
signs, we never do).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mlrelease.errors import MlreleaseError
from mlrelease.registry.gitio import cat_file, config_true, git_config, git_dir

FILE_MODE = b"100644"
TREE_MODE = b"40000"


def writes_here(git_root: Path) -> bool:
    """Whether objects written here are exactly what git would write in this repository."""
    cfg = git_config(git_root)
    if cfg.get("extensions.objectformat", "sha1").lower() != "sha1":
        return False
    return cfg.get("core.sharedrepository", "false").lower() in ("false", "umask", "0", "no", "off")


def commits_here(git_root: Path) -> bool:
    """Whether a commit object may be written here too: git signs and re-encodes, we never do."""
    cfg = git_config(git_root)
    encoding = cfg.get("i18n.commitencoding", "utf-8").lower().replace("-", "")
    return writes_here(git_root) and encoding == "utf8" and not config_true(cfg.get("commit.gpgsign"))


def write_object(git_root: Path, kind: str, content: bytes) -> str:
    """Store one object (if it is not there yet) and return its id."""
    data = b"%s %d\0" % (kind.encode(), len(content)) + content
    oid = hashlib.sha1(data, usedforsecurity=False).hexdigest()
    folder = git_dir(git_root) / "objects" / oid[:2]
    path = folder / oid[2:]
    if path.exists():
        return oid
    folder.mkdir(exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="tmp_obj_")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(zlib.compress(data))
        os.chmod(tmp, 0o444)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return oid


@dataclass
class _Tree:
    """A tree being edited: name → (mode, id); sub-trees edited below are held in ``subs``."""

    entries: dict[bytes, tuple[bytes, str]]
    subs: dict[bytes, _Tree]


def _parse_tree(raw: bytes) -> dict[bytes, tuple[bytes, str]]:
    entries: dict[bytes, tuple[bytes, str]] = {}
    i = 0
    while i < len(raw):
        space = raw.index(b" ", i)
        nul = raw.index(b"\0", space)
        entries[raw[space + 1 : nul]] = (raw[i:space], raw[nul + 1 : nul + 21].hex())
        i = nul + 21
    return entries


def _read_tree(git_root: Path, oid: str) -> dict[bytes, tuple[bytes, str]]:
    found = cat_file(git_root).object(oid)
    if found is None or found[1] != "tree":
        raise MlreleaseError(f"git tree {oid} is missing or not a tree")
    return _parse_tree(found[2])


def entry_at(git_root: Path, commit: str, path: str) -> tuple[str, str, str] | None:
    """(mode, type, id) of ``path`` in ``commit``, as ``git ls-tree COMMIT -- PATH`` lists it, or None
    where there is nothing; read through the shared ``cat-file`` pipe, not a process of its own."""
    folder, _, name = path.rpartition("/")
    found = cat_file(git_root).object(f"{commit}:{folder}" if folder else f"{commit}^{{tree}}")
    if found is None or found[1] != "tree" or not name:
        return None
    entry = _parse_tree(found[2]).get(name.encode("utf-8", "surrogateescape"))
    if entry is None:
        return None
    mode, oid = entry
    kind = {TREE_MODE: "tree", b"160000": "commit"}.get(mode, "blob")
    return mode.decode().rjust(6, "0"), kind, oid


def _sort_key(item: tuple[bytes, tuple[bytes, str]]) -> bytes:
    name, (mode, _) = item
    return name + b"/" if mode == TREE_MODE else name  # git's order: a tree sorts as "name/"


def _write_tree(git_root: Path, tree: _Tree) -> str | None:
    """Write ``tree`` and its edited sub-trees; None when it ends up empty (git stores none)."""
    for name, sub in tree.subs.items():
        oid = _write_tree(git_root, sub)
        if oid is None:
            tree.entries.pop(name, None)
        else:
            tree.entries[name] = (TREE_MODE, oid)
    if not tree.entries:
        return None
    body = b"".join(mode + b" " + name + b"\0" + bytes.fromhex(oid) for name, (mode, oid) in sorted(tree.entries.items(), key=_sort_key))
    return write_object(git_root, "tree", body)


def tree_with(git_root: Path, base_tree: str | None, changes: Mapping[str, bytes | None]) -> tuple[str, dict[str, str | None]]:
    """The id of ``base_tree`` with ``changes`` (path → bytes, None deletes), and each path's new blob id."""
    root = _Tree(_read_tree(git_root, base_tree) if base_tree else {}, {})
    blobs: dict[str, str | None] = {}
    for path, data in changes.items():
        parts = [p.encode("utf-8", "surrogateescape") for p in path.split("/")]
        if any(p in (b"", b".", b"..") for p in parts):
            raise MlreleaseError(f"{path}: not a clean path inside the repository")
        node = root
        for part in parts[:-1]:
            if part not in node.subs:
                mode, oid = node.entries.get(part, (TREE_MODE, ""))
                if mode != TREE_MODE:
                    raise MlreleaseError(f"{path}: {part.decode()} is a file in the repository, not a folder")
                node.subs[part] = _Tree(_read_tree(git_root, oid) if oid else {}, {})
            node = node.subs[part]
        name = parts[-1]
        if name in node.subs or node.entries.get(name, (FILE_MODE, ""))[0] == TREE_MODE:
            raise MlreleaseError(f"{path}: is a folder in the repository, not a file")
        if data is None:
            node.entries.pop(name, None)
            blobs[path] = None
        else:
            blob = write_object(git_root, "blob", data)
            node.entries[name] = (FILE_MODE, blob)
            blobs[path] = blob
    tree = _write_tree(git_root, root)
    if tree is None:
        tree = write_object(git_root, "tree", b"")  # a commit needs a tree, even an empty one
    return tree, blobs


def ident(name: str, email: str, when: datetime | None) -> bytes:
    """``Name <email> <seconds> <±hhmm>`` as in a commit header.

    Without ``when``: now, in the local time zone, as git writes it. With ``when``: that
    moment in UTC, as ``commit-tree`` writes a date given as ``…Z`` (what mlrelease gives it).
    """
    if any(c in name + email for c in "<>\n\0"):
        raise MlreleaseError(f"cannot write a commit as {name!r} <{email}>: '<', '>' and line breaks are not allowed in an identity")
    if when is None:
        seconds = int(time.time())
        offset = time.localtime(seconds).tm_gmtoff
    else:
        seconds, offset = int(when.timestamp()), 0
    sign = "-" if offset < 0 else "+"
    hours, minutes = divmod(abs(offset) // 60, 60)
    return f"{name.strip()} <{email.strip()}> {seconds} {sign}{hours:02d}{minutes:02d}".encode()


def commit(git_root: Path, tree: str, parent: str | None, message: str, author: bytes, committer: bytes) -> str:
    """Write a commit object; ``author``/``committer`` as made by :func:`ident`."""
    head = b"tree " + tree.encode() + b"\n"
    if parent:
        head += b"parent " + parent.encode() + b"\n"
    head += b"author " + author + b"\ncommitter " + committer + b"\n\n"
    return write_object(git_root, "commit", head + message.encode("utf-8"))


# ---- reading what is known, without a process per question ----------------------------------


def _commit_object(git_root: Path, oid: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """(header lines as (key, value), message) of a commit, through the shared ``cat-file`` pipe."""
    found = cat_file(git_root).object(oid)
    if found is None or found[1] != "commit":
        raise MlreleaseError(f"git commit {oid} is missing")
    head, _, message = found[2].partition(b"\n\n")
    return [(key, value) for key, _, value in (line.partition(b" ") for line in head.split(b"\n"))], message


def commit_header(git_root: Path, oid: str) -> tuple[str, list[str]]:
    """(tree id, parent ids) of a commit."""
    head, _ = _commit_object(git_root, oid)
    tree = next((v.decode() for k, v in head if k == b"tree"), "")
    return tree, [v.decode() for k, v in head if k == b"parent"]


def commit_author_message(git_root: Path, oid: str) -> tuple[str, str]:
    """("Name <email>", message) of a commit: what ``git log --format='%an <%ae>'`` and ``%B`` print,
    without a ``git log`` process."""
    head, message = _commit_object(git_root, oid)
    author = next((v for k, v in head if k == b"author"), b"")
    return author.rsplit(b" ", 2)[0].decode("utf-8", "replace"), message.decode("utf-8", "replace")


def is_ancestor(git_root: Path, old: str, new: str, *, limit: int = 200) -> bool | None:
    """Whether ``old`` is ``new`` or one of its ancestors; None when ``limit`` commits did not tell."""
    seen: set[str] = set()
    todo = [new]
    while todo and len(seen) < limit:
        oid = todo.pop()
        if oid == old:
            return True
        if oid in seen:
            continue
        seen.add(oid)
        todo.extend(commit_header(git_root, oid)[1])
    return False if not todo else None


def changed_paths(git_root: Path, old: str, new: str) -> list[str]:
    """The file paths whose content differs between two commits (only differing trees are read)."""
    out: list[str] = []

    def walk(a: str | None, b: str | None, prefix: str) -> None:
        left = _read_tree(git_root, a) if a else {}
        right = _read_tree(git_root, b) if b else {}
        for name in sorted(set(left) | set(right)):
            x, y = left.get(name), right.get(name)
            if x == y:
                continue
            path = prefix + name.decode("utf-8", "surrogateescape")
            x_tree = x[1] if x and x[0] == TREE_MODE else None
            y_tree = y[1] if y and y[0] == TREE_MODE else None
            if x_tree or y_tree:
                walk(x_tree, y_tree, path + "/")
            if (x and x[0] != TREE_MODE) or (y and y[0] != TREE_MODE):
                out.append(path)

    walk(commit_header(git_root, old)[0], commit_header(git_root, new)[0], "")
    return sorted(out)
