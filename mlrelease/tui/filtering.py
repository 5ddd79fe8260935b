"""The ``/`` filter of lists: fuzzy on names, plain substring on the rest, ``!`` inverts.

Like k9s: ``/frd`` keeps rows whose *name* holds f…r…d in that order (fuzzy), and rows
whose whole text contains ``frd`` as typed (so ``/pending`` or ``/team-crm`` find status
and owners); ``/!churn`` keeps the rows that do not match. Fuzzy matching over a whole
row would match nearly everything (any long row has f…r…d somewhere), hence the split.
Case-insensitive. Pure functions over pre-lowered texts: one pass per keystroke.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Query:
    needle: str
    inverted: bool

    @property
    def empty(self) -> bool:
        return not self.needle


def parse_query(text: str) -> Query:
    text = text.strip()
    inverted = text.startswith("!")
    return Query(text[1:].strip().lower() if inverted else text.lower(), inverted)


def fuzzy_match(needle: str, haystack: str) -> bool:
    """True when every character of ``needle`` appears in ``haystack`` in order (both lowered)."""
    pos = 0
    for ch in needle:
        if ch == " ":
            continue
        pos = haystack.find(ch, pos)
        if pos < 0:
            return False
        pos += 1
    return True


def matches(query: Query, names: str, text: str) -> bool:
    """Fuzzy on ``names``, substring on ``text`` (both lowered); inverted by ``!``."""
    if query.empty:
        return True
    hit = fuzzy_match(query.needle, names) or query.needle in text
    return hit != query.inverted


def filter_items(items: Sequence[T], query: Query, names: Callable[[T], str], text: Callable[[T], str]) -> list[T]:
    """The items the query keeps, in their order."""
    if query.empty:
        return list(items)
    return [item for item in items if matches(query, names(item), text(item))]
