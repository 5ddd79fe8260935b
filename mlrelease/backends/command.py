"""``command``: run a local program from an argv template — never through a shell.

Each template item becomes exactly one argv element after its ``{placeholders}`` are
filled, so a reason like ``x; rm -rf / $(id)`` or ``-rf`` arrives as one literal argument
(the program should still put ``--`` before values it takes from an action). Unknown
placeholders, attribute access (``{model.x}``) and format specs are config errors.

The child gets a minimal environment: PATH, HOME, LANG, LC_ALL, TMPDIR and TZ from ours,
the variables listed in ``env_from`` (their values are treated as secrets and redacted
from the output), the literal ``env`` mapping, and ``MLRELEASE_*`` variables describing
the action. It runs in its own process group with stdin closed; on timeout the whole
group is stopped (SIGTERM, then SIGKILL). Output (stdout and stderr interleaved) is kept
bounded and redacted in ``Outcome.log``; a line ``MLRELEASE_REF=<ref>`` in it (the last
one wins) becomes the recorded backend reference.
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import shutil
import signal
import string
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from mlrelease.backends.base import Action, BackendContext, Health, Outcome
from mlrelease.backends.settings import ENV_NAME, Settings
from mlrelease.backends.support import Journal, bounded_log, one_line
from mlrelease.secrets import secret

PLACEHOLDERS = (
    "action",
    "model",
    "version",
    "env",
    "previous",
    "canary_weight",
    "artifact",
    "artifact_sha256",
    "image",
    "image_digest",
    "promotion_id",
    "actor",
    "reason",
)
BASE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")
REF_MARK = b"MLRELEASE_REF="
STATUS_DONE = 0
STATUS_NOT_DONE = 3
HEALTH_TIMEOUT = 10.0
KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL for a timed-out process group
DRAIN_GRACE = 5.0  # how long to wait for output after the process ended (a daemon may hold the pipe)
HEAD_BYTES = 16 * 1024
TAIL_BYTES = 48 * 1024
LINE_BYTES = 4096


def action_values(action: Action) -> dict[str, str]:
    """Placeholder values for an action; a missing value is an empty string."""
    weight = "" if action.canary_weight is None else f"{action.canary_weight:g}"
    return {
        "action": action.kind,
        "model": action.model,
        "version": action.version or "",
        "env": action.environment or "",
        "previous": action.previous or "",
        "canary_weight": weight,
        "artifact": action.artifact or "",
        "artifact_sha256": action.artifact_sha256 or "",
        "image": action.image or "",
        "image_digest": action.image_digest or "",
        "promotion_id": action.promotion_id,
        "actor": action.actor,
        "reason": action.reason,
    }


def _template(s: Settings, key: str, *, required: bool = False, placeholders: bool = True) -> tuple[str, ...] | None:
    items = s.text_list(key, required=required)
    if items is None:
        return None
    for i, item in enumerate(items):
        try:
            fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(item) if name is not None]
        except ValueError as exc:  # an unbalanced brace
            s.problem(f"{key}[{i}]", f"{item!r}: {exc} (write {{{{ and }}}} for literal braces)")
            continue
        for name, spec, conv in fields:
            if not placeholders:
                s.problem(f"{key}[{i}]", f"takes no placeholders (a health check has no action), found {{{name}}}")
            elif name not in PLACEHOLDERS or spec or conv:
                s.problem(
                    f"{key}[{i}]",
                    f"unknown placeholder {{{name}{'!' + conv if conv else ''}{':' + spec if spec else ''}}}; known: {', '.join(PLACEHOLDERS)}",
                )
    return items


@dataclass(frozen=True)
class Run:
    """How one run of a program ended."""

    returncode: int | None  # None: it could not start or it timed out
    output: str
    reference: str | None
    problem: str | None = None  # why it could not start, or the timeout


class _Output:
    """Collect a child's output in bounded memory, watching every line for the reference mark."""

    def __init__(self, stream: io.BufferedReader) -> None:
        self.stream = stream
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0
        self.line = bytearray()
        self.line_too_long = False
        self.reference: str | None = None

    def run(self) -> None:
        while chunk := self.stream.read1(65536):
            self._keep(chunk)
            self._scan(chunk)
        self._end_line()

    def _keep(self, chunk: bytes) -> None:
        room = HEAD_BYTES - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        self.tail += chunk
        if len(self.tail) > TAIL_BYTES:
            drop = len(self.tail) - TAIL_BYTES
            self.dropped += drop
            del self.tail[:drop]

    def _scan(self, chunk: bytes) -> None:
        parts = chunk.split(b"\n")
        for part in parts[:-1]:
            self._add(part)
            self._end_line()
        self._add(parts[-1])

    def _add(self, part: bytes) -> None:
        if len(self.line) + len(part) > LINE_BYTES:
            self.line_too_long = True  # far longer than any reference: not one
        else:
            self.line += part

    def _end_line(self) -> None:
        text = bytes(self.line).strip()
        if not self.line_too_long and text.startswith(REF_MARK):
            ref = text[len(REF_MARK) :].decode("utf-8", "replace").strip()
            if ref:
                self.reference = ref
        self.line = bytearray()
        self.line_too_long = False

    def text(self) -> str:
        gap = f"\n[... {self.dropped:,} bytes of output omitted ...]\n".encode() if self.dropped else b""
        return bytes(self.head + gap + self.tail).decode("utf-8", "replace")


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, then SIGKILL whatever of it is left after a grace period."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=KILL_GRACE)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # members that ignored SIGTERM, or outlived the leader
    proc.wait()


def run_program(argv: list[str], *, cwd: Path, env: Mapping[str, str], timeout: float, started: Callable[[int], None] | None = None) -> Run:
    """Run ``argv`` (no shell) in its own process group; bounded in time and in memory.

    ``started`` is told the process group's id as soon as it exists (it may outlive us).
    """
    prog = os.path.basename(argv[0])
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except FileNotFoundError:
        return Run(None, "", None, f"{argv[0]}: command not found")
    except PermissionError:
        return Run(None, "", None, f"{argv[0]}: permission denied (not executable?)")
    except ValueError:
        return Run(None, "", None, f"{prog}: an argument or environment value contains a NUL character")
    except OSError as exc:
        return Run(None, "", None, f"{argv[0]}: cannot start: {exc.strerror}")
    if started is not None:
        started(proc.pid)  # start_new_session: the group's id is the leader's pid
    assert isinstance(proc.stdout, io.BufferedReader)  # a pipe, buffered (Popen's default)
    out = _Output(proc.stdout)
    reader = threading.Thread(target=out.run, name=f"output-{prog}", daemon=True)
    reader.start()
    problem = None
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop_group(proc)
        problem = f"{prog} timed out after {timeout:g} s; its process group was stopped"
    reader.join(DRAIN_GRACE)
    text = out.text()
    if reader.is_alive():
        text += "\n[output still open after the command ended (a background process?); the rest is not kept]"
    return Run(None if problem else proc.returncode, text, out.reference, problem)


def _last_line(output: str) -> str:
    for line in reversed(output.splitlines()):
        if line.strip() and not line.strip().startswith(REF_MARK.decode()):
            return line
    return ""


class CommandBackend:
    type_name: ClassVar[str] = "command"

    def __init__(self, name: str, settings: Mapping[str, object], context: BackendContext) -> None:
        s = Settings(name, self.type_name, settings)
        self.name = name
        self.argv = _template(s, "argv", required=True) or ()
        self.status_argv = _template(s, "status_argv")
        self.health_argv = _template(s, "health_argv", placeholders=False)
        self.literal_env = s.text_map("env")
        for key in self.literal_env:
            if not ENV_NAME.fullmatch(key):
                s.problem(f"env.{key}", "is not a valid environment variable name")
        self.env_from = s.env_names("env_from")
        cwd = s.text("cwd")
        folder = s.folder_inside("cwd", context.registry_root, cwd) if cwd else context.registry_root.resolve()
        self.timeout = s.seconds("timeout", default=600.0)
        s.done()  # raises when any setting is wrong: from here on the folder is known
        assert folder is not None
        self.cwd = folder
        self.context = context
        self.journal = Journal(context.registry_root, name)

    # ---- running ------------------------------------------------------------------------

    def _env(self, action: Action | None) -> dict[str, str]:
        env = {k: self.context.environ[k] for k in BASE_ENV if k in self.context.environ}
        env.setdefault("PATH", os.defpath)
        for var in self.env_from:
            value = secret(var, what=f"backend {self.name}", required=False, environ=self.context.environ)
            if value is not None:
                env[var] = value
        env.update(self.literal_env)
        if action is not None:
            env.update({f"MLRELEASE_{'ENVIRONMENT' if k == 'env' else k.upper()}": v for k, v in action_values(action).items()})
        return env

    def _run(self, template: tuple[str, ...], action: Action | None, timeout: float, *, in_flight: bool = False) -> Run:
        values = action_values(action) if action is not None else {}
        argv = [item.format_map(values) for item in template]
        started = None
        if in_flight and action is not None:
            promotion_id = action.promotion_id
            started = lambda pgid: self.journal.child(promotion_id, pgid)  # noqa: E731
        return run_program(argv, cwd=self.cwd, env=self._env(action), timeout=timeout, started=started)

    def execute(self, action: Action) -> Outcome:
        replayed = self.journal.replay(action.promotion_id, "done", "not run again")
        if replayed is not None:
            return replayed
        run = self._run(self.argv, action, self.timeout, in_flight=True)
        outcome = self._outcome(run)
        self.journal.put(action.promotion_id, outcome)
        return outcome

    def _outcome(self, run: Run) -> Outcome:
        prog = os.path.basename(self.argv[0]) if self.argv else "command"
        log = bounded_log(run.output)
        reference = one_line(run.reference, 200) if run.reference else None
        if run.problem is not None:
            return Outcome(ok=False, message=one_line(run.problem), log=log)
        assert run.returncode is not None
        if run.returncode == 0:
            return Outcome(ok=True, reference=reference, message=one_line(f"{prog} exited with code 0"), log=log)
        if run.returncode < 0:
            try:
                how = signal.Signals(-run.returncode).name
            except ValueError:
                how = f"signal {-run.returncode}"
            return Outcome(ok=False, message=one_line(f"{prog} was ended by {how}"), log=log)
        last = _last_line(run.output)
        detail = f": {last}" if last else ""
        return Outcome(ok=False, reference=reference, message=one_line(f"{prog} exited with code {run.returncode}{detail}"), log=log)

    def status(self, action: Action) -> Outcome | None:
        done = self.journal.get(action.promotion_id)
        if done is not None:
            return done
        if not self.status_argv:
            return None  # nothing to ask: reconcile leaves the state Pending and says so
        run = self._run(self.status_argv, action, min(self.timeout, HEALTH_TIMEOUT))
        if run.returncode == STATUS_DONE:
            reference = one_line(run.reference, 200) if run.reference else None
            return Outcome(ok=True, reference=reference, message="the status command reports it done", log=bounded_log(run.output))
        if run.returncode == STATUS_NOT_DONE:
            return Outcome(ok=False, message="the status command reports it not done (exit code 3)", log=bounded_log(run.output))
        return None

    def health(self) -> Health:
        if self.health_argv:
            run = self._run(self.health_argv, None, min(self.timeout, HEALTH_TIMEOUT))
            if run.problem is not None:
                return Health(False, one_line(run.problem))
            last = _last_line(run.output)
            detail = f": {last}" if last else ""
            return Health(run.returncode == 0, one_line(f"health command exited with code {run.returncode}{detail}"))
        program = self.argv[0]
        if "/" in program:
            path = (self.cwd / program).resolve()
            found = str(path) if path.is_file() and os.access(path, os.X_OK) else None
        else:
            found = shutil.which(program, path=self._env(None)["PATH"])
        if found is None:
            return Health(False, one_line(f"{program}: not found or not executable"))
        return Health(True, one_line(f"{program} found at {found} (no health_argv configured, so nothing was run)"))

    def describe(self, action: Action) -> str:
        values = action_values(action)
        argv = [item.format_map(values) for item in self.argv]
        return one_line(f"command: run {shlex.join(argv)} in {self.cwd} (no shell; timeout {self.timeout:g} s)", 1000)


def factory(name: str, settings: Mapping[str, object], context: BackendContext) -> CommandBackend:
    return CommandBackend(name, settings, context)
