"""Secrets come only from environment variables, and no form of their values leaves the process.

Every secret is read through :func:`secret`, which remembers the value in every form it
can take on the way out — raw, stripped of surrounding white space (a token read from a
file or a Kubernetes secret often ends with a newline), JSON-escaped, escaped as Python
and :func:`mlrelease.textsafe.visible` print it, URL-encoded, and base64 (as in a
Basic-auth header; :func:`basic_auth` remembers the encoded ``user:password`` pair).

:func:`redact` is the one place that scrubs them, and every writer goes through it:
messages and references recorded in release files (``release.state``, ``backends.support``),
commit messages and the files of every commit (``gitstore.gitwrite.commit_files`` refuses a
file that would carry a secret, see :func:`leaked`), the backend logs, journal and
in-flight records under ``.git/mlrelease`` (:func:`write_private`), and everything the CLI
prints on stdout and stderr, ``--json`` included (:func:`redacting`, installed by
``mlrelease.cli.main``). The parse cache only ever holds what was committed.

HTTP header values are checked before sending (:func:`header_problem`): a control
character, such as that trailing newline, is refused with a message naming the variable,
never its value.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import unicodedata
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TextIO

from mlrelease.errors import MlreleaseError

MASK = "***"
MIN_LENGTH = 4  # shorter forms would mask ordinary words; such a value protects nothing anyway

_FORMS: dict[str, str] = {}  # a form of a secret value → the variable it came from
_PATTERN: re.Pattern[str] | None = None


def forms(value: str) -> set[str]:
    """Every spelling of ``value`` that text leaving the process could carry."""
    import base64
    import json
    import urllib.parse

    out: set[str] = set()
    for v in {value, value.strip()}:
        if len(v) < MIN_LENGTH:
            continue
        out |= {v, json.dumps(v)[1:-1], json.dumps(v, ensure_ascii=False)[1:-1], repr(v)[1:-1], v.encode().hex()}
        out |= {urllib.parse.quote(v, safe=""), urllib.parse.quote(v), urllib.parse.quote_plus(v)}
        out.add("".join(_escaped(ch) for ch in v))
        raw = v.encode("utf-8", "surrogatepass")
        for encoded in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
            out |= {encoded, encoded.rstrip("=")}
    return out


def _escaped(ch: str) -> str:
    """``ch`` as :func:`mlrelease.textsafe.visible` shows it on one line (not imported: a sibling)."""
    if ch not in "\n\t" and unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp"):
        return ch
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def remember(value: str, variable: str) -> None:
    """Treat ``value`` (and every form of it) as a secret from now on."""
    global _PATTERN
    added = {f: variable for f in forms(value) if f not in _FORMS}
    if added:
        _FORMS.update(added)
        _PATTERN = None


def secret(variable: str, *, what: str, required: bool = True, environ: Mapping[str, str] | None = None) -> str | None:
    """The value of environment variable ``variable``; ``what`` names its user in errors.

    ``environ`` (default: the process environment) lets a backend read from the
    environment its context was given, while the value is still remembered for redaction.
    """
    value = (os.environ if environ is None else environ).get(variable)
    if not value:
        if required:
            raise MlreleaseError(f"{what}: environment variable {variable} is not set")
        return None
    remember(value, variable)
    return value


def basic_auth(user: str, password: str, variable: str) -> str:
    """An ``Authorization: Basic`` value for this pair, whose encoded form is remembered as a secret."""
    import base64

    encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
    for value in (password, f"{user}:{password}", encoded):
        remember(value, variable)
    return f"Basic {encoded}"


def header_problem(value: str) -> str | None:
    """Why ``value`` cannot be sent as an HTTP header value (None: it can), without showing it."""
    bad = [i for i, ch in enumerate(value) if (ord(ch) < 0x20 and ch != "\t") or ord(ch) == 0x7F]
    if not bad:
        return None
    where = "at the end (a trailing newline?)" if bad[-1] == len(value) - 1 and value[-1] in "\r\n" else f"at position {bad[0] + 1}"
    return f"holds a control character {where}; a header cannot carry it, so nothing was sent (strip it from the value)"


def _pattern() -> re.Pattern[str] | None:
    global _PATTERN
    if _PATTERN is None and _FORMS:
        _PATTERN = re.compile("|".join(re.escape(f) for f in sorted(_FORMS, key=len, reverse=True)))
    return _PATTERN


def redact(text: str) -> str:
    """``text`` with every form of every known secret replaced by ``***``."""
    pattern = _pattern()
    return pattern.sub(MASK, text) if pattern is not None and text else text


def known() -> bool:
    """Whether the process knows any secret (then what it prints depends on its environment)."""
    return bool(_FORMS)


def leaked(text: str) -> str | None:
    """The variable whose secret ``text`` carries in some form, or None."""
    pattern = _pattern()
    found = pattern.search(text) if pattern is not None and text else None
    return _FORMS[found.group(0)] if found else None


def write_private(path: Path, text: str) -> None:
    """Write ``text``, redacted, to a file beside the repository (never committed), atomically."""
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(redact(text))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class Front(io.TextIOBase):
    """A text stream in front of another: everything but :meth:`write` (and :meth:`flush`) is the wrapped stream's."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        return self._inner.write(text)

    def flush(self) -> None:
        self._inner.flush()

    def isatty(self) -> bool:
        return self._inner.isatty()

    def fileno(self) -> int:
        return self._inner.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._inner.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self._inner.errors


class _Redacting(Front):
    """A text stream that writes whole lines, redacted, to the stream it wraps.

    Lines are held until their end (or a flush) so a secret written in pieces is still
    seen whole; everything else (``isatty``, ``fileno``, ``encoding``) is the wrapped stream's.
    """

    def __init__(self, inner: TextIO) -> None:
        super().__init__(inner)
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        if "\n" in self._pending:
            done, self._pending = self._pending.rsplit("\n", 1)
            self._inner.write(redact(done + "\n"))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._inner.write(redact(self._pending))
            self._pending = ""
        self._inner.flush()


@contextlib.contextmanager
def redacting(streams: tuple[str, ...] = ("stdout", "stderr")) -> Iterator[None]:
    """While inside, ``sys.stdout`` and ``sys.stderr`` redact every secret the process knows."""
    import sys

    saved = {name: getattr(sys, name) for name in streams}
    wrapped = {name: _Redacting(stream) for name, stream in saved.items()}
    for name, stream in wrapped.items():
        setattr(sys, name, stream)
    try:
        yield
    finally:
        for name, stream in wrapped.items():
            with contextlib.suppress(Exception):
                stream.flush()
            setattr(sys, name, saved[name])
