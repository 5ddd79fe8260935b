"""Issue 9 item 13: the plan shown is the plan executed.

The service re-checks at the tip it writes on and runs exactly what it re-checked; when
what the person judged changed there (here: the artifact the backend would deploy), it
refuses instead of deploying something nobody saw.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlrelease.backends.base import Action, Outcome
from mlrelease.errors import MlreleaseError
from mlrelease.release.plan import Request
from tests.builders import commit_all, git, version, write
from tests.release_backends import JournalBackend
from tests.release_helpers import journal, service, set_config, state_at


class Seen(JournalBackend):
    """A journal that also keeps every action it was asked to execute."""

    executed: list[Action]

    def execute(self, action: Action) -> Outcome:
        self.executed.append(action)
        return super().execute(action)


def test_an_artifact_changed_after_the_plan_is_not_deployed_unseen(repo: Path) -> None:
    set_config(repo)
    plain = journal(repo)
    backend = Seen(plain.name, {"journal": str(plain.journal)}, plain_context(repo))
    backend.executed = []
    svc = service(repo, backend)
    shown = svc.plan(Request("promote", "fraud-card", "1.2.0", "staging", reason="go"))
    assert shown.action is not None and shown.action.artifact is not None
    # Someone re-points the version's artifact after the plan was shown.
    write(
        repo,
        "models/fraud-card/versions/1.2.0.yaml",
        version("fraud-card", "1.2.0", f1=0.85, parent="1.1.0", artifact={"uri": "s3://elsewhere/model.pkl"}),
    )
    commit_all(repo, "re-point 1.2.0")
    tip = git(repo, "rev-parse", "HEAD")
    with pytest.raises(MlreleaseError) as info:
        svc.execute(shown)
    assert info.value.exit_code == 4  # stale: look again
    assert backend.executed == []  # nothing deployed that the person did not see
    assert git(repo, "rev-parse", "HEAD") == tip  # and nothing recorded
    fresh = getattr(info.value, "plan", None)
    assert fresh is not None and fresh.action.artifact == "s3://elsewhere/model.pkl"
    result = svc.execute(fresh)  # the fresh plan, once seen, runs: what is deployed is what it showed
    assert result.exit_code == 0
    assert state_at(repo, "staging", "fraud-card").live.version == "1.2.0"
    assert [a.artifact for a in backend.executed] == ["s3://elsewhere/model.pkl"]


def plain_context(root: Path):
    from mlrelease.backends.base import BackendContext

    return BackendContext(root, {})
