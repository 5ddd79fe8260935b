"""What verify carries from one commit to the next, so a verify can resume where an earlier one stopped.

Most checks look only at a commit and the registry at its parent, but four facts come
from the commits before it: which versions were ever live in an environment, who is
behind each approval (the author or signer of the ``approve`` commit that added it),
which files an mlrelease action has written (an import may not rewrite them), and
every rejection a rejections file ever held (a removed one still holds). A verify of
only the commits after an earlier tip gives exactly the findings of a full verify when
it starts from these facts as they were at that tip (tests/test_verify_incremental.py
checks every split point of the forgery scenarios), so :mod:`mlrelease.audit.marks`
keeps them beside each tip's findings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from mlrelease.registry.types import Approval, Rejection


@dataclass
class WalkState:
    live: dict[str, list[str]] = field(default_factory=dict)  # release path → versions that were live, oldest first
    approvers: dict[tuple[str, Approval], str | None] = field(default_factory=dict)  # (path, approval) → identity behind it
    managed: set[str] = field(default_factory=set)  # files an mlrelease action (not an import) has written
    rejected: dict[str, dict[tuple[str, str, datetime], Rejection]] = field(default_factory=dict)  # path → every rejection held

    def to_json(self) -> dict[str, Any]:
        """Plain JSON; datetimes as ISO text with their offset, so they read back equal (and equally hashed)."""
        return {
            "live": self.live,
            "approvers": [[path, _dated(asdict(a)), who] for (path, a), who in self.approvers.items()],
            "managed": sorted(self.managed),
            "rejected": {path: [_dated(asdict(r)) for r in held.values()] for path, held in self.rejected.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WalkState:
        """The state :meth:`to_json` wrote (KeyError, TypeError or ValueError when it is not that)."""
        approvers: dict[tuple[str, Approval], str | None] = {}
        for path, a, who in data["approvers"]:
            approvers[(str(path), Approval(**_undated(a)))] = None if who is None else str(who)
        rejected: dict[str, dict[tuple[str, str, datetime], Rejection]] = {}
        for path, held in data["rejected"].items():
            rs = [Rejection(**_undated(r)) for r in held]
            rejected[str(path)] = {(r.version, r.by, r.at): r for r in rs}
        live = {str(path): [str(v) for v in versions] for path, versions in data["live"].items()}
        return cls(live, approvers, {str(p) for p in data["managed"]}, rejected)


def _dated(d: dict[str, Any]) -> dict[str, Any]:
    return {**d, "at": d["at"].isoformat()}


def _undated(d: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise TypeError("not a record")
    return {**d, "at": datetime.fromisoformat(d["at"])}
