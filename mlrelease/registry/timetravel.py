"""``--at DATE``: the registry as it was at a moment, read from its own history.

Every change to the registry is a commit (mlrelease's actions set the commit's date to
when they happened), so the registry at a moment is the tree of the last commit on the
branch's first-parent line made at or before it — the release history, never the reflog
(which is local, expires and records when *this clone* moved, not when things happened).
``git rev-list --first-parent --before`` walks commit headers only, so 5,000 release
commits answer in milliseconds; the registry is then read at that commit like ``--ref``.

Moments: ISO 8601 (``2026-10-01``, ``2026-10-01T09:00``, ``2026-10-01 09:00:00+02:00``;
without a zone, UTC; a date alone is 00:00 UTC that day), ``now``, or ``N UNIT ago``
(seconds, minutes, hours, days, weeks). Anything else is refused: git's own date reader
takes almost any text as *now*, which would answer a question nobody asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from mlrelease.errors import NotFound, UsageError
from mlrelease.registry import layout
from mlrelease.registry.fields import format_timestamp
from mlrelease.registry.gitio import git_text

_AGO = re.compile(r"(\d+)\s*(second|minute|hour|day|week)s?\s+ago")
_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}


@dataclass(frozen=True)
class Moment:
    """The commit that answers for a moment."""

    asked: datetime
    commit: str
    committed: datetime  # when that commit was made (at or before ``asked``)
    subject: str

    def describe(self) -> str:
        return (
            f"the registry as it was at {format_timestamp(self.asked)}: commit {self.commit[:12]} "
            f"of {format_timestamp(self.committed)} ({self.subject}); read-only"
        )


def parse_moment(text: str, now: datetime | None = None) -> datetime:
    """``text`` as an aware datetime; a UsageError naming the accepted forms otherwise."""
    now = now or datetime.now(UTC).replace(microsecond=0)
    t = text.strip().lower()
    if t == "now":
        return now
    ago = _AGO.fullmatch(t)
    if ago:
        return now - timedelta(seconds=int(ago.group(1)) * _UNITS[ago.group(2)])
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", t):
            day = date.fromisoformat(t)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        value = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        value = None
    if value is None:
        raise UsageError(f"--at {text!r}: not a moment; use an ISO date or time (2026-10-01, 2026-10-01T09:00Z), 'now' or 'N days ago'")
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def moment(root: Path, when: datetime, ref: str = "HEAD") -> Moment:
    """The last first-parent commit of ``ref`` made at or before ``when``."""
    out = git_text(root, "rev-list", "-1", "--first-parent", f"--before={int(when.timestamp())}", "--format=%H%x00%ct%x00%s", ref, "--")
    lines = [line for line in out.splitlines() if "\0" in line]
    if not lines:
        first = git_text(root, "log", "--reverse", "--first-parent", "--format=%cI", ref, "--").split("\n", 1)[0].strip()
        since = f"; its history starts at {first}" if first else ""
        raise NotFound(f"the registry did not exist yet at {format_timestamp(when)}{since}")
    commit, stamp, subject = lines[0].split("\0", 2)
    return Moment(when, commit, datetime.fromtimestamp(int(stamp), UTC), subject)


def step(root: Path, current: str, direction: int, *, ref: str = "HEAD", prefix: str = "") -> Moment | None:
    """The release event before (``direction`` < 0) or after the state at commit ``current``, or None at either end.

    Release events are the first-parent commits of ``ref`` that changed a release state
    (``releases/``: promotions, rollbacks, their outcomes, pins). The state at ``current``
    is the one after the last event at or before it, so one step back shows the event
    before that one, and one step forward the first event after ``current``.
    """
    path = f"{prefix}/{layout.RELEASES}" if prefix else layout.RELEASES
    fmt = "--format=%H%x00%ct%x00%s"
    if direction < 0:
        out = git_text(root, "rev-list", "-2", "--first-parent", fmt, current, "--", path)
    else:
        out = git_text(root, "rev-list", "--reverse", "--first-parent", "--ancestry-path", fmt, f"{current}..{ref}", "--", path)
    lines = [line for line in out.splitlines() if "\0" in line]
    wanted = lines[1:2] if direction < 0 else lines[:1]
    if not wanted:
        return None
    commit, stamp, subject = wanted[0].split("\0", 2)
    at = datetime.fromtimestamp(int(stamp), UTC)
    return Moment(at, commit, at, subject)
