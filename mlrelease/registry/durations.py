"""Durations as people write them in mlrelease.yaml (``90s``, ``30m``, ``1h30m``, ``7d``), Prometheus' syntax.

One reader for every setting that is a span of time: the Prometheus source's ``window``
and ``range``, and a rollout's ``hold`` and ``max_duration``.
"""

from __future__ import annotations

import re

_DURATION = re.compile(r"(?:\d+(?:ms|s|m|h|d|w|y))+")
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def duration_seconds(text: str) -> float | None:
    """Seconds in a duration (``90s``, ``1h30m``), or None when it is not one."""
    if not _DURATION.fullmatch(text):
        return None
    return float(sum(int(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(text)))


def format_duration(seconds: float) -> str:
    """A span for people, at most two units: ``45s``, ``12m``, ``2h30m``, ``3d4h``."""
    s = max(round(seconds), 0)
    if s < 60:
        return f"{s}s"
    parts: list[tuple[int, str]] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size or parts:
            parts.append((s // size, unit))
            s %= size
    kept = [(n, u) for n, u in parts if n][:2] if parts else []
    return "".join(f"{n}{u}" for n, u in kept) or "0s"
