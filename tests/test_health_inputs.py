"""check's health inputs kept in the index (mlrelease/telemetry/inputs.py): the same answers, never stale.

Every assessment is compared three ways, at a fixed clock, as ``check --json`` prints it:
with the index updated incrementally as the registry changes, with the index rebuilt from
nothing (``.git/mlrelease/`` deleted), and computed with no kept row at all (the path
every row took before there was an index). The changes are the ones that must show at
once: a promotion (a release state), a new telemetry snapshot, a data set's training
profile, a version manifest edited in the work tree, telemetry that appears or goes, the
metric catalogue in mlrelease.yaml. A corrupt index file, or a kept row whose bytes are
damaged, is rebuilt, never trusted.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from bench import gen
from mlrelease.cli.output import json_text
from mlrelease.registry.index import FILE
from mlrelease.registry.loader import Registry
from mlrelease.telemetry import inputs
from mlrelease.telemetry.health import assess
from tests.builders import commit_all

NOW = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    root = tmp_path / "registry"
    gen.build(root, models=8, versions=12, releases=120, seed=5)
    return root


def checked(root: Path, ref: str | None = None, *, rendered: bool = True) -> str:
    """What ``check --json`` prints, at :data:`NOW` (``rendered``: with the kept rows' JSON texts, as check does)."""
    with Registry(root, ref) as reg:
        return json_text(assess(reg, now=NOW).to_json(rendered=rendered))


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """``checked`` with every kept row ignored: each row read and judged from the files."""

    def run(root: Path, ref: str | None = None) -> str:
        with monkeypatch.context() as m:
            m.setattr(inputs.Inputs, "lookup", lambda self, pairs: {})
            return checked(root, ref, rendered=False)

    yield run


def rebuilt(root: Path, ref: str | None = None) -> str:
    shutil.rmtree(root / ".git" / "mlrelease", ignore_errors=True)
    return checked(root, ref)


def kept_rows(root: Path) -> int:
    with sqlite3.connect(root / ".git" / "mlrelease" / FILE) as db:
        return int(db.execute("SELECT count(*) FROM derived").fetchone()[0])


def hits(root: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """How many rows the next assessment takes from the index."""
    seen: list[int] = []
    lookup = inputs.Inputs.lookup

    def counting(self: inputs.Inputs, pairs: list[object]) -> object:
        found = lookup(self, pairs)  # type: ignore[arg-type]
        seen.append(len(found))
        return found

    with monkeypatch.context() as m:
        m.setattr(inputs.Inputs, "lookup", counting)
        checked(root)
    return seen[0]


def live(root: Path, env: str) -> list[tuple[str, str]]:
    out = []
    for path in sorted((root / "releases" / env).glob("*.yaml")):
        state = yaml.safe_load(path.read_text())
        if (state.get("live") or {}).get("version"):
            out.append((path.stem, str(state["live"]["version"])))
    return out


def test_incremental_and_rebuilt_indexes_answer_as_reading_every_file(
    registry: Path, computed: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    compute = computed
    first = checked(registry)
    assert kept_rows(registry) > 0
    assert first == compute(registry)  # type: ignore[operator]
    rows = hits(registry, monkeypatch)
    assert rows > 0  # the second run took its rows from the index ...
    assert checked(registry) == first  # ... and answered the same

    model, ver = live(registry, "production")[0]

    # a new telemetry snapshot (the newest one is what check judges)
    path = registry / "telemetry" / "production" / f"{model}.yaml"
    data = yaml.safe_load(path.read_text())
    newest = dict(data["snapshots"][-1])
    newest["at"] = "2026-12-01T12:00:00Z"
    newest["calls"], newest["errors"] = 1000, 400  # an error rate that makes the row degraded
    data["snapshots"].append(newest)
    path.write_text(yaml.safe_dump(data, sort_keys=False))

    # the live manifest edited in the work tree (not committed): trained on another day, and its
    # profile gone, so its baseline is now its train data set's
    manifest = registry / "models" / model / "versions" / f"{ver}.yaml"
    text = re.sub(r"(?m)^created: .*$", "created: '2026-11-20T00:00:00Z'", manifest.read_text())
    manifest.write_text(text[: text.index("\nprofile:") + 1])

    # telemetry for a dev row that had none, and none any more for a staging row
    dev_model, _ = live(registry, "dev")[0]
    (registry / "telemetry" / "dev").mkdir(exist_ok=True)
    (registry / "telemetry" / "dev" / f"{dev_model}.yaml").write_text(
        yaml.safe_dump({"model": dev_model, "environment": "dev", "snapshots": [dict(newest, version=live(registry, "dev")[0][1])]})
    )
    staging = live(registry, "staging")
    (registry / "telemetry" / "staging" / f"{staging[0][0]}.yaml").unlink(missing_ok=True)

    assert 0 < hits(registry, monkeypatch) < rows  # the rows that read a changed file were read again, only those
    incremental = checked(registry)
    assert incremental != first
    assert incremental == compute(registry)  # type: ignore[operator]
    assert incremental == rebuilt(registry)

    # a promotion: production now runs another version of the model
    state_path = registry / "releases" / "production" / f"{model}.yaml"
    state = yaml.safe_load(state_path.read_text())
    versions = sorted(p.stem for p in (registry / "models" / model / "versions").glob("*.yaml"))
    other = next(v for v in versions if v != ver)
    state["live"]["version"] = other
    state_path.write_text(yaml.safe_dump(state, sort_keys=False))
    # the training profile of the data set that manifest now takes its baseline from
    train = yaml.safe_load(manifest.read_text())["data"]["train"]
    ds = registry / "datasets" / train["dataset"] / f"{train['version']}.yaml"
    d = yaml.safe_load(ds.read_text())
    for feature in d["profile"]["features"].values():
        fractions = feature["fractions"]
        feature["fractions"] = (
            list(reversed(fractions)) if isinstance(fractions, list) else dict(zip(fractions, reversed(fractions.values()), strict=True))
        )
    ds.write_text(yaml.safe_dump(d, sort_keys=False))
    assert checked(registry) == compute(registry)  # type: ignore[operator]
    checked(registry)  # kept as it is now ...
    commit_all(registry, "Promote by hand, new profiles")
    after = checked(registry)
    assert after == compute(registry)  # type: ignore[operator]
    assert after == rebuilt(registry)
    assert checked(registry, "HEAD") == compute(registry, "HEAD")  # type: ignore[operator]

    # the metric catalogue: every row's metric drops are computed again
    config = registry / "mlrelease.yaml"
    config.write_text(config.read_text().replace("goal: max", "goal: min", 1))
    assert hits(registry, monkeypatch) == 0
    assert checked(registry) == compute(registry) == rebuilt(registry)  # type: ignore[operator]


def test_a_corrupt_index_file_is_rebuilt_not_trusted(registry: Path, computed: object) -> None:
    expected = checked(registry)
    index = registry / ".git" / "mlrelease" / FILE
    for damage in (b"not a database at all" * 100, index.read_bytes()[:4096]):
        index.write_bytes(damage)
        for suffix in ("-wal", "-shm"):
            Path(f"{index}{suffix}").unlink(missing_ok=True)
        assert checked(registry) == expected
        assert kept_rows(registry) > 0  # made again, and whole
        assert checked(registry) == expected


def test_a_damaged_kept_row_is_read_again(registry: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = checked(registry)
    rows = kept_rows(registry)
    with sqlite3.connect(registry / ".git" / "mlrelease" / FILE) as db:
        db.execute("UPDATE derived SET value = substr(value, 1, 20)")  # cut short: does not unpickle
    assert hits(registry, monkeypatch) == 0
    assert checked(registry) == expected
    assert kept_rows(registry) == rows
    assert hits(registry, monkeypatch) > 0


def test_a_kept_row_whose_texts_are_not_this_codes_is_read_again(registry: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A row that unpickles to inputs with JSON texts of another shape (an older format's two) is never printed from."""
    import dataclasses
    import pickle

    expected = checked(registry)
    with sqlite3.connect(registry / ".git" / "mlrelease" / FILE) as db:
        for key, value in db.execute("SELECT key, value FROM derived").fetchall():
            kept = pickle.loads(value)
            if kept.texts is not None:
                damaged = dataclasses.replace(kept, texts=kept.texts[:2])
                db.execute("UPDATE derived SET value = ? WHERE key = ?", (pickle.dumps(damaged), key))
    assert checked(registry) == expected
    assert hits(registry, monkeypatch) > 0  # kept again, whole
    assert checked(registry) == expected
