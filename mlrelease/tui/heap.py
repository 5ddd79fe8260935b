"""Keeping what the screens hold out of the cyclic garbage collector's way between reads.

With a thousand models the app holds a few hundred thousand long-lived objects (rows,
cells, statuses, Textual's caches). Every few keystrokes of a filter, CPython's full
collection scanned them all: 60–140 ms of CPU inside one keystroke (measured with
``gc.callbacks`` around bench/tui_bench.py's filter run, 1,000 models), more than the
keystroke's own work. :func:`keep` (``gc.freeze``) moves every object alive now out of
those scans; frozen objects are still freed as soon as nothing refers to them, only
garbage *cycles* among them wait. :func:`release` (``gc.unfreeze``) when the registry is
read again, so the collector reclaims what the previous read left behind.
"""

from __future__ import annotations

import gc


def keep() -> None:
    """Call after the screens built what they show from a read (cheap: it moves a list)."""
    gc.freeze()


def release() -> None:
    """Call when a new read begins, and when the app ends (an app run inside tests or the benchmark)."""
    gc.unfreeze()
