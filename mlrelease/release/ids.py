"""Promotion ids: ULIDs, so ids sort by time, need no coordination and never collide.

A promotion id names one action everywhere: the release state, the commit trailers, the
backend's idempotency key and the action log. 48 bits of milliseconds then 80 random bits,
in Crockford base32 (26 characters, no I L O U): two people acting in the same
millisecond still get different ids, and ``sorted(ids)`` is the order they were made in.
"""

from __future__ import annotations

import os
from datetime import datetime

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(now: datetime) -> str:
    """A fresh ULID for an action taken at ``now`` (an aware datetime)."""
    millis = int(now.timestamp() * 1000) & ((1 << 48) - 1)
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")  # os.urandom: no OpenSSL import
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))
