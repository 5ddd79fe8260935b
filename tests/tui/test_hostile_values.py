"""Small hostile values (issue 11 item 3) never reach the TUI as "This is a bug".

A 5,000-digit integer, a time in year 10000 once in UTC, a numeric profile feature
without ``edges``: the core turns each into a problem line, so every view of the model
shows what it can and no worker fails with an unexpected exception.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlrelease.errors import MlreleaseError
from mlrelease.tui.app import MlreleaseApp
from tests.builders import commit_all, make_registry, version, write
from tests.tui.conftest import settle

MANIFEST = "models/fraud-card/versions/1.2.0.yaml"
TABS = ("versions", "trend", "lineage", "history", "telemetry", "drift")


def _line(root: Path, start: str, new: str) -> None:
    path = root / MANIFEST
    lines = path.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.lstrip().startswith(start))
    lines[index] = lines[index][: len(lines[index]) - len(lines[index].lstrip())] + new
    path.write_text("\n".join(lines) + "\n")


def _no_edges(root: Path) -> None:
    profile = {"features": {"amount": {"type": "numeric", "fractions": [1.0]}}}
    write(root, MANIFEST, version("fraud-card", "1.2.0", f1=0.85, parent="1.1.0", profile=profile))


CASES = {
    "5000 digits": lambda r: _line(r, "f1:", "f1: " + "7" * 5000),
    "401 digits": lambda r: _line(r, "f1:", "f1: " + "7" * 401),
    "year 10000": lambda r: _line(r, "created:", "created: '9999-12-31T23:59:59-23:59'"),
    "numeric feature without edges": _no_edges,
}


@pytest.mark.parametrize("case", list(CASES))
async def test_small_values_are_problems_in_every_view_never_a_bug_dialog(tmp_path: Path, make_app: Any, case: str) -> None:
    root = make_registry(tmp_path / "registry")
    CASES[case](root)
    commit_all(root, f"a hostile value: {case}")
    app: MlreleaseApp = make_app(root)
    unexpected: list[str] = []
    shown = app.show_error

    def watch(title: str, error: BaseException | str) -> None:
        if not isinstance(error, MlreleaseError | str):
            unexpected.append(f"{title}: {type(error).__name__}: {error}"[:300])
        shown(title, error)

    app.show_error = watch  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        for tab in TABS:
            app.open_model("fraud-card", tab=tab)
            await settle(pilot, app)
    assert not unexpected, unexpected
