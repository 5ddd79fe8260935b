"""Names and versions: what is safe, what a scheme accepts, and how versions sort.

A name becomes a path (``models/<name>/``), a command-line argument and a line on a
terminal, so some names are refused whatever the configured pattern allows: anything
that could climb out of a folder, pass for an option, or fool a terminal.
"""

from __future__ import annotations

import functools
import re
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


def unsafe_reason(name: str) -> str | None:
    """Why ``name`` can never be a model, dataset, environment or version name, or None."""
    if not name:
        return "is empty"
    if len(name) > MAX_NAME:
        return f"is longer than {MAX_NAME} characters"
    if any(is_unsafe_char(ch) or ch in "\n\t" for ch in name):
        return "contains control or invisible (bidi/format) characters"
    if "/" in name or "\\" in name:
        return "contains a path separator"
    if name in (".", "..") or ".." in name:
        return "contains '..'"
    if name.startswith("-"):
        return "starts with '-' (it would read as an option)"
    if name.startswith("."):
        return "starts with '.'"
    if any(ch.isspace() for ch in name):
        return "contains white space"
    if any(ch in name for ch in ":@#*?[]{}<>|\"'`$;&"):
        return "contains one of : @ # * ? [ ] { } < > | \" ' ` $ ; &"
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
