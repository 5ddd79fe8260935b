"""Keys: stable ids, the user keymap (and its errors), help, the command palette."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlrelease.errors import ManifestError
from mlrelease.tui import keys
from mlrelease.tui.config import UserConfig, config_path, key_problem, load_user_config
from mlrelease.tui.screens.help import HelpScreen
from mlrelease.tui.screens.model import ModelScreen
from mlrelease.tui.screens.overview import OverviewScreen
from tests.tui.conftest import press, settle


def write_config(text: str) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_binding_ids_are_unique_and_every_screen_uses_the_table() -> None:
    ids = [k.id for k in keys.KEYS]
    assert len(ids) == len(set(ids))
    assert all(b.id in keys.BY_ID for b in OverviewScreen.BINDINGS)  # type: ignore[union-attr]
    assert {b.id for b in ModelScreen.BINDINGS} >= {"release.promote", "model.compare", "model.trend"}  # type: ignore[union-attr]
    assert all(k.action == f"app.release('{k.id.split('.')[1]}')" for k in keys.mutating())


def test_no_two_default_bindings_share_a_key_where_both_are_active() -> None:
    """A new key must not take one already bound in a view where both are live (P once did: CI broke)."""
    from mlrelease.tui.config import GROUPS, key_names

    for group in GROUPS:
        owner: dict[str, str] = {}
        for key in (k for k in keys.KEYS if k.scope in group):
            for name in key_names(key.keys):
                assert owner.setdefault(name, key.id) == key.id, f"{name!r}: {owner[name]} and {key.id} in {group}"
    assert keys.BY_ID["app.notifications"].scope == "app"  # reachable from every view


def test_config_lives_under_xdg_config_home_or_mlrelease_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert config_path() == Path(os.environ["XDG_CONFIG_HOME"]) / "mlrelease" / "config.yaml"
    monkeypatch.setenv("MLRELEASE_CONFIG", str(tmp_path / "x.yaml"))
    assert config_path() == tmp_path / "x.yaml"


def test_no_file_means_defaults_and_a_good_file_loads() -> None:
    assert load_user_config() == UserConfig()
    path = write_config("keymap:\n  release.promote: ctrl+o\n  app.quit: q,ctrl+c\nrefresh_seconds: 5\n")
    cfg = load_user_config()
    assert cfg.keymap == {"release.promote": "ctrl+o", "app.quit": "q,ctrl+c"} and cfg.refresh_seconds == 5 and cfg.path == path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("keymap:\n  release.promot: P\n", "config.yaml:2: keymap: unknown binding id 'release.promot' (see docs/tui.md for the ids)"),
        ("keymap:\n  foo.promote: P\n", "config.yaml:2: keymap: unknown binding id 'foo.promote' (did you mean release.promote?)"),
        ("keymap:\n  release.promote: cntrl+p\n", "config.yaml:2: keymap: release.promote: key 'cntrl+p' has an unknown modifier 'cntrl'"),
        ("keymap:\n  release.promote: pgdown\n", "config.yaml:2: keymap: release.promote: key 'pgdown' is not a key name Textual knows"),
        ("keymap:\n  release.promote: 5\n", "config.yaml:2: keymap: release.promote: keys must be text such as 'ctrl+p', not 5"),
        ("keymap:\n  release.promote: b\n", "config.yaml:2: keymap: release.promote: key 'b' is already bound to release.rollback"),
        ("keymaps:\n  release.promote: P\n", "config.yaml:1: unknown key 'keymaps'"),
        ("keymap: [P]\n", "config.yaml:1: 'keymap' must be a mapping, not a list"),
        ("keymap:\n  release.promote: P\n  release.promote: Q\n", "config.yaml:3: duplicate key 'release.promote'"),
    ],
)
def test_a_bad_keymap_names_the_file_line_and_entry(text: str, message: str) -> None:
    write_config(text)
    with pytest.raises(ManifestError) as err:
        load_user_config()
    assert message in str(err.value), str(err.value)


def test_key_names() -> None:
    for good in ("p", "P", "ctrl+p", "f5", "enter", "escape", "slash", "question_mark", "shift+tab", "ctrl+shift+up", "@"):
        assert key_problem(good) is None, good
    for bad in ("", "p,,q", "ctrl+", "hyperspace"):
        assert key_problem(bad) is not None, bad


def test_the_app_does_not_start_with_a_bad_keymap(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlrelease.cli import main

    write_config("keymap:\n  release.promote: cntrl+p\n")
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    started = []
    monkeypatch.setattr("mlrelease.tui.app.MlreleaseApp.run", lambda self: started.append(self))
    assert main(["--repo", str(repo), "tui"]) == 1
    assert not started


def test_tui_refuses_without_a_terminal(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mlrelease.cli import main

    assert main(["--repo", str(repo), "tui"]) == 2
    assert "needs a terminal" in capsys.readouterr().err


async def test_a_remapped_key_works_and_the_old_one_does_not(repo: Path, make_app) -> None:
    app = make_app(repo, readonly=True, user_config=UserConfig(keymap={"release.promote": "P", "overview.filter": "f"}))
    async with app.run_test(size=(150, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("p")
        assert not app.activity
        await pilot.press("P")
        assert app.activity[-1].what == "promote" and "refused" in app.activity[-1].outcome
        await pilot.press("f")
        assert not app.screen.query_one("#filter").has_class("hidden")


async def test_help_lists_the_keys_of_the_view_under_it_with_the_keymap_applied(repo: Path, make_app) -> None:
    app = make_app(repo, user_config=UserConfig(keymap={"release.promote": "P"}))
    async with app.run_test(size=(150, 50)) as pilot:
        await settle(pilot, app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = "\n".join(str(w.render()) for w in app.screen.query("Static"))
        assert "Help — Overview" in text and "fuzzy on model and owner" in text
        assert "release.promote" in text and "overview.filter" in text
        await pilot.press("escape")
        app.open_model("fraud-card")
        await settle(pilot, app)
        await pilot.press("f1")
        text = "\n".join(str(w.render()) for w in app.screen.query("Static"))
        assert "Help — Model fraud-card" in text and "model.compare" in text and "overview.filter" not in text


async def test_the_palette_lists_actions_views_and_models(repo: Path, make_app) -> None:
    from mlrelease.tui.commands import MlreleaseCommands

    app = make_app(repo)
    async with app.run_test(size=(150, 40)) as pilot:
        await settle(pilot, app)
        provider = MlreleaseCommands(app.screen)
        texts = [c.text for c in provider.commands()]
        assert "Promote (p)" in texts and "Filter (/)" in texts and "Reload (^r, f5)" in texts and "Help (?, f1)" in texts
        assert "Open model fraud-card" in texts and "View: activity log" in texts
        await pilot.press("ctrl+p")
        await press(pilot, app, *"Open model churn")
        await press(pilot, app, "enter")
        assert isinstance(app.screen, ModelScreen) and app.screen.model_name == "churn"


async def test_activity_log_shows_what_ran(repo: Path, make_app) -> None:
    app = make_app(repo, readonly=True)
    async with app.run_test(size=(150, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("p", "at")
        table = app.screen.query_one("#activity")
        row = " | ".join(c.plain for c in table.get_row_at(0))
        assert row.startswith("12:00:00 | promote | ⊘ refused: read-only")  # a refusal is not a failure, nor a success


def test_docs_list_every_binding_id() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "tui.md").read_text(encoding="utf-8")
    missing = [k.id for k in keys.KEYS if f"`{k.id}`" not in docs]
    assert not missing, f"docs/tui.md does not document {missing}"


def test_mlrelease_without_a_command_opens_the_dashboard_in_a_terminal(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlrelease.cli import main

    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    started = []
    monkeypatch.setattr("mlrelease.tui.app.MlreleaseApp.run", lambda self: started.append(self))
    assert main(["--repo", str(repo)]) == 0
    assert [(a.session.root, a.readonly) for a in started] == [(repo.resolve(), False)]
    assert main(["--repo", str(repo), "tui", "--readonly"]) == 0
    assert started[-1].readonly
