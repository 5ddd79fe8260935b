"""Pull requests (GitHub REST) and merge requests (GitLab REST v4): open one, find it, read its approvals.

Both forges are one small interface (:class:`Forge`) with the provider's requests and
answers inside it, as documented by GitHub (API version ``2022-11-28``) and GitLab:

* **GitHub**: ``POST /repos/{owner}/{repo}/pulls`` (201) opens; ``GET /repos/{owner}/{repo}/pulls?head=OWNER:BRANCH&state=all``
  finds; ``GET …/pulls/{n}/reviews`` (paginated, oldest first) gives the reviews, of which each
  reviewer's latest non-``COMMENTED`` one counts, and only when it approved the head that was merged.
  Headers: ``Authorization: Bearer``, ``Accept: application/vnd.github+json``, ``X-GitHub-Api-Version``.
* **GitLab**: ``POST /projects/:id/merge_requests`` (201) opens; ``GET /projects/:id/merge_requests?source_branch=BRANCH``
  finds; ``GET …/merge_requests/:iid/approvals`` gives ``approved_by`` (every tier). Header ``PRIVATE-TOKEN``.

Opening is idempotent per branch: look first, create, and when the answer says it already
exists (GitHub 422 "A pull request already exists", GitLab 409) or no answer came after the
request was sent (5xx, a cut connection, a timeout), look again and take the one found.
Every failure is a :class:`ForgeError` with one redacted line naming the forge, the call and
the forge's own words; ``sent`` says whether the request may have reached it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from mlrelease.clients.http import NoAnswer, fetch, one_line, open_client
from mlrelease.errors import MlreleaseError
from mlrelease.registry.protected import Protected
from mlrelease.secrets import header_problem, secret
from mlrelease.urlpolicy import url_problem

GITHUB_API_VERSION = "2022-11-28"
PAGE = 100
MAX_PAGES = 50  # a review list longer than 5,000 is cut off here
MAX_ANSWER = 16 * 1024 * 1024  # one answer: a page of 100 pull requests is well under a megabyte
MAX_BODY = 60_000  # GitHub's body limit is 65,536 characters; GitLab's a megabyte


class ForgeError(MlreleaseError):
    """A call to GitHub or GitLab failed; ``status`` is 0 when no answer came."""

    def __init__(self, message: str, *, status: int = 0, sent: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.sent = sent  # False: the request never reached the forge (refused connection): it changed nothing


@dataclass(frozen=True)
class Proposal:
    """One pull or merge request, as the forge says it is."""

    provider: str
    number: int  # GitHub's number, GitLab's iid (the !N)
    url: str  # for a person's browser
    branch: str
    base: str
    state: str  # open | closed | merged
    head_sha: str | None = None

    @property
    def merged(self) -> bool:
        return self.state == "merged"

    def to_json(self) -> dict[str, object]:
        return {"provider": self.provider, "number": self.number, "url": self.url, "branch": self.branch, "state": self.state}


@dataclass(frozen=True)
class Approver:
    """An account whose approval of a proposal stands (its latest review approved the merged head)."""

    login: str
    at: str | None = None


class Forge:
    """The forge of one protected environment. Use as a context manager."""

    def __init__(self, p: Protected, environ: Mapping[str, str] | None = None) -> None:
        self.p = p
        self.label = f"{'GitHub' if p.provider == 'github' else 'GitLab'} at {p.api}"
        reason = url_problem(p.api, credentials=True, what="the API token")
        if reason:
            raise ForgeError(f"{self.label}: the API URL {reason}", sent=False)
        token = secret(p.token_env, what=f"the {p.noun} API ({p.provider})", environ=environ) or ""
        problem = header_problem(token)
        if problem:
            raise ForgeError(f"environment variable {p.token_env} {problem}", sent=False)
        if p.provider == "github":
            headers = {
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": GITHUB_API_VERSION,
            }
        else:
            headers = {"PRIVATE-TOKEN": token, "Accept": "application/json"}
        self._headers = headers
        self._client: Any = None

    def __enter__(self) -> Forge:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # ---- one request --------------------------------------------------------------------------

    def call(self, method: str, path: str, *, params: Mapping[str, object] | None = None, body: object = None) -> Any:
        """One request; the decoded JSON, or :class:`ForgeError`."""
        if self._client is None:
            self._client = open_client(self.p.api, self._headers, timeout=self.p.timeout, ca_bundle=self.p.ca_bundle)
        where = f"{self.label}: {method} {path}"
        try:
            response = fetch(self._client, method, path, timeout=self.p.timeout, max_bytes=MAX_ANSWER, params=params, body=body)
        except NoAnswer as exc:
            if not exc.sent:
                raise ForgeError(f"{self.label} {exc.reason}", sent=False) from None
            raise ForgeError(f"{where}: no answer within {self.p.timeout:g} s" if exc.timed_out else f"{where} {exc.reason}") from None
        try:
            data = json.loads(response.content) if response.content.strip() else None
        except (ValueError, RecursionError):
            data = None
        status = response.status
        if 300 <= status < 400:
            raise ForgeError(
                f"{where} answered {status}, a redirect to {one_line(response.headers.get('location', '?'))} "
                "(not followed: configure the final API URL)",
                status=status,
            )
        if status >= 400:
            raise ForgeError(f"{where} answered {status}: {_words(data, response.phrase)}", status=status)
        if data is None:
            raise ForgeError(f"{where} answered {status} with something that is not JSON", status=status)
        return data

    # ---- proposals ----------------------------------------------------------------------------

    @property
    def _project(self) -> str:
        return quote(self.p.repo, safe="") if self.p.provider == "gitlab" else self.p.repo

    def find(self, branch: str) -> Proposal | None:
        """The newest pull or merge request from ``branch``, whatever its state, or None."""
        if self.p.provider == "github":
            owner = self.p.repo.split("/", 1)[0]
            found = self.call("GET", f"/repos/{self.p.repo}/pulls", params={"head": f"{owner}:{branch}", "state": "all", "per_page": PAGE})
        else:
            found = self.call("GET", f"/projects/{self._project}/merge_requests", params={"source_branch": branch, "state": "all"})
        if not isinstance(found, list):
            raise ForgeError(f"{self.label}: the list of {self.p.noun}s is not a JSON list")
        mine = [p for p in (self._proposal(item) for item in found) if p is not None and p.branch == branch]
        return max(mine, key=lambda p: p.number) if mine else None

    def open(self, branch: str, base: str, title: str, body: str) -> tuple[Proposal, bool]:
        """The open proposal from ``branch`` into ``base``, created if there is none: (it, whether it was created here)."""
        existing = self.find(branch)
        if existing is not None and existing.state == "open":
            return existing, False
        body = body if len(body) <= MAX_BODY else body[: MAX_BODY - 40] + "\n\n(cut: the plan is longer than a body may be)\n"
        if self.p.provider == "github":
            path = f"/repos/{self.p.repo}/pulls"
            request: dict[str, object] = {"title": title, "head": branch, "base": base, "body": body, "maintainer_can_modify": False}
        else:
            path = f"/projects/{self._project}/merge_requests"
            request = {"source_branch": branch, "target_branch": base, "title": title, "description": body, "remove_source_branch": True}
        try:
            created = self._proposal(self.call("POST", path, body=request))
        except ForgeError as exc:
            exists = exc.status in (409, 422) and "already exist" in str(exc)
            if not (exists or (exc.sent and (exc.status == 0 or exc.status >= 500))):
                raise
            again = self._find_after(exc, branch)
            if again is None or again.state != "open":
                raise
            return again, not exists
        if created is None:
            raise ForgeError(f"{self.label}: the {self.p.noun} was created, but the answer lacks its number or URL")
        return created, True

    def _find_after(self, exc: ForgeError, branch: str) -> Proposal | None:
        try:
            return self.find(branch)
        except ForgeError as again:
            raise ForgeError(f"{exc}; looking for it afterwards failed too: {again}", status=exc.status) from None

    def approvers(self, proposal: Proposal) -> list[Approver]:
        """The accounts whose approval of ``proposal`` stands, each once."""
        if self.p.provider == "gitlab":
            data = self.call("GET", f"/projects/{self._project}/merge_requests/{proposal.number}/approvals")
            users = data.get("approved_by") if isinstance(data, dict) else None
            out = []
            for entry in users if isinstance(users, list) else []:
                user = entry.get("user") if isinstance(entry, dict) else None
                if isinstance(user, dict) and isinstance(user.get("username"), str):
                    out.append(Approver(user["username"]))
            return list({a.login.lower(): a for a in out}.values())
        latest: dict[str, tuple[str, str | None, str | None]] = {}  # login → (state, commit, submitted)
        for page in range(1, MAX_PAGES + 1):
            reviews = self.call("GET", f"/repos/{self.p.repo}/pulls/{proposal.number}/reviews", params={"per_page": PAGE, "page": page})
            if not isinstance(reviews, list):
                raise ForgeError(f"{self.label}: the reviews of #{proposal.number} are not a JSON list")
            for r in reviews:
                user = r.get("user") if isinstance(r, dict) else None
                state = r.get("state") if isinstance(r, dict) else None
                if not isinstance(user, dict) or not isinstance(user.get("login"), str) or state in (None, "COMMENTED", "PENDING"):
                    continue
                latest[user["login"]] = (str(state), _text(r.get("commit_id")), _text(r.get("submitted_at")))
            if len(reviews) < PAGE:
                break
        return [
            Approver(login, at)
            for login, (state, commit, at) in latest.items()
            if state == "APPROVED" and (proposal.head_sha is None or commit == proposal.head_sha)
        ]

    def _proposal(self, item: object) -> Proposal | None:
        if not isinstance(item, dict):
            return None
        if self.p.provider == "github":
            number, url = item.get("number"), item.get("html_url")
            head, base = item.get("head"), item.get("base")
            branch = head.get("ref") if isinstance(head, dict) else None
            sha = head.get("sha") if isinstance(head, dict) else None
            target = base.get("ref") if isinstance(base, dict) else None
            state = "merged" if item.get("merged_at") or item.get("merged") is True else str(item.get("state") or "")
        else:
            number, url = item.get("iid"), item.get("web_url")
            branch, target, sha = item.get("source_branch"), item.get("target_branch"), item.get("sha")
            state = {"opened": "open", "locked": "open"}.get(str(item.get("state")), str(item.get("state") or ""))
        if not isinstance(number, int) or isinstance(number, bool) or not isinstance(url, str) or not isinstance(branch, str):
            return None
        return Proposal(self.p.provider, number, url, branch, str(target or ""), state, _text(sha))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _words(data: object, fallback: str) -> str:
    """The forge's own error words: GitHub's ``message`` and ``errors[].message``, GitLab's ``message`` (text, list or map) or ``error``."""
    if not isinstance(data, dict):
        return one_line(fallback or "no message")
    parts: list[str] = []
    for key in ("message", "error"):
        value = data.get(key)
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            parts += [str(v) for v in value]
        elif isinstance(value, dict):
            parts += [f"{k}: {v}" for k, v in value.items()]
    for err in data.get("errors") or [] if isinstance(data.get("errors"), list) else []:
        if isinstance(err, dict) and err.get("message"):
            parts.append(str(err["message"]))
        elif isinstance(err, dict):
            parts.append(", ".join(f"{k}={v}" for k, v in err.items()))
    return one_line("; ".join(parts) or fallback or "no message")
