"""``environments[].protected`` and forge accounts in identities.yaml: every bad form is a lint problem at its line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlrelease.cli import main
from tests.builders import config, make_registry, write

GOOD = {"provider": "github", "repo": "bank/model-registry", "token_env": "FORGE_TOKEN"}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_registry(tmp_path / "reg")


def lint(capsys: pytest.CaptureFixture[str], root: Path) -> tuple[int, list[str]]:
    code = main(["--repo", str(root), "lint"])
    out, err = capsys.readouterr()
    return code, (out + err).splitlines()


def with_protected(root: Path, protected: Any) -> list[str]:
    cfg = config()
    cfg["environments"][2]["protected"] = protected
    write(root, "mlrelease.yaml", cfg)
    return (root / "mlrelease.yaml").read_text().splitlines()


@pytest.mark.parametrize(
    "good",
    [
        GOOD,
        GOOD | {"api": "https://github.bank.example/api/v3", "timeout": 5, "branch_prefix": "release/prs/", "ca_bundle": "/etc/ca.pem"},
        {"provider": "gitlab", "repo": 4711, "token_env": "GL_TOKEN"},
        {"provider": "gitlab", "repo": "risk/ml/model-registry", "token_env": "GL_TOKEN", "api": "http://127.0.0.1:8080/api/v4"},
    ],
)
def test_good_forms_lint_clean(repo: Path, capsys: pytest.CaptureFixture[str], good: dict[str, Any]) -> None:
    with_protected(repo, good)
    code, lines = lint(capsys, repo)
    assert code == 0, lines


@pytest.mark.parametrize(
    ("protected", "key", "words"),
    [
        (GOOD | {"provider": "bitbucket"}, "provider", "must be one of github, gitlab, not 'bitbucket'"),
        ({"provider": "github", "token_env": "T"}, "provider", "missing required field 'environments[2].protected.repo'"),
        ({"repo": "a/b", "token_env": "T"}, "repo", "missing required field 'environments[2].protected.provider'"),
        ({"provider": "github", "repo": "a/b"}, "provider", "missing required field 'environments[2].protected.token_env'"),
        (GOOD | {"repo": "just-a-name"}, "repo", "must be OWNER/NAME for github"),
        (GOOD | {"repo": "a/b/c"}, "repo", "must be OWNER/NAME for github"),
        ({"provider": "gitlab", "repo": "../x", "token_env": "T"}, "repo", "must be a project id (digits) or a GROUP/PROJECT path"),
        (GOOD | {"token_env": "MY-TOKEN"}, "token_env", "must name an environment variable"),
        (GOOD | {"api": "http://github.bank.example/api/v3"}, "api", "plain http:// is allowed only for a loopback host"),
        (GOOD | {"api": "https://user:pw@github.bank.example/api/v3"}, "api", "must not hold credentials"),
        (GOOD | {"api": "ftp://github.bank.example"}, "api", "must be an https:// URL"),
        (GOOD | {"api": "https://github.bank.example/api?x=1"}, "api", "must not have a query"),
        (GOOD | {"timeout": 0}, "timeout", "must be between 0.5 and 120 seconds"),
        (GOOD | {"timeout": "soon"}, "timeout", "must be a number"),
        (GOOD | {"branch_prefix": "mlrelease"}, "branch_prefix", "ending in '/'"),
        (GOOD | {"branch_prefix": "a/../"}, "branch_prefix", "ending in '/'"),
        (GOOD | {"reviewers": 2}, "reviewers", "unknown key 'environments[2].protected.reviewers'"),
        ("yes", "protected", "must be a mapping"),
    ],
)
def test_bad_forms_are_lint_problems_at_their_line(
    repo: Path, capsys: pytest.CaptureFixture[str], protected: Any, key: str, words: str
) -> None:
    lines = with_protected(repo, protected)
    code, problems = lint(capsys, repo)
    assert code == 1, problems
    found = [p for p in problems if words in p]
    assert len(found) == 1, problems
    where = found[0].split(":", 2)
    assert where[0] == "mlrelease.yaml" and where[1].isdigit(), found[0]
    # the line of the key, or (a missing key) of the mapping's first key
    assert lines[int(where[1]) - 1].strip().startswith(f"{key}:"), (found[0], lines[int(where[1]) - 1])


@pytest.mark.parametrize(
    ("person", "words"),
    [
        ({"emails": ["a@bank.example"], "github": ["has space"]}, "which is no github account name"),
        ({"emails": ["a@bank.example"], "gitlab": "amartin"}, "'people.alice.gitlab' must be"),
    ],
)
def test_bad_forge_accounts_in_identities_are_lint_problems(
    repo: Path, capsys: pytest.CaptureFixture[str], person: dict[str, Any], words: str
) -> None:
    write(repo, "controls/identities.yaml", {"people": {"alice": person}})
    code, problems = lint(capsys, repo)
    assert code == 1 and any(words in p and p.startswith("controls/identities.yaml:") for p in problems), problems


def test_one_account_for_two_people_is_a_lint_problem(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    people = {"alice": {"emails": ["a@bank.example"], "github": ["Shared"]}, "bob": {"emails": ["b@bank.example"], "github": ["shared"]}}
    write(repo, "controls/identities.yaml", {"people": people})
    code, problems = lint(capsys, repo)
    assert code == 1 and any("github account 'shared' is listed for both 'alice' and 'bob'" in p for p in problems), problems
