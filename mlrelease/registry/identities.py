"""Who is who: one identity per person, however their e-mail is spelled or signed.

Four eyes counts people, not strings. Without a file, an identity is a mailbox
normalised by :func:`identity_key` (``Alice <Alice+2@Bank.example>``
and ``alice@bank.example`` are one). ``controls/identities.yaml`` joins a person's
addresses (and the principals of their signing keys) into one name, and names groups
that ``gates.approvers`` can point at::

    people:
      alice:
        name: Alice Martin              # optional, for people reading
        emails: [alice@bank.example, a.martin@bank.example]
        github: [alice-m]               # optional: forge accounts, for pull-request reviews
        gitlab: [amartin]               #   (docs/protected.md)
    groups:
      model-risk: [alice, bob]          # people, or e-mail addresses

Where an environment is ``signed: true``, the e-mail looked up is the principal of the
key that signed the commit (``controls/allowed_signers``), never the committer string.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from mlrelease.registry.fields import Fields, read_file
from mlrelease.registry.names import unsafe_reason
from mlrelease.registry.shape import Key, Shape, build, req


def identity_key(who: str) -> str:
    """One mailbox, however it is spelled: the e-mail of ``Name <email>``, lower-cased, ``+tag`` dropped.

    ``Alice <Alice+prod@Bank.example>`` and ``alice@bank.example`` are one key. People with
    several addresses are one identity through ``controls/identities.yaml``
    (:mod:`mlrelease.registry.identities`); this is the normalisation under it.
    """
    m = re.search(r"<([^<>]*)>\s*$", who)
    text = (m.group(1) if m else who).strip().lower()
    local, at, domain = text.partition("@")
    if at and "+" in local:
        local = local.split("+", 1)[0]
    return f"{local}{at}{domain}"


@dataclass(frozen=True)
class Person:
    emails: tuple[str, ...]
    name: str | None = None
    github: tuple[str, ...] = ()  # GitHub logins whose pull-request reviews are this person's
    gitlab: tuple[str, ...] = ()  # GitLab usernames whose merge-request approvals are this person's


PERSON = Shape(Person, (req("emails", "texts"), Key("name"), Key("github", "texts", default=()), Key("gitlab", "texts", default=())))
FORGES = ("github", "gitlab")


def account_key(forge: str, login: str) -> str:
    """How a forge account is written where an identity is expected: ``github:login`` (logins ignore case)."""
    return f"{forge}:{login.strip().lower()}"


@dataclass(frozen=True)
class Identities:
    """People and groups of ``controls/identities.yaml`` (empty when the file is absent)."""

    people: dict[str, Person] = field(default_factory=dict)
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def _by_mailbox(self) -> dict[str, str]:
        out = {identity_key(e): pid for pid, p in self.people.items() for e in p.emails}
        for pid, p in self.people.items():
            out.update({account_key("github", a): pid for a in p.github})
            out.update({account_key("gitlab", a): pid for a in p.gitlab})
        return out

    def who(self, text: str) -> str:
        """The identity of ``Name <email>``, an e-mail, a signing principal or a forge account
        (``github:login``): a person's id, or the mailbox (or account) itself."""
        key = identity_key(text)
        if key in self.people:
            return key
        return self._by_mailbox().get(key, key)

    def person_of_account(self, forge: str, login: str) -> str | None:
        """The person whose ``forge`` account ``login`` is, or None when no person lists it."""
        return self._by_mailbox().get(account_key(forge, login))

    def resolve(self, entries: Iterable[str]) -> frozenset[str]:
        """The identities a policy list names: groups expand to their members, the rest is looked up."""
        out: set[str] = set()
        for entry in entries:
            if entry in self.groups:
                out.update(self.who(m) for m in self.groups[entry])
            else:
                out.add(self.who(entry))
        return frozenset(out)

    def unknown(self, entries: Iterable[str]) -> list[str]:
        """Entries that are no group, no person and no e-mail address (a typo would otherwise allow nobody)."""
        return [e for e in entries if e not in self.groups and e not in self.people and "@" not in e]


def _body(f: Fields) -> Identities:
    people = f.named("people", lambda sub: build(sub, PERSON))
    groups: dict[str, tuple[str, ...]] = {}
    gmap = f.map("groups")
    for name in gmap or {}:
        assert gmap is not None
        line = gmap.line_of(name)
        members = gmap[name]
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            f.problem_at(line, f"'groups.{name}' must be a list of people or e-mail addresses")
            continue
        for m in members:
            if m not in people and "@" not in m:
                f.problem_at(line, f"'groups.{name}' names {m!r}, who is not under people (and it is no e-mail address)")
        groups[str(name)] = tuple(members)
    owner: dict[str, str] = {}
    for pid, person in people.items():
        reason = unsafe_reason(pid)
        if reason or "@" in pid:
            f.problem_at(f.line_of("people"), f"person name {pid!r} {reason or 'must not be an e-mail address'}")
        for e in person.emails:
            key = identity_key(e)
            if "@" not in key:
                f.problem_at(f.line_of("people"), f"'people.{pid}.emails' has {e!r}, which is no e-mail address")
            elif key in owner and owner[key] != pid:
                f.problem_at(f.line_of("people"), f"{e!r} is listed for both {owner[key]!r} and {pid!r}: one address is one person")
            owner[key] = pid
        for forge in FORGES:
            for login in getattr(person, forge):
                key = account_key(forge, login)
                if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,254}", key.split(":", 1)[1]):
                    f.problem_at(f.line_of("people"), f"'people.{pid}.{forge}' has {login!r}, which is no {forge} account name")
                elif key in owner and owner[key] != pid:
                    f.problem_at(f.line_of("people"), f"{forge} account {login!r} is listed for both {owner[key]!r} and {pid!r}")
                owner[key] = pid
    for name in groups:
        if name in people:
            f.problem_at(f.line_of("groups"), f"{name!r} is both a person and a group")
    return Identities(people=people, groups=groups)


def parse_identities(data: object, path: str) -> Identities:
    return read_file(data, path, _body)
