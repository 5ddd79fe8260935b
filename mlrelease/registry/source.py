"""Where registry files come from: the work tree, or any git ref without a checkout.

Both sources answer the same two questions — which files are under a folder, and what
bytes a file holds — plus each file's git blob id, which keys the parse cache. Listing a
ref costs one ``git ls-tree``; reading costs one pipe to ``git cat-file --batch``.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlrelease.errors import MlreleaseError
from mlrelease.registry.gitio import blob_id, cat_file, git


class Source:
    """Files of a registry, by path relative to the registry root (``models/x/model.yaml``)."""

    label: str

    def files(self, prefix: str) -> list[str]:
        raise NotImplementedError

    def read(self, path: str) -> bytes:
        raise NotImplementedError

    def blob(self, path: str) -> tuple[str, bytes | None]:
        """(blob id, bytes if they had to be read to know the id)."""
        raise NotImplementedError

    def exists(self, path: str) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        pass


class WorkTreeSource(Source):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)

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
        system call, which keeps listing 10,000 manifests to a few milliseconds.
        """
        try:
            entries = sorted((e for e in os.scandir(folder) if not e.name.startswith(".")), key=lambda e: e.name)
        except OSError:
            return
        dirs = []
        for e in entries:
            if e.is_symlink():
                continue
            if e.is_dir(follow_symlinks=False):
                dirs.append(e)
            elif e.is_file(follow_symlinks=False):
                out.append(rel + e.name)
        for d in dirs:
            self._walk(d.path, f"{rel}{d.name}/", out)

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
        return sorted(path for path in self.tree if path.startswith(p) and not path.rsplit("/", 1)[-1].startswith("."))

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
