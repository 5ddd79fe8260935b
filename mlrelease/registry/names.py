"""Names and versions: what is safe, what a scheme accepts, and how versions sort.

A name becomes a path (``models/<name>/``), a command-line argument and a line on a
terminal, so some names are refused whatever the configured pattern allows: anything
that could climb out of a folder, pass for an option, or fool a terminal — and, since a
registry is cloned on Windows and macOS too, anything those systems cannot hold as a
file name (``CON``, ``aux.txt``, a trailing dot or space, more than 255 bytes).

The same rules hold for a name typed on the command line and a name read from a file:
every parser reads names through them (:func:`unsafe_reason`) before any becomes a path.
Names that only *look* like others (Cyrillic letters among Latin ones, fullwidth
letters) are legal file names, so lint flags them (:func:`lookalike_reason`) instead.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

from mlrelease.textsafe import is_unsafe_char

SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
CALVER = re.compile(r"(\d{4})\.(0[1-9]|1[0-2]|[1-9])(?:\.(\d{1,2}))?(?:\.(\d+))?")
SCHEMES = ("semver", "calver", "regex")
MAX_NAME = 128
MAX_NAME_BYTES = 200  # a file name is at most 255 bytes, and ``.yaml`` follows the name
# Device names Windows reserves in every folder, with any extension (``aux.txt``).
DEVICE_NAMES = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))})


@functools.lru_cache(maxsize=8192)
def unsafe_reason(name: str) -> str | None:
    """Why ``name`` can never be a model, dataset, environment or version name, or None.

    Cached: a history holds the same few names, versions and people thousands of times
    (verify reads every release state ever written), and the answer depends on the text alone.
    """
    if not name:
        return "is empty"
    if len(name) > MAX_NAME:
        return f"is longer than {MAX_NAME} characters"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        return f"is longer than {MAX_NAME_BYTES} bytes in UTF-8"
    if any(is_unsafe_char(ch) or ch in "\n\t" for ch in name):
        return "contains control or invisible (bidi/format) characters"
    if "/" in name or "\\" in name:
        return "contains a path separator"
    if name in (".", ".."):
        return f"is {name!r}, a relative folder name"
    if ".." in name:
        return "contains '..'"
    if name.startswith("-"):
        return "starts with '-' (it would read as an option)"
    if name.startswith("."):
        return "starts with '.'"
    if any(ch.isspace() for ch in name):
        return "contains white space"
    if any(ch in name for ch in ":@#*?[]{}<>|\"'`$;&"):
        return "contains one of : @ # * ? [ ] { } < > | \" ' ` $ ; &"
    if name.endswith("."):
        return "ends with '.' (Windows drops it)"
    if name.split(".", 1)[0].lower() in DEVICE_NAMES:
        return f"is a device name on Windows ({name.split('.', 1)[0].upper()})"
    return None


def lookalike_reason(name: str) -> str | None:
    """Why ``name`` could pass for another name, or None: for lint, which flags what it cannot refuse.

    Mixed scripts (a Cyrillic ``а`` among Latin letters) and compatibility forms
    (fullwidth ``ｆ``, ligatures) read as the plain Latin name on screen.
    """
    if not name.isascii() and unicodedata.normalize("NFKC", name) != name:
        return "has characters that stand for others (fullwidth or compatibility forms)"
    scripts = {_script(ch) for ch in name if ch.isalpha()}
    scripts.discard(None)
    if len(scripts) > 1:
        return f"mixes scripts ({', '.join(sorted(s for s in scripts if s))}): it can pass for another name"
    return None


def _script(ch: str) -> str | None:
    """The script of a letter by its Unicode name (LATIN, CYRILLIC, GREEK, ...)."""
    try:
        return unicodedata.name(ch).split(" ", 1)[0]
    except ValueError:
        return None


def version_problem(version: str, scheme: str, pattern: re.Pattern[str] | None = None) -> str | None:
    """Why ``version`` does not follow the scheme, or None."""
    reason = unsafe_reason(version)
    if reason:
        return f"version {version!r} {reason}"
    if scheme == "semver" and not SEMVER.fullmatch(version):
        return f"version {version!r} is not semver (MAJOR.MINOR.PATCH, e.g. 1.4.0)"
    if scheme == "calver" and not CALVER.fullmatch(version):
        return f"version {version!r} is not calver (YYYY.MM[.DD][.N], e.g. 2026.03.1)"
    if scheme == "regex" and pattern is not None and not pattern.fullmatch(version):
        return f"version {version!r} does not match the version pattern {pattern.pattern!r}"
    return None


def _natural(text: str) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", text) if p)


@functools.lru_cache(maxsize=65536)  # a registry of 100,000 versions repeats a few hundred names across its models
def version_key(version: str) -> tuple[object, ...]:
    """Sort key valid for every scheme: semver precedence where it parses, else natural order.

    Semver pre-releases sort before their release (1.0.0-rc.1 < 1.0.0); calver and free
    versions sort by their numeric parts (2026.10 after 2026.9; 1.10 after 1.9).
    """
    m = SEMVER.fullmatch(version)
    if m:
        major, minor, patch, pre, _build = m.groups()
        pre_key: tuple[object, ...] = (1,) if pre is None else (0, *_natural(pre.replace(".", " ")))
        return (0, int(major), int(minor), int(patch), pre_key)
    return (1, _natural(version))


def sort_versions(versions: Iterable[str]) -> list[str]:
    return sorted(versions, key=version_key)


def split_ref(text: str, what: str = "MODEL@VERSION") -> tuple[str, str]:
    """``fraud-card@1.4.0`` → (``fraud-card``, ``1.4.0``)."""
    from mlrelease.errors import UsageError

    name, sep, version = text.partition("@")
    if not sep or not name or not version:
        raise UsageError(f"expected {what}, got {text!r}")
    return name, version
