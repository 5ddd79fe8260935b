"""Linear git histories written in one ``git fast-import`` run: the example's and the benchmarks'.

Each commit lists only the files it changes and ``fast-import`` builds the trees, so a
few hundred commits take well under a second and thousands a few seconds, with exact
authors and dates. ``bench/synth.py`` builds its large synthetic registries with it.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
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
        self._chunks: list[bytes] = []
        self.count = 0

    def commit(self, c: Commit) -> None:
        self.count += 1
        msg = c.message.encode("utf-8")
        out = [
            f"commit refs/heads/{self.branch}\nmark :{self.count}\n".encode(),
            b"author " + _signature(c.author, c.at, self.tz) + b"\n",
            b"committer " + _signature(c.committer, c.at, self.tz) + b"\n",
            b"data %d\n" % len(msg) + msg + b"\n",
        ]
        if self.count > 1:
            out.append(b"from :%d\n" % (self.count - 1))
        for path, data in c.files.items():
            if data is None:
                out.append(b"D " + path.encode("utf-8") + b"\n")
            else:
                out.append(b"M 100644 inline " + path.encode("utf-8") + b"\ndata %d\n" % len(data) + data + b"\n")
        self._chunks.append(b"".join(out))

    def write(self, root: Path) -> None:
        """Create a repository at ``root`` (which must not exist), import, check out the branch."""
        root.mkdir(parents=True)
        git(root, "init", "--quiet", f"--initial-branch={self.branch}")
        git(root, "fast-import", "--quiet", "--done", input=b"".join(self._chunks) + b"done\n", timeout=600)
        git(root, "reset", "--hard", "--quiet")


def fake_digest(*parts: object, n: int = 64) -> str:
    """A stable fake digest: the same parts always give the same hex string."""
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:n]


def ulid(at: datetime, rng: random.Random) -> str:
    """A promotion id in the release service's format (a ULID), drawn from the story's seed."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    value = ((int(at.timestamp() * 1000) & ((1 << 48) - 1)) << 80) | rng.getrandbits(80)
    return "".join(alphabet[(value >> (5 * i)) & 31] for i in reversed(range(26)))
