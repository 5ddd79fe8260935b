"""Commit signatures, as git checks them: mlrelease writes no cryptography.

Two questions, both answered by git and ssh-keygen:

* **Who signed these commits?** :func:`check` runs one ``git log --no-walk --stdin`` per
  allowed-signers file with ``gpg.ssh.allowedSignersFile`` pointed at that file
  (``controls/allowed_signers`` as it was in the commit's parent: the policy in force
  when the commit was made) and reads git's ``%G?`` (G good and allowed, U good but
  the key is not allowed, B bad, N none, E cannot be checked…), ``%GK`` (the key's
  fingerprint) and ``%GS`` (the principal the allowed-signers file gives that key).
* **Which key will my next commit be signed with?** :func:`own_key` reads what git
  would use (``gpg.format``, ``user.signingkey``, ``commit.gpgsign``), so the planner
  can tell before anything is written whether a signed environment will accept it.

Only SSH signatures (``gpg.format=ssh``) can be checked against a file kept in the
registry; a GPG signature is reported as git sees it but never counts as allowed
(docs/controls.md says why and how to set up SSH signing).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mlrelease.registry.gitio import git, git_text

STATUS = {
    "G": "signed by an allowed key",
    "U": "signed by a key that is not in controls/allowed_signers",
    "B": "has a bad signature",
    "X": "signed, but the signature has expired",
    "Y": "signed by an expired key",
    "R": "signed by a revoked key",
    "E": "has a signature that cannot be checked",
    "N": "is not signed",
}


@dataclass(frozen=True)
class Signature:
    status: str  # git's %G?
    key: str  # %GK: the key's fingerprint (SHA256:... for SSH)
    principal: str  # %GS: the principal of an allowed key

    @property
    def good(self) -> bool:
        return self.status == "G" and self.key.startswith("SHA256:") and bool(self.principal)

    def describe(self) -> str:
        words = STATUS.get(self.status, f"has signature status {self.status!r}")
        if self.status == "G" and not self.key.startswith("SHA256:"):
            words = "is GPG-signed, and only SSH signatures can be checked against controls/allowed_signers"
        if self.key and self.status != "N":
            words += f" ({self.key})"
        return words


UNSIGNED = Signature("N", "", "")


def check(git_root: Path, commits: Iterable[tuple[str, bytes | None]]) -> dict[str, Signature]:
    """The signature of each commit, checked against the allowed-signers bytes given with it.

    ``commits``: (commit id, allowed-signers file content or None for none). Commits are
    grouped by file, so a history under one policy costs one git call.
    """
    groups: dict[bytes | None, list[str]] = {}
    for oid, signers in commits:
        groups.setdefault(signers, []).append(oid)
    out: dict[str, Signature] = {}
    for signers, oids in groups.items():
        with tempfile.TemporaryDirectory(prefix="mlrelease-signers-") as tmp:
            path = Path(tmp) / "allowed_signers"
            path.write_bytes(signers or b"")
            proc = git(
                git_root,
                "-c",
                f"gpg.ssh.allowedSignersFile={path}",
                "log",
                "--no-walk=unsorted",
                "--stdin",
                "--format=%H%x00%G?%x00%GK%x00%GS",
                input=("\n".join(oids) + "\n").encode(),
                timeout=None,
            )
        for line in proc.stdout.decode("utf-8", "replace").splitlines():
            parts = line.split("\0")
            if len(parts) == 4:
                oid, status, key, principal = parts
                out[oid] = Signature(status, key, principal if status == "G" else "")
    return out


@dataclass(frozen=True)
class OwnKey:
    """The SSH public key git will sign the user's next commit with."""

    keytype: str
    key: str  # base64

    @property
    def line(self) -> str:
        return f"{self.keytype} {self.key}"


def own_key(git_root: Path) -> OwnKey | str:
    """The key of the next signed commit, or why commits will not be signed with an SSH key."""

    def config(name: str, *flags: str) -> str:
        return git_text(git_root, "config", *flags, name, check=False).strip()

    if config("commit.gpgsign", "--bool") != "true":
        return "git does not sign your commits (set `git config commit.gpgsign true`)"
    if config("gpg.format") != "ssh":
        return "your commits are not signed with an SSH key (set `git config gpg.format ssh`)"
    setting = config("user.signingkey")
    if not setting:
        return "no signing key is set (set `git config user.signingkey ~/.ssh/id_ed25519.pub`)"
    text = setting[len("key::") :] if setting.startswith("key::") else None
    if text is None:
        path = Path(os.path.expanduser(setting))
        if not path.is_absolute():
            path = git_root / path
        pub = path if path.suffix == ".pub" else path.with_name(path.name + ".pub")
        try:
            text = pub.read_text(encoding="utf-8")
        except OSError:
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                return f"user.signingkey {setting!r} cannot be read: {exc.strerror}"
    parts = text.split()
    if len(parts) < 2 or not parts[0].startswith(("ssh-", "ecdsa-", "sk-")):
        return f"user.signingkey {setting!r} is not an SSH public key (or a private key with its .pub beside it)"
    return OwnKey(parts[0], parts[1])
