"""A protected environment (``environments[].protected`` in mlrelease.yaml): changes go by pull request.

Where the registry branch cannot take direct pushes for an environment (GitHub branch
protection or rulesets, GitLab protected branches), a promotion or rollback there pushes
its intent to a branch of its own and opens a pull request (GitHub) or merge request
(GitLab); the CI job on the protected branch carries it out once it is merged
(``mlrelease reconcile``, docs/protected.md)::

    protected:
      provider: github                 # github | gitlab
      repo: bank/model-registry        # GitHub: OWNER/NAME; GitLab: a project id or GROUP/PROJECT path
      token_env: MLRELEASE_FORGE_TOKEN # the API token, from this environment variable only
      api: https://api.github.com      # optional; GHES https://HOST/api/v3, GitLab https://HOST/api/v4
      ca_bundle: /etc/ssl/bank-ca.pem  # optional: a private CA (verification is never switched off)
      timeout: 10                      # optional: seconds per request (0.5 to 120)
      branch_prefix: mlrelease/        # optional: the proposals' branches are PREFIX<env>/<model>/<id>

Checked here with every problem at its line; the URL policy is :mod:`mlrelease.urlpolicy`'s
(the token never goes over plain http except to a loopback host, never inside the URL).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from mlrelease.registry.fields import Fields
from mlrelease.urlpolicy import url_problem

PROVIDERS = {"github": "https://api.github.com", "gitlab": "https://gitlab.com/api/v4"}
GITHUB_REPO = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
GITLAB_PROJECT = re.compile(r"[0-9]+|[A-Za-z0-9_.][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_.][A-Za-z0-9_.-]*)+")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
BRANCH_PREFIX = re.compile(r"(?:[A-Za-z0-9_][A-Za-z0-9_.-]*/)*")
DEFAULT_PREFIX = "mlrelease/"
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Protected:
    provider: str  # github | gitlab
    repo: str
    token_env: str
    api: str
    ca_bundle: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    branch_prefix: str = DEFAULT_PREFIX
    line: int | None = None

    def branch(self, environment: str, model: str, action_id: str) -> str:
        """The branch a proposal's intent is pushed to: one per action id, so it never collides."""
        return f"{self.branch_prefix}{environment}/{model}/{action_id}"

    def note(self, environment: str, model: str, action_id: str) -> str:
        """What a plan says of a protected environment: where its intent goes, and when it is carried out."""
        return (
            f"{environment} is protected: the intent is pushed to branch {self.branch(environment, model, action_id)} and a {self.noun} "
            f"is opened on {self.provider} ({self.repo}); the backend is called when it is merged, by `mlrelease reconcile` in the CI job"
        )

    @property
    def noun(self) -> str:
        return "pull request" if self.provider == "github" else "merge request"


def parse_protected(f: Fields | None) -> Protected | None:
    if f is None:
        return None
    provider = f.choice("provider", tuple(PROVIDERS), required=True) or "github"
    repo = f.req_str("repo")
    if repo and provider == "github" and not GITHUB_REPO.fullmatch(repo):
        f.problem("repo", f"must be OWNER/NAME for github, not {repo!r}")
    if repo and provider == "gitlab" and (not GITLAB_PROJECT.fullmatch(repo) or any(not s.strip(".") for s in repo.split("/"))):
        f.problem("repo", f"must be a project id (digits) or a GROUP/PROJECT path for gitlab, not {repo!r}")
    token_env = f.req_str("token_env")
    if token_env and not ENV_NAME.fullmatch(token_env):
        f.problem("token_env", f"must name an environment variable (letters, digits, '_'), not {token_env!r}")
    api = (f.str("api") or PROVIDERS[provider]).rstrip("/")
    reason = url_problem(api, credentials=True, what="the API token", hint="name an environment variable in 'token_env' instead")
    parts = urlsplit(api)
    if reason is None and (parts.query or parts.fragment):
        reason = f"must not have a query or fragment: {api!r}"
    if reason:
        f.problem("api", reason)
    timeout = f.number("timeout", default=DEFAULT_TIMEOUT)
    if timeout is not None and not 0.5 <= timeout <= 120:
        f.problem("timeout", f"must be between 0.5 and 120 seconds, not {timeout:g}")
    prefix = f.str("branch_prefix", default=DEFAULT_PREFIX) or DEFAULT_PREFIX
    if not prefix.endswith("/") or not BRANCH_PREFIX.fullmatch(prefix) or ".." in prefix or ".lock/" in prefix:
        f.problem("branch_prefix", f"must be folders of a branch name ending in '/', such as 'mlrelease/', not {prefix!r}")
    protected = Protected(
        provider=provider,
        repo=repo,
        token_env=token_env,
        api=api,
        ca_bundle=f.str("ca_bundle"),
        timeout=timeout if timeout is not None else DEFAULT_TIMEOUT,
        branch_prefix=prefix,
        line=f.line,
    )
    f.done()
    return protected
