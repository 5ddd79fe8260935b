"""Linear git histories written in one ``git fast-import`` run: the example's and the benchmarks'.

Each commit lists only the files it changes and ``fast-import`` builds the trees, so a
few hundred commits take well under a second and thousands a few seconds, with exact
authors and dates. ``bench/synth.py`` builds its large synthetic registries with it.
"""

from __future__ import annotations

import hashlib
import random
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from mlrelease.gitstore.gitwrite import Identity
from mlrelease.registry.gitio import git

Person = Identity  # an author or committer: the same ``Name <email>`` the release side commits as


@dataclass(frozen=True)
class Commit:
    at: datetime
    author: Person
    committer: Person
    message: str
    files: Mapping[str, bytes | None]  # path → content; None deletes


@dataclass(frozen=True)
class Deferred:
    """A commit whose message and files name an earlier commit's id, known only once that one is written.

    ``make`` gets the full id of ``after`` (a commit given before this one) and returns
    the message and files, as :class:`Commit` has them. The import stops there, reads
    the id, and goes on in a second ``fast-import`` run: as deterministic as one run.
    """

    at: datetime
    author: Person
    committer: Person
    after: Commit
    make: Callable[[str], tuple[str, Mapping[str, bytes | None]]]


def _signature(who: Person, at: datetime, tz: ZoneInfo | None) -> bytes:
    local = at.astimezone(tz) if tz else at.astimezone(UTC)
    offset = local.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    zone = f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    return f"{who.name} <{who.email}> {int(at.timestamp())} {zone}".encode()


class FastImport:
    """A linear history for one branch, written by a single ``git fast-import`` run.

    Each commit lists only the files it changes; ``fast-import`` builds the trees. This is
    how thousands of commits land in a second, with exact authors and dates.
    """

    def __init__(self, branch: str = "main", *, tz: ZoneInfo | None = None) -> None:
        self.branch = branch
        self.tz = tz
        self._chunks: list[bytes | tuple[int, Deferred]] = []
        self._marks: dict[int, int] = {}  # id() of a Commit given → its mark
        self.count = 0

    def commit(self, c: Commit | Deferred) -> None:
        if isinstance(c, Deferred):
            self.count += 1
            if id(c.after) not in self._marks:
                raise ValueError("a deferred commit names a commit given before it")
            self._chunks.append((self.count, c))
            return
        self._marks[id(c)] = self.count + 1
        self._chunks.append(self._chunk(self.count + 1, c.at, c.author, c.committer, c.message, c.files))
        self.count += 1

    def _chunk(self, mark: int, at: datetime, author: Person, committer: Person, message: str, files: Mapping[str, bytes | None]) -> bytes:
        msg = message.encode("utf-8")
        out = [
            f"commit refs/heads/{self.branch}\nmark :{mark}\n".encode(),
            b"author " + _signature(author, at, self.tz) + b"\n",
            b"committer " + _signature(committer, at, self.tz) + b"\n",
            b"data %d\n" % len(msg) + msg + b"\n",
        ]
        if mark > 1:
            out.append(b"from :%d\n" % (mark - 1))
        for path, data in files.items():
            if data is None:
                out.append(b"D " + path.encode("utf-8") + b"\n")
            else:
                out.append(b"M 100644 inline " + path.encode("utf-8") + b"\ndata %d\n" % len(data) + data + b"\n")
        return b"".join(out)

    def write(self, root: Path) -> None:
        """Create a repository at ``root`` (which must not exist), import, check out the branch.

        One ``fast-import`` run, or one more after each :class:`Deferred` commit (marks kept between them).
        """
        root.mkdir(parents=True)
        git(root, "init", "--quiet", f"--initial-branch={self.branch}")
        with tempfile.TemporaryDirectory() as tmp:
            marks = Path(tmp) / "marks"
            pending: list[bytes] = []
            for chunk in self._chunks:
                if isinstance(chunk, bytes):
                    pending.append(chunk)
                    continue
                self._run(root, pending, marks)
                ids = dict(line.split() for line in marks.read_text().splitlines())
                mark, d = chunk
                message, files = d.make(ids[f":{self._marks[id(d.after)]}"])
                pending = [self._chunk(mark, d.at, d.author, d.committer, message, files)]
            self._run(root, pending, marks)
        git(root, "reset", "--hard", "--quiet")

    @staticmethod
    def _run(root: Path, chunks: list[bytes], marks: Path) -> None:
        args = ["fast-import", "--quiet", "--done", f"--export-marks={marks}"]
        if marks.exists():
            args.append(f"--import-marks={marks}")
        git(root, *args, input=b"".join(chunks) + b"done\n", timeout=600)


def fake_digest(*parts: object, n: int = 64) -> str:
    """A stable fake digest: the same parts always give the same hex string."""
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:n]


def ulid(at: datetime, rng: random.Random) -> str:
    """A promotion id in the release service's format (a ULID), drawn from the story's seed."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    value = ((int(at.timestamp() * 1000) & ((1 << 48) - 1)) << 80) | rng.getrandbits(80)
    return "".join(alphabet[(value >> (5 * i)) & 31] for i in reversed(range(26)))
