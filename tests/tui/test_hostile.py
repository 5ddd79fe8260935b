"""Markup and terminal escapes in every displayed field render literally and never act.

Every free-text field a registry can hold (owner, description, task, author, reasons,
comments, consumers, metric names and units, params, data sets, code, telemetry callers,
feature and bin names, backend messages) carries the same payload: Rich/Textual markup
that would crash (``[/oops]``), style (``[bold]``) or act (``[@click=app.quit]``) if
parsed, and terminal escapes (clear screen, set title, right-to-left override).
"""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Button, Input

from mlrelease.tui.app import MlreleaseApp
from mlrelease.tui.screens.compare import CompareScreen
from mlrelease.tui.screens.model import ModelScreen
from mlrelease.tui.screens.plan import PlanModal
from tests.builders import commit_all, make_registry, release, version, write
from tests.tui.conftest import press, settle
from tests.tui.test_actions import FailingBackend, choose_environment, select_model

MARKUP = "[bold]x [/oops] [@click=app.quit]"
# YAML double-quoted escapes: ESC [2J (clear), OSC 0 title with BEL, right-to-left override
ESCAPES_YAML = r"\e[2J \e]0;t\a \u202e"
PAYLOAD_YAML = f'"{MARKUP} {ESCAPES_YAML}"'
SHOWN = r"[bold]x [/oops] [@click=app.quit] \x1b[2J \x1b]0;t\x07 \u202e"


def hostile_registry(root: Path) -> Path:
    make_registry(root, commit=False)
    p = PAYLOAD_YAML
    cfg = (
        (root / "mlrelease.yaml")
        .read_text()
        .replace("metrics:\n", f"metrics:\n  {p}:\n    goal: max\n    unit: {p}\n    description: {p}\n", 1)
    )
    (root / "mlrelease.yaml").write_text(cfg)
    (root / "models/fraud-card/model.yaml").write_text(
        f"name: fraud-card\nowner: {p}\ndescription: {p}\ntask: {p}\n"
        f"consumers:\n- name: {p}\n  environments: [production]\n  contact: {p}\n  description: {p}\n"
    )
    for ver, f1, parent in (("1.0.0", 0.80, None), ("1.1.0", 0.83, "1.0.0"), ("1.2.0", 0.85, "1.1.0")):
        data = version("fraud-card", ver, f1=f1, parent=parent)
        write(root, f"models/fraud-card/versions/{ver}.yaml", data)
        text = (root / f"models/fraud-card/versions/{ver}.yaml").read_text()
        text = text.replace("author: Alice <alice@example.com>", f"author: {p}")
        text = text.replace(
            "metrics:\n", f"description: {p}\ncode:\n  repo: {p}\n  commit: {p}\n  entrypoint: {p}\nmetrics:\n  {p}: {f1}\n", 1
        )
        text = text.replace("params:\n", f"params:\n  {p}: {p if ver != '1.0.0' else 1}\n", 1)
        text = text.replace("data:\n  train:\n", f"data:\n  {p}:\n    dataset: transactions\n    version: '2026.01'\n  train:\n", 1)
        text += f"profile:\n  features:\n    {p}:\n      type: categorical\n      fractions:\n        {p}: 0.5\n        plain: 0.5\n"
        (root / f"models/fraud-card/versions/{ver}.yaml").write_text(text)
    (root / "datasets/transactions/2026.01.yaml").write_text(
        f"name: transactions\nversion: '2026.01'\nrows: 1000\nuri: {p}\ndescription: {p}\n"
    )
    state = release("fraud-card", "production", "1.0.0")
    write(root, "releases/production/fraud-card.yaml", state)
    text = (root / "releases/production/fraud-card.yaml").read_text().replace("reason: initial", f"reason: {p}")
    text += f"pin:\n  by: {p}\n  at: '2026-03-03T10:00:00Z'\n  reason: {p}\napprovals:\n- version: '1.2.0'\n  by: {p}\n  at: '2026-03-03T10:00:00Z'\n  comment: {p}\n"
    (root / "releases/production/fraud-card.yaml").write_text(text)
    (root / "models/fraud-card/rejections.yaml").write_text(
        f"model: fraud-card\nrejected:\n- version: '1.1.0'\n  by: {p}\n  at: '2026-03-03T10:00:00Z'\n  reason: {p}\n"
    )
    (root / "telemetry/production").mkdir(parents=True)
    (root / "telemetry/production/fraud-card.yaml").write_text(
        "model: fraud-card\nenvironment: production\nsnapshots:\n"
        f"- at: '2026-03-05T00:00:00Z'\n  version: '1.0.0'\n  calls: 100\n  errors: 1\n  metrics:\n    {p}: 0.7\n"
        f"  callers:\n    {p}: 100\n  profile:\n    features:\n      {p}:\n        type: categorical\n        fractions:\n          {p}: 0.9\n          plain: 0.1\n"
    )
    commit_all(root, f"hostile {MARKUP}", env={"GIT_AUTHOR_NAME": "[red]Mallory[/red] [@click=app.quit]"})
    return root


def screen_text(app: MlreleaseApp) -> str:
    return app.export_screenshot()


def assert_literal(svg: str, pieces: tuple[str, ...] = ("[/oops]", "[@click=app.quit]", "\\x1b[2J", "\\u202e")) -> None:
    assert "\x1b" not in svg and "\u202e" not in svg and "\x07" not in svg
    for piece in pieces:
        assert piece in svg.replace("&#160;", " "), piece


async def test_hostile_text_everywhere_renders_literally(tmp_path: Path, make_app) -> None:
    root = hostile_registry(tmp_path / "r")
    app = make_app(root, resolver=lambda config, name: FailingBackend(name or "hook"))
    async with app.run_test(size=(220, 60)) as pilot:
        await settle(pilot, app)
        assert app.overview is not None and not app.overview.problems, app.overview.problems
        select_model(app, "fraud-card")
        row = next(r for r in app.screen.shown if r.summary.name == "fraud-card")
        assert row.cells[1].plain == SHOWN  # owner
        assert_literal(screen_text(app), ("[bold]x [/oops]",))  # the owner column is narrow: the rest is cut
        await press(pilot, app, "enter")
        screen = app.screen
        assert isinstance(screen, ModelScreen)
        header = str(screen.query_one("#model-header").render())
        assert SHOWN in header and "pinned by " + SHOWN in header
        assert_literal(screen_text(app))
        for tab in "23456":
            await press(pilot, app, tab)
            assert_literal(screen_text(app))
        tree_labels = [str(n.label) for n in screen.query_one("#lineage-tree").root.children[0].children[0].children]
        assert any(SHOWN in label for label in tree_labels)
        history = [
            " ".join(c.plain for c in screen.query_one("#history-table").get_row_at(i))
            for i in range(screen.query_one("#history-table").row_count)
        ]
        assert any(SHOWN in h for h in history)
        drift = " ".join(c.plain for c in screen.query_one("#drift-table").get_row_at(0))
        assert drift.startswith(SHOWN)
        await press(pilot, app, "1", "c")
        assert isinstance(app.screen, CompareScreen)
        assert_literal(screen_text(app))
        await pilot.press("escape", "question_mark")
        await pilot.press("escape")
        await pilot.press("p")  # the failing backend replies with markup too
        await settle(pilot, app)
        await choose_environment(pilot, app, "staging")
        modal = app.screen
        assert isinstance(modal, PlanModal)
        modal.query_one("#reason", Input).value = "[/oops] \x1b[2J [@click=app.quit]"
        await pilot.pause()
        commits = str(modal.query_one("#plan-commits").render())
        assert "Reason: [/oops] \\x1b[2J [@click=app.quit]" in commits
        assert_literal(screen_text(app))
        modal.query_one("#cancel", Button).focus()
        await press(pilot, app, "y")
        assert "[/oops]" in str(app.screen.query_one("#error-message").render())
        await pilot.press("escape", "ctrl+p")
        await press(pilot, app, *"Open model")
        assert "\x1b" not in screen_text(app)
        await pilot.press("escape")
        assert app.is_running  # [@click=app.quit] never became an action


async def test_no_color_keeps_every_status_readable(repo: Path, make_app, monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(repo)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot, app)
        assert app.no_color
        rows = [" ".join(c.plain for c in r.cells) for r in app.screen.shown]
        assert "◆ 1.2.0→staging" in rows[1] and "⚠ hand-edited" in rows[0]  # symbols and words, not colour alone
