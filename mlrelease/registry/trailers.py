"""The audit trail's machine-readable part: git trailers on every mlrelease commit.

Written by every action (release service, register, import), read by ``history``. Keys
are fixed here, once; values are one line each (newlines and control characters are
escaped before writing, so a reason can never forge another trailer).
"""

from __future__ import annotations

from collections.abc import Mapping

from mlrelease.textsafe import visible

PREFIX = "Mlrelease-"
# field name → trailer key, in the order they are written
KEYS: dict[str, str] = {
    "action": "Mlrelease-Action",  # promote | rollback | retrain | approve | reject | unpin | review | register | model | import | ...
    "model": "Mlrelease-Model",
    "dataset": "Mlrelease-Dataset",  # register of a data set version
    "version": "Mlrelease-Version",
    "environment": "Mlrelease-Environment",
    "previous": "Mlrelease-Previous",
    "canary_weight": "Mlrelease-Canary-Weight",
    "promotion_id": "Mlrelease-Promotion-Id",
    "phase": "Mlrelease-Phase",  # Pending | Succeeded | Failed (outcome commits)
    "backend": "Mlrelease-Backend",
    "backend_ref": "Mlrelease-Backend-Ref",
    "actor": "Mlrelease-Actor",
    "forced": "Mlrelease-Forced-Gates",
    "break_glass": "Mlrelease-Break-Glass",  # who approved overriding gates --force alone may not (identity)
    "bundle": "Mlrelease-Bundle",  # the release bundle's id, on every commit of a bundle (docs/actions.md)
    "bundle_fate": "Mlrelease-Bundle-Fate",  # "not attempted": a member's outcome written without calling its backend
    "source": "Mlrelease-Source",  # import: where the history came from
    "proposal": "Mlrelease-Proposal",  # protected environments: the merged pull/merge request carried out
    "approved_by": "Mlrelease-Approved-By",  # ... and the forge accounts whose approvals counted (github:login, ...)
    "finding": "Mlrelease-Finding",  # review --finding: the commit whose verify findings are accepted (full id)
    "reason": "Reason",
}
_BY_KEY = {v.lower(): k for k, v in KEYS.items()}


def _one_line(value: object) -> str:
    return visible(str(value), single_line=True).strip()


def format_message(subject: str, fields: Mapping[str, object | None], body: str = "") -> str:
    """A commit message: human subject, optional body, then the trailer paragraph."""
    lines = [_one_line(subject)[:200], ""]
    if body.strip():
        lines += [body.strip(), ""]
    for name, key in KEYS.items():
        value = fields.get(name)
        if value is None or value == "":
            continue
        lines.append(f"{key}: {_one_line(value)}")
    unknown = set(fields) - set(KEYS)
    if unknown:
        raise ValueError(f"unknown trailer fields: {sorted(unknown)}")
    return "\n".join(lines) + "\n"


def parse_trailers(message: str) -> dict[str, str]:
    """Trailer fields of a commit message (the last paragraph), by field name."""
    paragraphs = [p for p in message.strip().split("\n\n") if p.strip()]
    if len(paragraphs) < 2:
        return {}
    out: dict[str, str] = {}
    for line in paragraphs[-1].splitlines():
        key, sep, value = line.partition(":")
        name = _BY_KEY.get(key.strip().lower())
        if sep and name:
            out[name] = value.strip()
    return out
