"""What the built-in backends share: safe one-line messages, bounded logs, and a journal.

Far-side text (a command's output, an HTTP reply) is untrusted and may be huge or hold
a secret the far side echoed back; it reaches an :class:`~mlrelease.backends.base.Outcome`
only through :func:`one_line` or :func:`bounded_log`, which redact by value and escape
control characters.

The :class:`Journal` remembers, per backend instance, which promotion ids already
succeeded on this machine (under the registry's ``.git/mlrelease/backends/``, never
committed). It makes ``execute`` idempotent per promotion id for backends whose far side
cannot be asked (a local command), and lets ``status`` answer reconcile after a crash
between the backend's success and the outcome commit.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mlrelease.backends.base import Outcome
from mlrelease.errors import MlreleaseError
from mlrelease.registry.gitio import git_dir, git_toplevel
from mlrelease.secrets import redact, write_private
from mlrelease.textsafe import visible

MESSAGE_LIMIT = 300
LOG_LIMIT = 64 * 1024
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,100}")


def one_line(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """Redacted, escaped, single-line and at most ``limit`` characters."""
    line = visible(redact(text), single_line=True).strip()
    return line if len(line) <= limit else line[: limit - 1] + "…"


def bounded_log(text: str, limit: int = LOG_LIMIT) -> str:
    """Redacted and escaped multi-line text, keeping the start and the end when too long."""
    text = visible(redact(text))
    if len(text) <= limit:
        return text
    head = limit // 4
    tail = limit - head
    return f"{text[:head]}\n[... {len(text) - limit:,} characters omitted ...]\n{text[-tail:]}"


class Journal:
    """Successful outcomes by promotion id for one backend instance, on this machine."""

    def __init__(self, registry_root: Path, backend: str) -> None:
        self._root = registry_root
        self._backend = backend
        self._dir: Path | None = None

    def _folder(self) -> Path | None:
        if self._dir is None:
            try:
                top = git_toplevel(self._root) if self._root.is_dir() else None
                if top is None:
                    return None  # not a git repository: nothing to remember with
                self._dir = git_dir(top) / "mlrelease" / "backends" / file_name(self._backend)
            except MlreleaseError:
                return None
        return self._dir

    def _path(self, promotion_id: str) -> Path | None:
        folder = self._folder()
        return folder / f"{file_name(promotion_id)}.json" if folder else None

    def get(self, promotion_id: str) -> Outcome | None:
        try:
            data = _record(self._path(promotion_id))
            if data is None or data.get("promotion_id") != promotion_id:
                return None
            return Outcome(ok=True, reference=data.get("reference"), message=data.get("message"), log=data.get("log", ""))
        except (OSError, ValueError, AttributeError):
            return None  # an unreadable entry is treated as unknown, never as success

    def replay(self, promotion_id: str, done: str, skipped: str) -> Outcome | None:
        """The recorded success for ``promotion_id`` as the answer to a repeated call, or None.

        The message reads "already {done} for promotion ID; {skipped}".
        """
        found = self.get(promotion_id)
        if found is None:
            return None
        message = f"already {done} for promotion {one_line(promotion_id)}; {skipped}"
        return Outcome(ok=True, reference=found.reference, message=message, log=found.log)

    def put(self, promotion_id: str, outcome: Outcome) -> None:
        """Record a success atomically (write to a temporary file, then rename)."""
        path = self._path(promotion_id)
        if path is None or not outcome.ok:
            return
        data = {"promotion_id": promotion_id, "reference": outcome.reference, "message": outcome.message, "log": outcome.log}
        # Losing an entry costs only the shortcut on a repeated call, so a full disk or a
        # read-only .git must not turn a success into an exception.
        with contextlib.suppress(OSError):
            write_private(path, json.dumps(data))

    # ---- calls in flight: so reconcile never re-drives a call that may still be running ----

    def _flight(self, promotion_id: str) -> Path | None:
        folder = self._folder()
        return folder / "inflight" / f"{file_name(promotion_id)}.json" if folder else None

    def _write_flight(self, path: Path, data: dict[str, object]) -> None:
        with contextlib.suppress(OSError):
            write_private(path, json.dumps(data))

    @contextlib.contextmanager
    def flight(self, promotion_id: str) -> Iterator[None]:
        """While a backend call for ``promotion_id`` runs: which process makes it, since when.

        Left behind when the process is killed, so a later reconcile can tell that the call
        (or a child it started, see :meth:`child`) may still be running.
        """
        path = self._flight(promotion_id)
        if path is not None:
            self._write_flight(path, {"promotion_id": promotion_id, "pid": os.getpid(), "pid_start": _started(os.getpid())})
        try:
            yield
        finally:
            if path is not None:
                with contextlib.suppress(OSError):
                    path.unlink()

    def child(self, promotion_id: str, pgid: int) -> None:
        """A backend started a process group for this call: it may outlive us (kill -9)."""
        path = self._flight(promotion_id)
        try:
            data = _record(path)
        except (OSError, ValueError):
            return
        if path is None or data is None:
            return
        data["pgid"] = pgid
        self._write_flight(path, data)

    def in_flight(self, promotion_id: str) -> str | None:
        """Why a call for ``promotion_id`` may still be running on this machine, or None."""
        try:
            data = _record(self._flight(promotion_id))
            if data is None:
                return None
            pid, start, pgid = int(data.get("pid", 0)), data.get("pid_start"), data.get("pgid")
        except (OSError, ValueError, TypeError, AttributeError):
            return "its in-flight record is unreadable"  # unknown is never "not running"
        if pid and pid != os.getpid() and _exists(os.kill, pid) and _started(pid) == start:
            return f"process {pid} that started the call is still running"
        if isinstance(pgid, int) and pgid > 0 and _exists(os.killpg, pgid):
            return f"the backend's process group {pgid} is still running"
        return None


def _record(path: Path | None) -> dict[str, Any] | None:
    """The JSON object kept at ``path``, or None when there is none; OSError or ValueError when unreadable."""
    if path is None or not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a JSON object")
    return data


def _exists(send: Callable[[int, int], None], target: int) -> bool:
    """Signal 0 through ``send`` (os.kill, os.killpg) finds ``target``: ours or another user's."""
    try:
        send(target, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _started(pid: int) -> str | None:
    """The process's start time (Linux: /proc/PID/stat field 22), so a reused pid is not taken for it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def file_name(text: str) -> str:
    """``text`` when it is a safe file name, else a digest of it (ids come from outside)."""
    if _SAFE_ID.fullmatch(text) and ".." not in text:
        return text
    return "h-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:40]
