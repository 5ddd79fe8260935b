"""Make untrusted text safe to show: no terminal escapes, no bidi tricks, no markup.

Manifests, commit messages and backend replies are written by people and programs we do
not control. Rich strips only a handful of control characters and parses markup, so
everything from a registry passes through :func:`visible` before it is printed, and is
then rendered as literal text (``rich.text.Text`` / ``markup=False``).
"""

from __future__ import annotations

import unicodedata

_KEEP = {"\n", "\t"}


def _escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def is_unsafe_char(ch: str) -> bool:
    """C0 and C1 controls, DEL, and format characters (bidi overrides, zero-width...)."""
    if ch in _KEEP:
        return False
    cat = unicodedata.category(ch)
    return cat in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp")


def visible(text: object, *, single_line: bool = False) -> str:
    """Return ``text`` with every unsafe character turned into a visible escape."""
    s = text if isinstance(text, str) else str(text)
    if s.isprintable() and not single_line:
        return s
    out = []
    for ch in s:
        if (single_line and ch in _KEEP) or is_unsafe_char(ch):
            out.append(_escape(ch))
        else:
            out.append(ch)
    return "".join(out)


QUOTE_LIMIT = 80  # characters of an untrusted value a message quotes


def quoted(value: object, limit: int = QUOTE_LIMIT) -> str:
    """An untrusted value inside a message: quoted as ``repr`` does (escapes visible), cut at ``limit``.

    A message names the value so a person can find it, and a file can hold a value of a
    megabyte: what is cut is said, never silently dropped.
    """
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text) - limit:,} more characters)"
