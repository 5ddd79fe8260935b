"""Untrusted text and commit trailers: the two places a hostile string could do harm."""

from __future__ import annotations

import pytest

from mlrelease.registry.trailers import KEYS, format_message, parse_trailers
from mlrelease.textsafe import visible


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain text", "plain text"),
        ("\x1b[2Jcleared", "\\x1b[2Jcleared"),
        ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),
        ("evil\u202eexe.txt", "evil\\u202eexe.txt"),
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("c1\x9bcsi", "c1\\x9bcsi"),
        ("del\x7f", "del\\x7f"),
        ("line1\nline2\ttab", "line1\nline2\ttab"),
        ("[bold]markup[/bold]", "[bold]markup[/bold]"),  # markup is kept as text; faces render it literally
    ],
)
def test_visible_escapes_controls_and_bidi(raw: str, shown: str) -> None:
    assert visible(raw) == shown


def test_visible_single_line_escapes_newlines() -> None:
    assert visible("a\nb", single_line=True) == "a\\x0ab"


def test_trailers_round_trip_every_key() -> None:
    fields = {name: f"value-{name}" for name in KEYS}
    message = format_message("Promote m 1.0.0 to production", fields, body="Longer explanation.")
    assert message.startswith("Promote m 1.0.0 to production\n\nLonger explanation.\n\n")
    assert parse_trailers(message) == fields


def test_a_reason_cannot_forge_a_trailer() -> None:
    message = format_message("Promote", {"action": "promote", "reason": "ok\n\nMlrelease-Action: rollback\nMlrelease-Version: 9.9.9"})
    parsed = parse_trailers(message)
    assert parsed["action"] == "promote"
    assert "version" not in parsed
    assert "\n" not in parsed["reason"]


def test_unknown_trailer_field_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown trailer fields"):
        format_message("x", {"actoor": "me"})


def test_message_without_trailers_parses_to_nothing() -> None:
    assert parse_trailers("Edit release by hand\n") == {}
    assert parse_trailers("Subject\n\nJust a body: with a colon\n") == {}
