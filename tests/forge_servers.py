"""Loopback stand-ins for GitHub's and GitLab's pull/merge-request APIs, as their documentation describes them.

Each server checks what the real one checks — the path, the method, the auth and version
headers, the JSON body, that the head branch exists on the bare remote — and answers with
the fields and status codes the providers document (GitHub: 201 on create, 422 "A pull
request already exists", 401 "Bad credentials"; GitLab: 201, 409 "Another open merge
request already exists", 401 "401 Unauthorized"). ``faults`` makes it misbehave on the
next matching requests: an HTTP status of its own, ``"cut"`` (the connection closed
with no answer), the same after the request took effect (``"cut-after"``, ``"502-after"``),
or ``"race"`` (a look that finds nothing while another attempt opens the request).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.local_http import respond, serving

TOKEN = "ghp_testtoken_0123456789abcdefABCDEF"


@dataclass
class Forge:
    provider: str
    bare: Path
    repo: str
    token: str = TOKEN
    proposals: list[dict[str, Any]] = field(default_factory=list)
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # GitHub reviews / GitLab approvals, by number
    requests: list[dict[str, Any]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)  # the status of each answer given (0: none)
    faults: list[tuple[str, str, object]] = field(default_factory=list)  # (method, path fragment, status | "cut" | "cut-after")
    url: str = ""

    def fault(self, method: str, path: str) -> object | None:
        for i, (m, frag, what) in enumerate(self.faults):
            if m == method and frag in path:
                del self.faults[i]
                return what
        return None

    def head_sha(self, branch: str) -> str | None:
        proc = subprocess.run(
            ["git", "-C", str(self.bare), "rev-parse", "--verify", "-q", f"refs/heads/{branch}"],
            capture_output=True,
            text=True,
            check=False,
        )
        return proc.stdout.strip() or None

    def merge(self, number: int, *, by: str = "octocat") -> str:
        """Merge proposal ``number`` into its base on the bare remote as the forge does: a merge commit, hooks not run."""
        pr = self.proposals[number - 1]
        head, base = self.branch_of(pr), self.base_of(pr)
        env = {"GIT_AUTHOR_NAME": by, "GIT_AUTHOR_EMAIL": f"{by}@users.noreply.example", "GIT_COMMITTER_NAME": "Forge"}
        env |= {"GIT_COMMITTER_EMAIL": "noreply@forge.example", "PATH": "/usr/bin:/bin"}

        def run(*args: str) -> str:
            return subprocess.run(["git", "-C", str(self.bare), *args], capture_output=True, text=True, check=True, env=env).stdout.strip()

        old = run("rev-parse", f"refs/heads/{base}")
        tree = run("merge-tree", "--write-tree", base, head).splitlines()[0]
        commit = run("commit-tree", tree, "-p", base, "-p", head, "-m", f"Merge pull request #{number} from {head}")
        run("update-ref", f"refs/heads/{base}", commit, old)
        if self.provider == "github":
            pr |= {"state": "closed", "merged_at": "2026-03-02T12:30:00Z", "merge_commit_sha": commit}
        else:
            pr |= {"state": "merged", "merged_at": "2026-03-02T12:30:00Z", "merge_commit_sha": commit}
        return commit

    def approve(self, number: int, login: str, *, state: str = "APPROVED", commit: str | None = None) -> None:
        pr = self.proposals[number - 1]
        if self.provider == "github":
            entry = {
                "id": len(self.reviews.get(number, [])) + 1,
                "user": {"login": login, "id": abs(hash(login)) % 10_000, "type": "User"},
                "body": "",
                "state": state,
                "commit_id": commit or pr["head"]["sha"],
                "submitted_at": "2026-03-02T12:20:00Z",
                "author_association": "MEMBER",
            }
        else:
            entry = {"user": {"id": abs(hash(login)) % 10_000, "username": login, "name": login, "state": "active"}}
        self.reviews.setdefault(number, []).append(entry)

    def branch_of(self, pr: dict[str, Any]) -> str:
        return str(pr["head"]["ref"] if self.provider == "github" else pr["source_branch"])

    def base_of(self, pr: dict[str, Any]) -> str:
        return str(pr["base"]["ref"] if self.provider == "github" else pr["target_branch"])


def _handler(forge: Forge) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.handle_one("GET")

        def do_POST(self) -> None:
            self.handle_one("POST")

        def answer(self, status: int, data: object) -> None:
            respond(self, status, json.dumps(data).encode(), {"Content-Type": "application/json; charset=utf-8"})

        def handle_one(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            forge.requests.append(
                {"method": method, "path": parts.path, "query": parse_qs(parts.query), "headers": dict(self.headers), "body": body}
            )
            what = forge.fault(method, parts.path)
            serve = github if forge.provider == "github" else gitlab
            if what == "trickle":  # headers, then a byte at a time: never a whole answer in time
                forge.answers.append(0)
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "4096")
                self.end_headers()
                for _ in range(60):  # 6 s, longer than the 3 s the tests allow
                    try:
                        self.wfile.write(b" ")
                        self.wfile.flush()
                    except OSError:
                        return
                    time.sleep(0.1)
                return
            if what == "cut":
                forge.answers.append(0)
                self.close_connection = True
                return
            if isinstance(what, int):
                forge.answers.append(what)
                if 300 <= what < 400:
                    respond(self, what, b"", {"Location": "https://elsewhere.example/api"})
                    return
                self.answer(what, {"message": f"fault {what}"} if what < 500 else {"message": "Server Error"})
                return
            if what == "race":  # another attempt opens it right after this look found nothing
                query = parse_qs(parts.query)
                branch = query["head"][0].split(":", 1)[1] if forge.provider == "github" else query["source_branch"][0]
                fields = {"title": "t", "head": branch, "base": "main", "body": ""}
                fields |= {"source_branch": branch, "target_branch": "main"}
                serve(forge, "POST", parts.path, {}, self.headers, fields)
                forge.answers.append(200)
                self.answer(200, [])
                return
            status, data = serve(forge, method, parts.path, parse_qs(parts.query), self.headers, body)
            if what == "cut-after":
                forge.answers.append(0)
                self.close_connection = True
                return
            if what == "502-after":
                status, data = 502, {"message": "Server Error"}
            forge.answers.append(status)
            self.answer(status, data)

    return Handler


def github(forge: Forge, method: str, path: str, query: dict[str, list[str]], headers: Any, body: Any) -> tuple[int, object]:
    if headers.get("Authorization") != f"Bearer {forge.token}":
        return 401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"}
    if headers.get("Accept") != "application/vnd.github+json" or headers.get("X-GitHub-Api-Version") != "2022-11-28":
        return 400, {"message": "missing the documented Accept / X-GitHub-Api-Version headers"}
    owner, name = forge.repo.split("/")
    pulls = f"/repos/{owner}/{name}/pulls"
    if method == "GET" and path == pulls:
        head = query.get("head", [""])[0]
        state = query.get("state", ["open"])[0]
        found = [p for p in forge.proposals if f"{owner}:{p['head']['ref']}" == head or not head]
        if state != "all":
            found = [p for p in found if p["state"] == state]
        return 200, found
    if method == "POST" and path == pulls:
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("title", "head", "base", "body")):
            return 422, {"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "missing_field", "field": "title"}]}
        sha = forge.head_sha(body["head"])
        if sha is None:
            return 422, {"message": "Validation Failed", "errors": [{"resource": "PullRequest", "field": "head", "code": "invalid"}]}
        if any(p["head"]["ref"] == body["head"] and p["state"] == "open" for p in forge.proposals):
            return 422, {
                "message": "Validation Failed",
                "errors": [
                    {"resource": "PullRequest", "code": "custom", "message": f"A pull request already exists for {owner}:{body['head']}."}
                ],
                "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
            }
        n = len(forge.proposals) + 1
        pr = {
            "url": f"{forge.url}{pulls}/{n}",
            "id": 1000 + n,
            "number": n,
            "html_url": f"https://github.com/{forge.repo}/pull/{n}",
            "state": "open",
            "draft": False,
            "title": body["title"],
            "body": body["body"],
            "user": {"login": "mlrelease-bot", "type": "Bot"},
            "head": {"label": f"{owner}:{body['head']}", "ref": body["head"], "sha": sha},
            "base": {"label": f"{owner}:{body['base']}", "ref": body["base"]},
            "merged": False,
            "merged_at": None,
            "mergeable": None,
            "merge_commit_sha": None,
        }
        forge.proposals.append(pr)
        return 201, pr
    if method == "GET" and path.startswith(pulls + "/") and path.endswith("/reviews"):
        n = int(path.split("/")[-2])
        per_page, page = int(query.get("per_page", ["30"])[0]), int(query.get("page", ["1"])[0])
        every = forge.reviews.get(n, [])
        return 200, every[(page - 1) * per_page : page * per_page]
    return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}


def gitlab(forge: Forge, method: str, path: str, query: dict[str, list[str]], headers: Any, body: Any) -> tuple[int, object]:
    if headers.get("PRIVATE-TOKEN") != forge.token:
        return 401, {"message": "401 Unauthorized"}
    project = f"/api/v4/projects/{forge.repo.replace('/', '%2F')}"
    if not path.startswith(project + "/"):
        return 404, {"message": "404 Project Not Found"}
    rest = path[len(project) :]
    if method == "GET" and rest == "/merge_requests":
        source = query.get("source_branch", [None])[0]
        found = [m for m in forge.proposals if source is None or m["source_branch"] == source]
        return 200, found
    if method == "POST" and rest == "/merge_requests":
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("source_branch", "target_branch", "title")):
            return 400, {"error": "source_branch, target_branch, title are missing"}
        sha = forge.head_sha(body["source_branch"])
        if sha is None:
            return 422, {"message": ["Source branch does not exist"]}
        for m in forge.proposals:
            if m["source_branch"] == body["source_branch"] and m["state"] == "opened":
                return 409, {"message": [f"Another open merge request already exists for this source branch: !{m['iid']}"]}
        n = len(forge.proposals) + 1
        mr = {
            "id": 5000 + n,
            "iid": n,
            "project_id": 42,
            "title": body["title"],
            "description": body.get("description"),
            "state": "opened",
            "source_branch": body["source_branch"],
            "target_branch": body["target_branch"],
            "sha": sha,
            "merge_commit_sha": None,
            "merged_at": None,
            "web_url": f"https://gitlab.example/{unquote(forge.repo)}/-/merge_requests/{n}",
            "detailed_merge_status": "not_approved",
            "references": {"short": f"!{n}"},
        }
        forge.proposals.append(mr)
        return 201, mr
    if method == "GET" and rest.startswith("/merge_requests/") and rest.endswith("/approvals"):
        n = int(rest.split("/")[2])
        by = forge.reviews.get(n, [])
        return 200, {"id": 5000 + n, "iid": n, "project_id": 42, "approved": bool(by), "approved_by": by, "user_has_approved": False}
    return 404, {"message": "404 Not Found"}


@contextmanager
def forge_server(provider: str, bare: Path, repo: str) -> Iterator[Forge]:
    forge = Forge(provider, bare, repo)
    with serving(_handler(forge)) as url:
        forge.url = url
        yield forge


def api_of(forge: Forge) -> str:
    return forge.url if forge.provider == "github" else f"{forge.url}/api/v4"
