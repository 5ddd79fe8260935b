"""The parse cache is keyed by content: never stale, and harmless when broken."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlrelease.registry.loader import Registry
from tests.builders import commit_all, version, write


def _cache_file(repo: Path) -> Path:
    return repo / ".git" / "mlrelease" / "parse-cache.sqlite"


def test_cache_is_filled_and_reused(repo: Path) -> None:
    with Registry(repo) as reg:
        first = reg.versions("fraud-card")
    assert _cache_file(repo).is_file()
    with Registry(repo) as reg:
        assert reg.versions("fraud-card") == first


def test_edited_file_is_never_served_stale(repo: Path) -> None:
    with Registry(repo) as reg:
        assert reg.version("fraud-card", "1.2.0").metrics["f1"] == 0.85
    write(repo, "models/fraud-card/versions/1.2.0.yaml", version("fraud-card", "1.2.0", f1=0.5))
    with Registry(repo) as reg:
        assert reg.version("fraud-card", "1.2.0").metrics["f1"] == 0.5
    commit_all(repo, "edit")
    with Registry(repo, "HEAD~1") as reg:
        assert reg.version("fraud-card", "1.2.0").metrics["f1"] == 0.85


def test_corrupt_cache_falls_back_to_parsing(repo: Path) -> None:
    with Registry(repo) as reg:
        reg.versions("fraud-card")
    _cache_file(repo).write_bytes(b"this is not sqlite")
    for extra in ("-wal", "-shm"):
        Path(str(_cache_file(repo)) + extra).unlink(missing_ok=True)
    with Registry(repo) as reg:
        assert [v.version for v in reg.versions("fraud-card")] == ["1.0.0", "1.1.0", "1.2.0"]


def test_broken_manifest_errors_are_cached_too(repo: Path) -> None:
    write(repo, "models/churn/versions/0.3.0.yaml", "model: churn\nversion: 0.3.0\nbogus: 1\n")
    for _ in range(2):
        with Registry(repo) as reg:
            results = reg.parse_many([("version", "models/churn/versions/0.3.0.yaml")])
            status, problems = results[("version", "models/churn/versions/0.3.0.yaml")]
            assert status == "err"
            assert any("unknown key 'bogus'" in p.message for p in problems)


def test_an_index_busy_for_a_moment_is_waited_for_then_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite can answer BUSY at once (another process turning the file to WAL): wait, as for a lock; then say so."""
    import sqlite3

    from mlrelease.errors import MlreleaseError
    from mlrelease.registry import cache

    tables = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);"
    real, refusals = cache.Store._open, []

    def busy_twice(self: cache.Store, path: Path) -> sqlite3.Connection:
        if len(refusals) < 2:
            refusals.append(path)
            raise sqlite3.OperationalError("database is locked")
        return real(self, path)

    monkeypatch.setattr(cache.Store, "_open", busy_twice)
    store = cache.Store(tmp_path / "index.sqlite", tables, lambda: "v1")
    assert len(refusals) == 2 and (tmp_path / "index.sqlite").is_file()  # waited, and the file is the one on disk
    asked = []

    def question() -> int:
        asked.append(1)
        if len(asked) < 3:
            raise sqlite3.OperationalError("database is locked")
        return 7

    assert store.answer(question) == 7 and len(asked) == 3
    store.close()
    monkeypatch.setattr(cache, "BUSY_TIMEOUT", 0.2)
    monkeypatch.setattr(cache.Store, "_open", lambda self, path: (_ for _ in ()).throw(sqlite3.OperationalError("database is locked")))
    with pytest.raises(MlreleaseError, match="is busy: another mlrelease is writing it"):
        cache.Store(tmp_path / "index.sqlite", tables, lambda: "v1")


def test_files_parsed_by_workers_are_cached_as_parsed_here(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pooled workers send their results pickled as the cache keeps them; the parent stores those bytes as they are."""
    from mlrelease.registry import loader, parallel

    with Registry(repo, use_cache=False) as reg:
        items = [("version", f"models/{p.parent.parent.name}/versions/{p.name}") for p in sorted(repo.glob("models/*/versions/*.yaml"))]
        here = reg.parse_many(items)
    monkeypatch.setattr(parallel, "PARALLEL_AT", 1)
    assert parallel.pooled(len(items))
    with Registry(repo) as reg:
        assert reg.parse_many(items, parallel=True) == here
        assert all(reg.read_oid(kind, path) for kind, path in items)
    with Registry(repo) as reg:  # read back from the cache
        monkeypatch.setattr(loader, "map_files", lambda jobs, *a, **k: iter(()) if not jobs else pytest.fail("parsed again"))
        assert reg.parse_many(items, parallel=True) == here
