"""``controls/allowed_signers``: git's own allowed-signers file, kept in the registry.

The format is ssh-keygen's (``ALLOWED SIGNERS`` in ssh-keygen(1)), one key per line::

    alice@bank.example ssh-ed25519 AAAAC3Nza... alice's laptop
    bob@bank.example,b.lee@bank.example namespaces="git" ssh-ed25519 AAAA...

mlrelease never checks a signature itself: git does (``gpg.ssh.allowedSignersFile``
pointed at this file as it was at the commit being checked, see
:mod:`mlrelease.registry.signing`). Reading it here serves two things: lint says which
line is malformed, and the planner finds the principal of the user's own signing key,
so four eyes counts the identity the signature will carry.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from mlrelease.errors import ManifestError, Problem

KEY_TYPES = ("ssh-", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-")


@dataclass(frozen=True)
class Signer:
    principals: tuple[str, ...]
    keytype: str
    key: str  # base64, as written
    line: int


@dataclass(frozen=True)
class AllowedSigners:
    signers: tuple[Signer, ...] = ()

    def principals(self, keytype: str, key: str) -> tuple[str, ...]:
        """Every principal the key ``keytype key`` may sign as (none: not an allowed key)."""
        return tuple(p for s in self.signers if s.keytype == keytype and s.key == key for p in s.principals)


def parse_allowed_signers(data: bytes, path: str) -> AllowedSigners:
    problems: list[Problem] = []
    signers = []
    for n, raw in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            tokens = shlex.split(line)
        except ValueError as exc:
            problems.append(Problem(path, n, f"cannot be read ({exc})"))
            continue
        at = next((i for i, t in enumerate(tokens) if i > 0 and t.startswith(KEY_TYPES)), None)
        if at is None or at + 1 >= len(tokens):
            problems.append(Problem(path, n, "is not 'PRINCIPALS [OPTIONS] KEYTYPE KEY' (see ALLOWED SIGNERS in ssh-keygen(1))"))
            continue
        principals = tuple(p for p in tokens[0].split(",") if p)
        signers.append(Signer(principals, tokens[at], tokens[at + 1], n))
    if problems:
        raise ManifestError(problems)
    return AllowedSigners(tuple(signers))
