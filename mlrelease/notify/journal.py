"""The delivery journal: every notification, sent or not, beside the repository (never committed).

``.git/mlrelease/notifications.jsonl`` holds one JSON object per :class:`Delivery`, appended
(redacted) by :func:`append` after each release event. :func:`read` is the one reader:
``mlrelease notify log`` and the TUI's Notifications view both show what it returns, so they
cannot disagree. Every text read back is redacted again (with the secrets this process
knows) and made one visible line, because the file is only as trusted as the clone.

:func:`unseen_failures` and :func:`mark_seen` keep the place of the last look at the log
(``notifications.seen`` beside it: the newest entry seen), so a face can say "2 failed since
you last looked" without anyone having to open the log to find out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mlrelease.registry.gitio import git_dir, git_toplevel
from mlrelease.secrets import redact
from mlrelease.textsafe import visible

JOURNAL = "notifications.jsonl"
SEEN = "notifications.seen"
KEEP = 1000  # deliveries kept in the journal (the oldest are dropped)


@dataclass(frozen=True)
class Delivery:
    """What happened to one message on one channel."""

    event: str
    channel: str
    ok: bool
    detail: str  # "sent to slack://hooks.slack.com", or why not
    at: datetime
    model: str | None = None
    environment: str | None = None
    action_id: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "event": self.event,
            "channel": self.channel,
            "ok": self.ok,
            "detail": self.detail,
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "model": self.model,
            "environment": self.environment,
            "action_id": self.action_id,
        }

    def note(self) -> str:
        """A line for the face that ran the action."""
        return f"notification {self.event!r} to channel {self.channel} not delivered: {self.detail} (the release itself is recorded)"

    @classmethod
    def from_json(cls, entry: object) -> Delivery | None:
        """A journal line's object as a Delivery (texts cleaned), or None when it is not one."""
        if not isinstance(entry, dict) or not isinstance(entry.get("event"), str) or not isinstance(entry.get("at"), str):
            return None
        try:
            at = datetime.fromisoformat(entry["at"])
        except ValueError:
            return None
        at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)

        def text(key: str) -> str | None:
            value = entry.get(key)
            return None if value is None else clean(str(value))

        return cls(
            clean(entry["event"]),
            text("channel") or "?",
            entry.get("ok") is True,
            text("detail") or "",
            at,
            text("model"),
            text("environment"),
            text("action_id"),
        )


def clean(text: str) -> str:
    """Text for the record and for the screen: secrets masked, one line of visible characters."""
    return visible(redact(text), single_line=True)


def journal_path(root: Path) -> Path | None:
    """Where this clone's deliveries are kept, or None for a registry folder outside git (none are kept).

    Under the clone's common git folder: shared by its worktrees, as the clone's notifications are.
    """
    top = git_toplevel(root)
    return None if top is None else git_dir(top) / "mlrelease" / JOURNAL


def append(root: Path, deliveries: tuple[Delivery, ...]) -> None:
    """Append one line per delivery (one write, O_APPEND: concurrent runs do not mix lines)."""
    if not deliveries:
        return
    path = journal_path(root)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "".join(json.dumps(d.to_json(), ensure_ascii=False) + "\n" for d in deliveries)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(redact(text))
        if path.stat().st_size > KEEP * 400:  # about twice KEEP lines: keep the newest KEEP
            lines = path.read_text(encoding="utf-8").splitlines()[-KEEP:]
            tmp = path.with_suffix(".tmp")
            tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
            tmp.replace(path)
    except OSError:
        pass  # the record of a notification is worth less than the release it follows


def _newest_first(path: Path | None) -> Iterator[tuple[str, Delivery]]:
    """(line, delivery) for every readable line of the journal, newest first."""
    if path is None:
        return
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return
    for line in reversed(lines):
        try:
            delivery = Delivery.from_json(json.loads(line))
        except ValueError:
            continue
        if delivery is not None:
            yield line, delivery


def read(root: Path, *, limit: int = 50, failed_only: bool = False) -> list[Delivery]:
    """The newest ``limit`` deliveries first, as recorded (``mlrelease notify log``, the TUI)."""
    out: list[Delivery] = []
    for _line, delivery in _newest_first(journal_path(root)):
        if len(out) >= limit:
            break
        if not failed_only or not delivery.ok:
            out.append(delivery)
    return out


def _digest(line: str) -> str:
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


def _seen(path: Path | None) -> tuple[str, datetime] | None:
    if path is None:
        return None
    try:
        data = json.loads((path.parent / SEEN).read_text(encoding="utf-8"))
        return str(data["digest"]), datetime.fromisoformat(str(data["at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # never looked (or the mark is unreadable): everything is unseen


def unseen_failures(root: Path) -> int:
    """Failed deliveries recorded after the newest entry seen at the last :func:`mark_seen`."""
    path = journal_path(root)
    seen = _seen(path)
    count = 0
    for line, delivery in _newest_first(path):
        if seen is not None and (_digest(line) == seen[0] or delivery.at < seen[1]):
            break
        count += not delivery.ok
    return count


def mark_seen(root: Path) -> None:
    """Remember the newest entry as seen (someone looked at the log); never raises."""
    path = journal_path(root)
    newest = next(_newest_first(path), None)
    if path is None or newest is None:
        return
    line, delivery = newest
    mark = json.dumps({"digest": _digest(line), "at": delivery.at.isoformat()})
    try:
        tmp = path.parent / f".{SEEN}.tmp"
        tmp.write_text(mark + "\n", encoding="utf-8")
        tmp.replace(path.parent / SEEN)
    except OSError:
        pass  # the mark only saves a look; losing it shows old failures again
