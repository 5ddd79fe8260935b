"""Whole answers of read commands, kept by exactly what they are a function of: never stale.

``history --json`` at 100,000 versions is 100 MB of JSON built from 124,000 commits, and
``list --json`` reads every release state and lists every version folder; both took
seconds on every run although the registry had not changed. Each answer is a function
of things git names exactly:

* the **tip commit** (``--ref``, or the commit ``--at`` resolved to, or HEAD): history's
  events and the verify marks every face shows are read from git objects alone;
* for a read of the **work tree**, its files — which are the tip's tree when ``git
  status`` (changes, staged or not, untracked and ignored files, under the registry's
  folder) says nothing differs (``whole_tree``), or, for a command that reads only a few
  work-tree files (history checks MODEL and ``--env`` against them), those files' bytes
  and the kinds of every folder on their paths (``inputs``);
* the command and its arguments, the registry's folder, and mlrelease's code (its
  version and every module's size and modification time, so an upgrade or an edited
  checkout never replays an old answer).

The digest of all that names a file under ``.git/mlrelease/answers/``; the file holds the
text the command wrote, with its length and CRC-32 in a fixed header, so a truncated or
damaged file is refused (and deleted) and the answer computed again: a missing or corrupt
answer only costs time. An answer is written to a temporary file while the command runs
and kept only when the command ended well (exit 0, nothing on stderr) and the tip and the
work tree are still what the key said; then renamed into place, so a reader sees a whole
answer or none. The newest :data:`KEEP` answers (and at most :data:`KEEP_BYTES`) are kept.
A dirty work tree, a repository without commits or a read-only ``.git`` just compute.

``git status`` runs with ``GIT_OPTIONAL_LOCKS=0``: it never writes the user's index (a
release in progress checks index.lock).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlrelease import __version__
from mlrelease.registry.gitio import git, git_dir, git_toplevel

FORMAT = "1"
KEEP = 16  # answers kept (the newest by use)
KEEP_BYTES = 512 * 1024 * 1024  # and at most this much of them (the newest is always kept)
CHUNK = 1 << 20
_HEADER = "mlrelease-answer {format} {length:020d} {crc:010d}\n"
_HEADER_SIZE = len(_HEADER.format(format=FORMAT, length=0, crc=0))


@dataclass(frozen=True)
class Slot:
    """Where one answer is kept, and what must still hold for it to be kept."""

    path: Path
    recheck: Callable[[], Path | None]  # the slot's path computed again (None: no slot any more)


def slot(
    root: Path, ref: str | None, command: str, params: Sequence[object], *, whole_tree: bool, inputs: Sequence[str] = ()
) -> Slot | None:
    """The slot of ``command`` with ``params`` on the registry at ``root`` (``ref``: None for the work tree).

    ``whole_tree``: the answer reads the whole work tree (kept only while it is clean);
    otherwise it reads the work tree only through ``inputs`` (registry-relative paths).
    None when no answer can be kept: no git, no commit, a dirty work tree.
    """

    def key() -> Path | None:
        return _key(root, ref, command, params, whole_tree, inputs)

    path = key()
    return None if path is None else Slot(path, key)


def _key(root: Path, ref: str | None, command: str, params: Sequence[object], whole_tree: bool, inputs: Sequence[str]) -> Path | None:
    top = git_toplevel(root)
    if top is None:
        return None
    prefix = Path(os.path.relpath(root.resolve(), top.resolve())).as_posix()
    proc = git(top, "rev-parse", "--verify", "--quiet", f"{ref or 'HEAD'}^{{commit}}", check=False)
    if proc.returncode != 0:
        return None
    tip = proc.stdout.decode().strip()
    read: list[object] = []
    if ref is None:
        if whole_tree:
            if not clean(top, prefix, tip):
                return None
        else:
            read = [_fingerprint(root, p) for p in inputs]
    material = json.dumps([FORMAT, __version__, _code(), str(root.resolve()), prefix, ref is None, tip, read, command, list(params)])
    digest = hashlib.sha256(material.encode("utf-8", "surrogateescape")).hexdigest()[:40]
    return git_dir(top) / "mlrelease" / "answers" / f"{digest}.out"


RACY_NS = 2_000_000_000  # a folder changed this close before a proof is taken is not vouched for (timestamps are coarse)


def clean(top: Path, prefix: str, tip: str) -> bool:
    """Whether ``git status`` would show nothing under ``prefix`` (no change, staged or not, no untracked or ignored file).

    ``git status`` of 100,000 files costs 0.3 s of CPU, most of a kept ``list --json``.
    When it last said clean, a proof is kept (``.git/mlrelease/answers/clean-*.json``):
    the tip, the stat of git's index file, and the modification time of every folder under
    ``prefix``, all taken *before* that status ran. While the tip and the index file are
    the same, the index still equals the tip's tree (nothing staged); while every folder
    has the same mtime, no file was added, removed or renamed anywhere (an untracked or
    ignored file is a new name in some folder; a new folder changes its parent's); what
    is left — a tracked file edited in place — is ``git diff-files`` (git's own stat check
    of every file, racy timestamps included), which costs half of ``git status``. Anything
    else, or no proof, runs ``git status`` as before. A folder changed less than
    :data:`RACY_NS` before the proof was taken is not trusted to show a later change (its
    mtime may not move within the clock's granularity), so no proof is kept then.
    """
    proof = _proof_path(top, prefix)
    if proof is not None and _proven(top, prefix, tip, proof):
        diff = git(top, "diff-files", "--quiet", "--", prefix, env={"GIT_OPTIONAL_LOCKS": "0"}, check=False)
        if diff.returncode == 0:
            return True
    taken = time.time_ns()
    before = _stats(top, prefix) if proof is not None else None
    status = git(
        top, "status", "--porcelain", "-z", "--untracked-files=all", "--ignored=matching", "--", prefix,
        env={"GIT_OPTIONAL_LOCKS": "0"}, check=False,
    )  # fmt: skip
    if status.returncode != 0 or status.stdout:
        return False
    if proof is not None and before is not None and all(m < taken - RACY_NS for _p, m in before[2]):
        index_path, index, folders = before
        _write_proof(proof, {"format": FORMAT, "tip": tip, "index_path": index_path, "index": index, "folders": folders})
    return True


def _proof_path(top: Path, prefix: str) -> Path | None:
    digest = hashlib.sha256(f"{top.resolve()}\0{prefix}".encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return git_dir(top) / "mlrelease" / "answers" / f"clean-{digest}.json"


def _index_stat(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _stats(top: Path, prefix: str) -> tuple[str, list[int], list[tuple[str, int]]] | None:
    """git's index file (its path: a linked worktree has its own) with its stat, and (folder, mtime) of every folder under ``prefix``."""
    where = git(top, "rev-parse", "--path-format=absolute", "--git-path", "index", check=False)
    path = where.stdout.decode("utf-8", "surrogateescape").strip()
    index = _index_stat(path) if where.returncode == 0 and path else None
    if index is None:
        return None
    start = top if prefix == "." else top / prefix
    folders: list[tuple[str, int]] = []
    todo = [start]
    try:
        while todo:
            folder = todo.pop()
            folders.append((os.path.relpath(folder, top), os.lstat(folder).st_mtime_ns))
            with os.scandir(folder) as entries:
                todo.extend(Path(e.path) for e in entries if e.is_dir(follow_symlinks=False) and not (e.name == ".git" and folder == top))
    except OSError:
        return None
    return path, index, folders


def _proven(top: Path, prefix: str, tip: str, proof: Path) -> bool:
    try:
        data = json.loads(proof.read_text(encoding="utf-8"))
        if data["format"] != FORMAT or data["tip"] != tip or data["index"] != _index_stat(str(data["index_path"])):
            return False
        return all(os.lstat(top / rel).st_mtime_ns == mtime for rel, mtime in data["folders"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _write_proof(path: Path, data: dict[str, object]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}.out")  # removed by prune() if a run dies here
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only .git: git status every time


def _fingerprint(root: Path, rel: str) -> list[object]:
    """What a read of ``rel`` in the work tree can see: each part's file type (a link is never followed), and the bytes."""
    parts = rel.split("/")
    kinds: list[object] = []
    for i in range(1, len(parts) + 1):
        try:
            mode = os.lstat(root.joinpath(*parts[:i])).st_mode
        except OSError:
            kinds.append(None)
            return [rel, kinds]
        kinds.append(stat.S_IFMT(mode))
        if stat.S_ISLNK(mode):
            return [rel, kinds]
    try:
        data = root.joinpath(*parts).read_bytes() if stat.S_ISREG(mode) else b""
    except OSError:
        return [rel, kinds, None]
    return [rel, kinds, hashlib.sha256(data).hexdigest()]


def _code() -> str:
    """mlrelease's modules by size and modification time (an edited checkout or an upgrade changes it)."""
    if not _CODE:
        package = Path(__file__).resolve().parent.parent
        h = hashlib.sha256()
        for folder, dirs, files in os.walk(package):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(".py"):
                    st = os.stat(os.path.join(folder, name))
                    h.update(f"{os.path.relpath(os.path.join(folder, name), package)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        _CODE.append(h.hexdigest())
    return _CODE[0]


_CODE: list[str] = []


def replay(s: Slot, write: Callable[[str], object]) -> bool:
    """Write the kept answer through ``write``; False (nothing written) when there is none or it is damaged.

    Read twice: once to check its length and CRC-32 whole before a byte is written, then
    in chunks to write it (the page cache holds it): memory stays at one chunk however big
    the answer (``history --json`` at 100,000 versions is 115 MB).
    """
    try:
        fh = open(s.path, "rb")  # noqa: SIM115 - closed below, after the second pass
    except FileNotFoundError:
        return False
    except OSError:
        return _refuse(s)
    with fh:
        try:
            header = fh.read(_HEADER_SIZE).decode("ascii", "replace").split()
            if len(header) != 4 or header[0] != "mlrelease-answer" or header[1] != FORMAT:
                raise ValueError("not an answer")
            length, crc = int(header[2]), int(header[3])
            seen, total = 0, 0
            while chunk := fh.read(CHUNK):
                seen, total = zlib.crc32(chunk, seen), total + len(chunk)
            if (seen, total) != (crc, length):
                raise ValueError("damaged")
            fh.seek(_HEADER_SIZE)
        except (OSError, ValueError):
            return _refuse(s)
        with contextlib.suppress(OSError):
            os.utime(s.path)  # the newest by use are kept
        decode = _decoder()
        left = length
        while left > 0 and (chunk := fh.read(min(CHUNK, left))):  # a closed pipe raises here, as it does for a computed answer
            left -= len(chunk)
            write(decode(chunk, False))
        write(decode(b"", True))
    return True


def _refuse(s: Slot) -> bool:
    with contextlib.suppress(OSError):
        s.path.unlink()
    return False


def _decoder() -> Callable[[bytes, bool], str]:
    import codecs

    return codecs.getincrementaldecoder("utf-8")("surrogateescape").decode


class Recording:
    """The answer being written while the command runs; :meth:`keep` puts it in its slot."""

    def __init__(self, s: Slot) -> None:
        self.slot = s
        s.path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=s.path.parent, prefix=".tmp-", suffix=".out")
        self._tmp = Path(name)
        self._fh = os.fdopen(fd, "wb")
        self._fh.write(b" " * _HEADER_SIZE)
        self._crc, self._length = 0, 0
        self._failed = False

    def write(self, text: str) -> None:
        if self._failed:
            return
        data = text.encode("utf-8", "surrogateescape")
        try:
            self._fh.write(data)
        except OSError:  # a full disk: the command goes on, its answer is not kept
            self._failed = True
            return
        self._crc, self._length = zlib.crc32(data, self._crc), self._length + len(data)

    def keep(self) -> None:
        """Into the slot, if the registry is still what the slot's key said (else dropped)."""
        try:
            if self._failed or self.slot.recheck() != self.slot.path:
                self.discard()
                return
            self._fh.seek(0)
            self._fh.write(_HEADER.format(format=FORMAT, length=self._length, crc=self._crc).encode("ascii"))
            self._fh.close()
            os.replace(self._tmp, self.slot.path)
        except OSError:
            self.discard()
            return
        prune(self.slot.path.parent)

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self._fh.close()
        with contextlib.suppress(OSError):
            self._tmp.unlink()


def record(s: Slot) -> Recording | None:
    """A recording for ``s``, or None where nothing can be written (a read-only ``.git``)."""
    try:
        return Recording(s)
    except OSError:
        return None


def prune(folder: Path) -> None:
    """Keep the newest :data:`KEEP` answers within :data:`KEEP_BYTES`; temporary files of dead runs go after a day."""
    import time

    try:
        found = [(p.stat(), p) for p in folder.iterdir() if p.suffix == ".out"]  # not the clean proofs
    except OSError:
        return
    kept, size = 0, 0
    for st, p in sorted(((st, p) for st, p in found if not p.name.startswith(".tmp-")), key=lambda e: e[0].st_mtime, reverse=True):
        kept, size = kept + 1, size + st.st_size
        if kept > 1 and (kept > KEEP or size > KEEP_BYTES):
            with contextlib.suppress(OSError):
                p.unlink()
    for st, p in found:
        if p.name.startswith(".tmp-") and st.st_mtime < time.time() - 86400:
            with contextlib.suppress(OSError):
                p.unlink()
