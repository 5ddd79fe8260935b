"""Where registry files come from: the work tree, or any git ref without a checkout.

Both sources answer the same two questions — which files are under a folder, and what
bytes a file holds — plus each file's git blob id, which keys the parse cache. Listing a
ref costs one ``git ls-tree``; reading costs one pipe to ``git cat-file --batch``.

No read leaves the registry, whatever a path says: a path is refused unless every part
of it is a plain name (no ``..``, no absolute path), and a symbolic link anywhere on it —
in the work tree, or a ``120000`` entry at a ref — is never followed. Links are listed
(:meth:`Source.links`) so lint and the read commands can say where they are.
"""

from __future__ import annotations

import bisect
import errno
import os
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING

from mlrelease.errors import GitError, MlreleaseError
from mlrelease.registry.gitio import blob_id, cat_file, git, git_toplevel

if TYPE_CHECKING:
    from mlrelease.registry.statids import StatIds

BULK_AT = 2000  # from this many files, ask git's index for blob ids rather than hash each file
RACY = 2_000_000_000  # ns: a folder changed this close to its listing may change again unseen (git's racy rule)

LINK = "a symbolic link: mlrelease never follows links in a registry (put the real folder or file here)"


def check_path(path: str) -> None:
    """Refuse a path that is not plainly inside the registry (``..``, absolute, empty parts)."""
    if not path or path.startswith("/") or any(part in ("", ".", "..") for part in path.split("/")):
        raise MlreleaseError(f"{path!r}: not a path inside the registry")


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
        """A regular file at ``path``, reached without a link (False behind one: see :meth:`link_of`)."""
        raise NotImplementedError

    def link_of(self, path: str) -> str | None:
        """The symbolic link on ``path`` (a folder above it, or the file itself), or None."""
        raise NotImplementedError

    def links(self, prefix: str) -> list[str]:
        """Every symbolic link under ``prefix`` (``prefix`` itself included), never followed."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class WorkTreeSource(Source):
    def __init__(self, root: Path, ids: StatIds | None = None) -> None:
        self.root = root
        self.label = str(root)
        self.ids = ids  # blob ids remembered by stat data (None: every file not vouched for by git is hashed)
        # folder → (mtime, files, sub-folders, links): a folder is listed again only when it changed
        self._listed: dict[str, tuple[int, list[str], list[str], list[str]]] = {}
        self._plain_dirs: set[str] = set()  # folders known to be real folders, not links
        self._links: dict[str, list[str]] = {}  # listed prefix → links found under it

    def link_of(self, path: str) -> str | None:
        check_path(path)
        parts = path.split("/")
        for i in range(1, len(parts) + 1):
            rel = "/".join(parts[:i])
            if i < len(parts) and rel in self._plain_dirs:
                continue
            try:
                mode = os.lstat(os.path.join(self.root, rel)).st_mode
            except OSError as exc:
                if exc.errno == errno.ENAMETOOLONG:
                    raise MlreleaseError(f"{path}: a name on this path is too long for the file system") from None
                return None  # missing: nothing further down can be a link
            if stat.S_ISLNK(mode):
                return rel
            if i < len(parts):
                self._plain_dirs.add(rel)
        return None

    def _full(self, path: str) -> str:
        link = self.link_of(path)
        if link is not None:
            raise MlreleaseError(f"{link}: {LINK}")
        return os.path.join(self.root, path)

    def _base(self, prefix: str, links: list[str]) -> str | None:
        """The folder ``prefix`` on disk, or None when it is missing or behind a link (noted in ``links``)."""
        rel = prefix.rstrip("/")
        if rel:
            check_path(rel)
            link = self.link_of(rel)
            if link is not None:
                links.append(link)
                return None
        base = os.path.join(self.root, rel) if rel else str(self.root)
        return base if os.path.isdir(base) else None

    def files(self, prefix: str) -> list[str]:
        out: list[str] = []
        links: list[str] = []
        self._links[prefix] = links
        base = self._base(prefix, links)
        if base is not None:
            rel = prefix.rstrip("/")
            self._walk(base, f"{rel}/" if rel else "", out, links)
        return out

    def links(self, prefix: str) -> list[str]:
        if prefix not in self._links:
            self.files(prefix)
        return list(self._links[prefix])

    def _walk(self, folder: str, rel: str, out: list[str], links: list[str]) -> None:
        """Files first, then sub-folders, each sorted; hidden names skipped, links noted and not followed.

        ``os.scandir`` entries know whether they are links or folders without a further
        system call, which keeps listing 10,000 manifests to a few milliseconds. A folder
        listed before by this source is not read again while its modification time is the
        one seen then (adding, removing or renaming an entry changes it), unless that time
        was within :data:`RACY` of the listing, when a change could hide in the same tick.
        """
        files, dirs, linked = self._scan(folder)
        out.extend(rel + name for name in files)
        links.extend(rel + name for name in linked)
        for name in dirs:
            self._plain_dirs.add(rel + name)
            self._walk(os.path.join(folder, name), f"{rel}{name}/", out, links)

    def entries(self, folder: str) -> tuple[list[str], list[str]]:
        base = self._base(folder, [])
        if base is None:
            return [], []
        files, dirs, _links = self._scan(base)
        return files, dirs

    def _scan(self, folder: str) -> tuple[list[str], list[str], list[str]]:
        try:
            mtime = os.stat(folder).st_mtime_ns
        except OSError:
            return [], [], []
        seen = self._listed.get(folder)
        if seen is not None and seen[0] == mtime:
            return seen[1], seen[2], seen[3]
        listed_at = time.time_ns()
        try:
            entries = sorted((e for e in os.scandir(folder) if not e.name.startswith(".")), key=lambda e: e.name)
        except OSError:
            return [], [], []
        files, dirs, links = [], [], []
        for e in entries:
            if e.is_symlink():
                links.append(e.name)
            elif e.is_dir(follow_symlinks=False):
                dirs.append(e.name)
            elif e.is_file(follow_symlinks=False):
                files.append(e.name)
        if mtime < listed_at - RACY:
            self._listed[folder] = (mtime, files, dirs, links)
        return files, dirs, links

    def read(self, path: str) -> bytes:
        full = self._full(path)
        try:
            fd = os.open(full, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as fh:
                data = fh.read(4 * 1024 * 1024 + 1)
        except FileNotFoundError:
            raise MlreleaseError(f"{path}: no such file") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise MlreleaseError(f"{path}: {LINK}") from None
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
        rest = [p for p in paths if not known.get(p)]
        if rest:
            if self.ids is not None:  # the rest by their stat data where it is unchanged (statids.py), else hashed
                known.update(self.ids.ids(rest, self._plain_stat, lambda p: self.blob(p)[0]))
            else:
                known.update((p, self.blob(p)[0]) for p in rest)
        return {p: known[p] for p in paths}

    def close(self) -> None:
        if self.ids is not None:
            self.ids.close()

    def _plain_stat(self, path: str) -> os.stat_result | None:
        """``lstat`` of the plain file at ``path`` reached without a link; None for anything else (read to say why)."""
        try:
            if self.link_of(path) is not None:
                return None
            st = os.lstat(os.path.join(self.root, path))
        except (OSError, MlreleaseError):
            return None
        return st if stat.S_ISREG(st.st_mode) else None

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
        if self.link_of(path) is not None:
            return False
        try:
            return stat.S_ISREG(os.lstat(os.path.join(self.root, path)).st_mode)
        except OSError:
            return False


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
        self._links: frozenset[str] = frozenset()
        self._sorted: list[str] | None = None

    @property
    def tree(self) -> dict[str, str]:
        if self._tree is None:
            known = _TREES.get((str(self.git_root), self.commit, self.prefix))
            if known is not None:
                self._tree, self._links = known
        if self._tree is None:
            args = ["ls-tree", "-r", "-z", "--full-tree", self.commit]
            if self.prefix:
                args += ["--", self.prefix]
            out = git(self.git_root, *args).stdout
            tree: dict[str, str] = {}
            links: set[str] = set()
            cut = len(self.prefix) + 1 if self.prefix else 0
            for entry in out.split(b"\0"):
                if not entry:
                    continue
                meta, _, path = entry.partition(b"\t")
                mode, kind, oid = meta.split()
                if kind != b"blob":  # submodules
                    continue
                name = path.decode("utf-8", "surrogateescape")[cut:]
                if mode == b"120000":
                    links.add(name)
                else:
                    tree[name] = oid.decode()
            self._tree, self._links = tree, frozenset(links)
            _remember((str(self.git_root), self.commit, self.prefix), (tree, self._links))
        return self._tree

    def link_of(self, path: str) -> str | None:
        check_path(path)
        self.tree  # noqa: B018 - lists the links too
        if not self._links:
            return None
        parts = path.split("/")
        for i in range(1, len(parts) + 1):
            rel = "/".join(parts[:i])
            if rel in self._links:
                return rel
        return None

    def links(self, prefix: str) -> list[str]:
        p = prefix.rstrip("/")
        self.tree  # noqa: B018 - lists the links too
        return sorted(link for link in self._links if not p or link == p or link.startswith(p + "/") or p.startswith(link + "/"))

    def _oid(self, path: str) -> str:
        oid = self.tree.get(path)
        if oid is None:
            link = self.link_of(path)
            if link is not None:
                raise MlreleaseError(f"{link}: {LINK}")
            check_path(path)
            raise MlreleaseError(f"{path}: no such file at {self.ref}")
        return oid

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
        return self._cat.read(self._oid(path))

    def blob(self, path: str) -> tuple[str, bytes | None]:
        return self._oid(path), None

    def blob_ids(self, paths: list[str]) -> dict[str, str]:
        return {p: self.blob(p)[0] for p in paths}

    def exists(self, path: str) -> bool:
        return path in self.tree


# A commit's tree never changes, so its listing is shared by every source at that commit
# in this process (an action reads the same tip to plan, then again to commit). Bounded.
_TREES: dict[tuple[str, str, str], tuple[dict[str, str], frozenset[str]]] = {}
_TREES_KEPT = 4


def _remember(key: tuple[str, str, str], tree: tuple[dict[str, str], frozenset[str]]) -> None:
    _TREES[key] = tree
    while len(_TREES) > _TREES_KEPT:
        del _TREES[next(iter(_TREES))]


def remember_child(git_root: Path, parent: str, child: str, prefix: str, blobs: dict[str, str | None]) -> None:
    """The listing of a commit this process just wrote: its parent's with ``blobs`` changed.

    ``blobs``: registry-relative path → new blob id (None: deleted). Saves listing a tree
    that is already known (the outcome commit is read right after the intent is written).
    """
    prefix = prefix.strip("/")
    known = _TREES.get((str(git_root), parent, prefix))
    if known is None:
        return
    tree, links = dict(known[0]), known[1]  # a write never goes through a link, so the links stay
    for path, oid in blobs.items():
        if oid is None:
            tree.pop(path, None)
        else:
            tree[path] = oid
    _remember((str(git_root), child, prefix), (tree, links))
