"""Where registry files come from: the work tree, or any git ref without a checkout.

Both sources answer the same two questions — which files are under a folder, and what
bytes a file holds — plus each file's git blob id, which keys the parse cache. Listing a
ref costs one ``git ls-tree``; reading costs one pipe to ``git cat-file --batch``.
"""

from __future__ import annotations

import bisect
import os
import time
from pathlib import Path

from mlrelease.errors import GitError, MlreleaseError
from mlrelease.registry.gitio import blob_id, cat_file, git, git_toplevel

BULK_AT = 2000  # from this many files, ask git's index for blob ids rather than hash each file
RACY = 2_000_000_000  # ns: a folder changed this close to its listing may change again unseen (git's racy rule)


class Source:
    """Files of a registry, by path relative to the registry root (``models/x/model.yaml``)."""

    label: str

    def files(self, prefix: str) -> list[str]:
        raise NotImplementedError

    def entries(self, folder: str) -> tuple[list[str], list[str]]:
        """(file names, folder names) directly inside ``folder``, each sorted, as :meth:`files` would see them."""
        raise NotImplementedError

    def read(self, path: str) -> bytes:
        raise NotImplementedError

    def blob(self, path: str) -> tuple[str, bytes | None]:
        """(blob id, bytes if they had to be read to know the id)."""
        raise NotImplementedError

    def blob_ids(self, paths: list[str]) -> dict[str, str]:
        """Blob ids of many files at once (what an index looks up by)."""
        return {p: self.blob(p)[0] for p in paths}

    def exists(self, path: str) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        pass


class WorkTreeSource(Source):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)
        self._listed: dict[str, tuple[int, list[str], list[str]]] = {}  # folder → (mtime, files, sub-folders)

    def _full(self, path: str) -> Path:
        full = self.root / path
        if full.is_symlink():
            raise MlreleaseError(f"{path}: symbolic links are not followed in a registry")
        return full

    def files(self, prefix: str) -> list[str]:
        base = self.root / prefix
        out: list[str] = []
        if not base.is_dir() or base.is_symlink():
            return out
        rel = os.path.relpath(base, self.root).replace(os.sep, "/")
        self._walk(str(base), "" if rel == "." else f"{rel}/", out)
        return out

    def _walk(self, folder: str, rel: str, out: list[str]) -> None:
        """Files first, then sub-folders, each sorted; symbolic links and hidden names skipped.

        ``os.scandir`` entries know whether they are links or folders without a further
        system call, which keeps listing 10,000 manifests to a few milliseconds. A folder
        listed before by this source is not read again while its modification time is the
        one seen then (adding, removing or renaming an entry changes it), unless that time
        was within :data:`RACY` of the listing, when a change could hide in the same tick.
        """
        files, dirs = self._entries(folder)
        out.extend(rel + name for name in files)
        for name in dirs:
            self._walk(os.path.join(folder, name), f"{rel}{name}/", out)

    def entries(self, folder: str) -> tuple[list[str], list[str]]:
        base = self.root / folder
        if not base.is_dir() or base.is_symlink():
            return [], []
        return self._entries(str(base))

    def _entries(self, folder: str) -> tuple[list[str], list[str]]:
        try:
            mtime = os.stat(folder).st_mtime_ns
        except OSError:
            return [], []
        seen = self._listed.get(folder)
        if seen is not None and seen[0] == mtime:
            return seen[1], seen[2]
        listed_at = time.time_ns()
        try:
            entries = sorted((e for e in os.scandir(folder) if not e.name.startswith(".")), key=lambda e: e.name)
        except OSError:
            return [], []
        files, dirs = [], []
        for e in entries:
            if e.is_symlink():
                continue
            if e.is_dir(follow_symlinks=False):
                dirs.append(e.name)
            elif e.is_file(follow_symlinks=False):
                files.append(e.name)
        if mtime < listed_at - RACY:
            self._listed[folder] = (mtime, files, dirs)
        return files, dirs

    def read(self, path: str) -> bytes:
        try:
            with open(self._full(path), "rb") as fh:
                data = fh.read(4 * 1024 * 1024 + 1)
        except FileNotFoundError:
            raise MlreleaseError(f"{path}: no such file") from None
        except OSError as exc:
            raise MlreleaseError(f"{path}: cannot read: {exc.strerror}") from None
        return data

    def blob(self, path: str) -> tuple[str, bytes | None]:
        data = self.read(path)
        return blob_id(data), data

    def blob_ids(self, paths: list[str]) -> dict[str, str]:
        """Blob ids of many files; for thousands, git's own index answers for the files it vouches for.

        ``git ls-files --stage`` gives the blob id git recorded for each tracked file, and
        ``git diff-files`` (git's stat check, racy timestamps included) names the files whose
        content may differ from it; only those, and untracked files, are read and hashed
        here. A whole registry then costs two git calls instead of reading every file.
        """
        known = self._git_ids() if len(paths) >= BULK_AT else {}
        return {p: known.get(p) or self.blob(p)[0] for p in paths}

    def _git_ids(self) -> dict[str, str]:
        top = git_toplevel(self.root)
        if top is None:
            return {}
        prefix = os.path.relpath(self.root, top).replace(os.sep, "/")
        spec = [] if prefix == "." else ["--", prefix]
        cut = 0 if prefix == "." else len(prefix) + 1
        try:
            staged = git(top, "ls-files", "--stage", "-v", "-z", *spec).stdout
            dirty = set(git(top, "diff-files", "--name-only", "-z", *spec).stdout.split(b"\0"))
        except GitError:
            return {}
        out: dict[str, str] = {}
        for entry in staged.split(b"\0"):
            meta, _, path = entry.partition(b"\t")
            parts = meta.split()
            # "H 100644 <id> 0": tracked, cached normally (lower case: assume-unchanged; S: skip-worktree), stage 0, a file
            if len(parts) != 4 or parts[0] != b"H" or parts[3] != b"0" or parts[1] not in (b"100644", b"100755") or path in dirty:
                continue
            out[path.decode("utf-8", "surrogateescape")[cut:]] = parts[2].decode()
        return out

    def exists(self, path: str) -> bool:
        full = self.root / path
        return full.is_file() and not full.is_symlink()


class GitRefSource(Source):
    """A registry as committed at ``ref``; ``prefix`` is the registry's folder in the repo."""

    def __init__(self, git_root: Path, ref: str, prefix: str = "") -> None:
        self.git_root = git_root
        self.ref = ref
        self.prefix = prefix.strip("/")
        self.label = f"{git_root}@{ref}"
        self._cat = cat_file(git_root)
        found = self._cat.object(f"{ref}^{{commit}}") if not ref.startswith("-") else None
        if found is None:
            raise MlreleaseError(f"--ref {ref!r}: no such commit, branch or tag in {git_root}")
        self.commit = found[0]
        self._tree: dict[str, str] | None = None
        self._sorted: list[str] | None = None

    @property
    def tree(self) -> dict[str, str]:
        if self._tree is None:
            self._tree = _TREES.get((str(self.git_root), self.commit, self.prefix))
        if self._tree is None:
            args = ["ls-tree", "-r", "-z", "--full-tree", self.commit]
            if self.prefix:
                args += ["--", self.prefix]
            out = git(self.git_root, *args).stdout
            tree: dict[str, str] = {}
            cut = len(self.prefix) + 1 if self.prefix else 0
            for entry in out.split(b"\0"):
                if not entry:
                    continue
                meta, _, path = entry.partition(b"\t")
                mode, kind, oid = meta.split()
                if kind != b"blob" or mode == b"120000":  # skip submodules and symlinks
                    continue
                tree[path.decode("utf-8", "surrogateescape")[cut:]] = oid.decode()
            self._tree = tree
            _remember((str(self.git_root), self.commit, self.prefix), tree)
        return self._tree

    def files(self, prefix: str) -> list[str]:
        p = prefix.rstrip("/") + "/" if prefix else ""
        if self._sorted is None:  # one sort per tree, then each folder is a slice (a model's versions of 100,000 files)
            self._sorted = sorted(self.tree)
        out = []
        for i in range(bisect.bisect_left(self._sorted, p), len(self._sorted)):
            path = self._sorted[i]
            if not path.startswith(p):
                break
            if not path.rsplit("/", 1)[-1].startswith("."):
                out.append(path)
        return out

    def entries(self, folder: str) -> tuple[list[str], list[str]]:
        p = folder.rstrip("/") + "/" if folder else ""
        files: list[str] = []
        folders: list[str] = []
        for path in self.files(folder):
            rest = path[len(p) :]
            if "/" in rest:
                name = rest.split("/", 1)[0]
                if not folders or folders[-1] != name:
                    folders.append(name)
            else:
                files.append(rest)
        return files, folders

    def read(self, path: str) -> bytes:
        oid = self.tree.get(path)
        if oid is None:
            raise MlreleaseError(f"{path}: no such file at {self.ref}")
        return self._cat.read(oid)

    def blob(self, path: str) -> tuple[str, bytes | None]:
        oid = self.tree.get(path)
        if oid is None:
            raise MlreleaseError(f"{path}: no such file at {self.ref}")
        return oid, None

    def blob_ids(self, paths: list[str]) -> dict[str, str]:
        return {p: self.blob(p)[0] for p in paths}

    def exists(self, path: str) -> bool:
        return path in self.tree


# A commit's tree never changes, so its listing is shared by every source at that commit
# in this process (an action reads the same tip to plan, then again to commit). Bounded.
_TREES: dict[tuple[str, str, str], dict[str, str]] = {}
_TREES_KEPT = 4


def _remember(key: tuple[str, str, str], tree: dict[str, str]) -> None:
    _TREES[key] = tree
    while len(_TREES) > _TREES_KEPT:
        del _TREES[next(iter(_TREES))]


def remember_child(git_root: Path, parent: str, child: str, prefix: str, blobs: dict[str, str | None]) -> None:
    """The listing of a commit this process just wrote: its parent's with ``blobs`` changed.

    ``blobs``: registry-relative path → new blob id (None: deleted). Saves listing a tree
    that is already known (the outcome commit is read right after the intent is written).
    """
    prefix = prefix.strip("/")
    tree = _TREES.get((str(git_root), parent, prefix))
    if tree is None:
        return
    tree = dict(tree)
    for path, oid in blobs.items():
        if oid is None:
            tree.pop(path, None)
        else:
            tree[path] = oid
    _remember((str(git_root), child, prefix), tree)
