"""Issue 9 item 13 in the TUI: it runs the service's loop — fetch, plan once, show, execute
what was re-checked at the tip — and no longer plans on its own around it."""

from __future__ import annotations

from pathlib import Path

import pytest

import mlrelease.release.service as service_module
from mlrelease.registry.loader import Registry
from mlrelease.release.plan import Request
from mlrelease.release.service import ReleaseService
from mlrelease.tui.screens.overview import OverviewScreen
from tests.builders import ORIGIN, add_remote, commit_all, config, git, make_registry, write
from tests.tui.test_actions import at_model, confirm, fill, plan_for


def live(root: Path, env: str, ref: str = "HEAD") -> str | None:
    with Registry(root, ref) as reg:
        state = reg.release(env, "fraud-card")
        return state.live.version if state and state.live else None


async def test_one_promotion_plans_once_and_rechecks_once(repo: Path, make_app, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = service_module.make_plan

    def counting(*args, **kw):
        calls.append(args[1].kind)
        return real(*args, **kw)

    monkeypatch.setattr(service_module, "make_plan", counting)
    app = make_app(repo)
    async with at_model(app) as pilot:
        modal = await plan_for(pilot, app, "p", "staging")
        await fill(pilot, modal, reason="dev ran clean")
        await confirm(pilot, app, modal)
        assert isinstance(app.screen, OverviewScreen)
    assert live(repo, "staging") == "1.2.0"
    assert calls == ["promote", "promote"]  # the plan shown, and its re-check at the tip


async def test_the_tui_fetches_before_planning(tmp_path: Path, make_app) -> None:
    root = make_registry(tmp_path / "registry", commit=False)
    write(root, "mlrelease.yaml", config(remote=ORIGIN))
    commit_all(root, "Push to origin")
    remote = add_remote(root, tmp_path / "remote.git")
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(remote), str(other))
    theirs = ReleaseService(other)  # a colleague promotes 1.2.0 to staging and pushes
    theirs.execute(theirs.plan(Request("promote", "fraud-card", "1.2.0", "staging", reason="theirs")))
    assert "version: '1.2.0'" in git(remote, "show", "main:releases/staging/fraud-card.yaml")
    app = make_app(root)
    async with at_model(app) as pilot:
        modal = await plan_for(pilot, app, "b", "staging")  # roll back what is live in staging *now*
        assert modal.plan.previous == "1.2.0", modal.plan.expected
