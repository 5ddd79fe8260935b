"""Telemetry sources against real files and real HTTP servers: shapes, tokens, TLS, failures."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from mlrelease.errors import ManifestError, SourceConfigError, SourceError
from mlrelease.registry.loader import Registry
from mlrelease.registry.types import PluginConfig
from mlrelease.telemetry.base import SourceContext, create, installed
from mlrelease.telemetry.httpjson import HttpJsonSource
from tests.builders import commit_all, write
from tests.local_http import respond, self_signed, serving
from tests.telemetry_servers import Reply, dead_url, hanging_server, json_service

SNAPSHOT_OLD = {
    "at": "2026-05-01T00:00:00Z",
    "version": "1.0.0",
    "calls": 1000,
    "errors": 10,
    "latency_ms": {"p50": 12, "p95": 40, "p99": 90},
}
SNAPSHOT_NEW = {
    "at": "2026-05-02T00:00:00Z",
    "version": "1.0.0",
    "calls": 1200,
    "errors": 6,
    "memory_mb": 512,
    "cpu": 0.8,
    "metrics": {"precision": 0.74},
    "callers": {"card-gateway": 900, "web-shop": 300},
    "profile": {"rows": 1200, "features": {"channel": {"type": "categorical", "fractions": {"web": 0.4, "pos": 0.6}}}},
}


def source(settings: dict[str, object], name: str = "production.telemetry") -> HttpJsonSource:
    return HttpJsonSource(name, settings, SourceContext(None))  # type: ignore[arg-type]  # http-json never reads the registry


# ---- discovery and settings ---------------------------------------------------------------------


def test_the_three_sources_are_installed_entry_points() -> None:
    assert {"file", "http-json", "prometheus"} <= set(installed())


def test_an_unknown_source_type_lists_what_is_installed(repo: Path) -> None:
    with (
        Registry(repo) as reg,
        pytest.raises(SourceConfigError, match=r"type 'graphite', which is not installed \(installed: .*http-json.*\)"),
    ):
        create(PluginConfig("production.telemetry", "graphite", {}, line=12), SourceContext(reg))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "telemetry.url: is required for a http-json telemetry source"),
        ({"url": "ftp://x/{model}"}, "must be an http:// or https:// URL"),
        ({"url": "https://user:pw@x/{model}"}, "telemetry.url: must not hold credentials"),
        ({"url": "https://x/{model}", "timeout": 0}, "telemetry.timeout: must be between"),
        ({"url": "https://x/{model}", "timeout": "5"}, "telemetry.timeout: must be a number"),
        ({"url": "https://x/{model}", "verify": False}, "telemetry.verify: unknown setting for a http-json telemetry source"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(settings: dict[str, object], message: str) -> None:
    with pytest.raises(SourceConfigError, match=message) as err:
        source(settings)
    assert str(err.value).startswith("mlrelease.yaml: environments.production.telemetry.")


# ---- file -----------------------------------------------------------------------------------------


def test_file_source_reads_the_registry(repo: Path) -> None:
    write(
        repo,
        "telemetry/production/fraud-card.yaml",
        {"model": "fraud-card", "environment": "production", "snapshots": [SNAPSHOT_NEW, SNAPSHOT_OLD]},
    )
    commit_all(repo, "telemetry")
    with Registry(repo) as reg:
        src = create(PluginConfig("production.telemetry", "file", {}), SourceContext(reg))
        series = src.fetch("fraud-card", "production", history=True)
        latest = src.fetch("fraud-card", "production", history=False)
        assert src.fetch("churn", "production", history=True) is None
    assert series is not None and [s.calls for s in series.snapshots] == [1000, 1200]  # oldest first
    assert latest is not None and [s.calls for s in latest.snapshots] == [1200]
    assert latest.snapshots[0].profile is not None


def test_file_source_refuses_a_file_for_another_model(repo: Path) -> None:
    write(repo, "telemetry/production/fraud-card.yaml", {"model": "churn", "environment": "production", "snapshots": [SNAPSHOT_OLD]})
    with Registry(repo) as reg:
        src = create(PluginConfig("production.telemetry", "file", {}), SourceContext(reg))
        with pytest.raises(
            ManifestError,
            match=r"telemetry/production/fraud-card\.yaml:1: the file name says model 'fraud-card' but the snapshots say 'churn'",
        ):
            src.fetch("fraud-card", "production", history=True)


# ---- http-json ------------------------------------------------------------------------------------


def test_http_json_reads_a_document_with_a_bearer_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_TOKEN", "s3cr3t-token-value")
    with json_service() as svc:
        svc.set_json(
            "/models/fraud-card/production", {"model": "fraud-card", "environment": "production", "snapshots": [SNAPSHOT_OLD, SNAPSHOT_NEW]}
        )
        src = source({"url": svc.url + "/models/{model}/{env}", "token_env": "MONITOR_TOKEN", "timeout": 3})
        series = src.fetch("fraud-card", "production", history=True)
        latest = src.fetch("fraud-card", "production", history=False)
        src.close()
    assert series is not None and len(series.snapshots) == 2
    newest = latest.snapshots[0] if latest else None
    assert newest is not None and newest.calls == 1200 and newest.metrics == {"precision": 0.74} and newest.callers["web-shop"] == 300
    assert newest.profile is not None and newest.profile.features["channel"].bins == {"web": 0.4, "pos": 0.6}
    path, headers = svc.requests[0]
    assert path == "/models/fraud-card/production"
    assert headers["Authorization"] == "Bearer s3cr3t-token-value"


def test_http_json_reads_a_list_or_a_single_snapshot_and_quotes_names() -> None:
    with json_service() as svc:
        svc.set_json("/t?model=fraud-card&env=prod%2Beu%3D1", [SNAPSHOT_NEW, SNAPSHOT_OLD])
        svc.set_json("/t?model=churn&env=prod%2Beu%3D1", SNAPSHOT_OLD)
        src = source({"url": svc.url + "/t?model={model}&env={env}"})
        many = src.fetch("fraud-card", "prod+eu=1", history=True)  # names are safe (no '/'), yet need quoting
        one = src.fetch("churn", "prod+eu=1", history=True)
    assert many is not None and [s.calls for s in many.snapshots] == [1000, 1200]
    assert one is not None and one.snapshots[0].latency_ms == {"p50": 12.0, "p95": 40.0, "p99": 90.0}


def test_http_json_404_means_no_figures() -> None:
    with json_service() as svc:
        assert source({"url": svc.url + "/{model}"}).fetch("fraud-card", "production", history=True) is None


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(200, b'{"model": "churn", "snapshots": []}'), "the answer is for model 'churn', not 'fraud-card'"),
        (Reply(200, b'[{"at": "yesterday", "calls": 3}]'), r"not telemetry: 'snapshots\[0\].at' must be an ISO 8601 time"),
        (Reply(200, b'[{"at": "2026-05-01T00:00:00Z", "calls": -1}]'), "'snapshots\\[0\\].calls' must be at least 0"),
        (Reply(200, b"<html>hello</html>"), "is not a JSON document"),
        (Reply(500, b"{}"), "answered HTTP 500"),
        (Reply(302, b"", {"Location": "http://elsewhere.invalid/"}), "answered 302 \\(a redirect; mlrelease does not follow them"),
    ],
)
def test_http_json_bad_answers_are_one_clear_line(reply: Reply, message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_TOKEN", "another-s3cr3t")
    with json_service() as svc:
        svc.replies["/fraud-card"] = reply
        with pytest.raises(SourceError, match=message) as err:
            source({"url": svc.url + "/{model}", "token_env": "MONITOR_TOKEN"}).fetch("fraud-card", "production", history=True)
    assert "another-s3cr3t" not in str(err.value)
    assert "\n" not in str(err.value)


def test_a_missing_token_variable_is_a_source_error() -> None:
    with json_service() as svc, pytest.raises(SourceError, match="environment variable NOT_SET_ANYWHERE is not set"):
        source({"url": svc.url + "/{model}", "token_env": "NOT_SET_ANYWHERE"}).fetch("fraud-card", "production", history=True)
    assert svc.requests == []  # nothing was sent without it


def test_a_source_that_is_down_fails_at_once_and_is_not_retried_in_the_run() -> None:
    src = source({"url": dead_url() + "/{model}", "timeout": 2})
    with pytest.raises(SourceError, match=r"cannot connect to http://127\.0\.0\.1:\d+/fraud-card: connection refused"):
        src.fetch("fraud-card", "production", history=True)
    with pytest.raises(SourceError, match="connection refused \\(not tried again in this run\\)"):
        src.fetch("churn", "production", history=True)


def test_a_source_that_hangs_gives_up_after_its_timeout() -> None:
    with hanging_server() as url:
        src = source({"url": url + "/{model}", "timeout": 0.3})
        with pytest.raises(SourceError, match=r"no answer from http://127\.0\.0\.1:\d+/fraud-card within 0\.3 s"):
            src.fetch("fraud-card", "production", history=True)
        src.close()


# ---- TLS ----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def https_service(tmp: Path, body: bytes) -> Iterator[tuple[str, Path]]:
    """A real HTTPS server with a self-signed certificate for 127.0.0.1."""
    cert, key = self_signed(tmp)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            respond(self, 200, body, {"Content-Type": "application/json"})

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    with serving(Handler, tls=(cert, key)) as url:
        yield url, cert


def test_tls_is_verified_and_a_private_ca_can_be_added(tmp_path: Path) -> None:
    with https_service(tmp_path, json.dumps([SNAPSHOT_OLD]).encode()) as (url, cert):
        with pytest.raises(SourceError, match="certificate"):
            source({"url": url + "/{model}", "timeout": 3}).fetch("fraud-card", "production", history=True)
        trusted = source({"url": url + "/{model}", "timeout": 3, "ca_bundle": str(cert)}).fetch("fraud-card", "production", history=True)
    assert trusted is not None and trusted.snapshots[0].calls == 1000


# ---- answers that never finish: a trickle, a flood, a cut (the read loop shared with MLflow and the forges) ----


def _misbehaving(how: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"metrics": {}}' + b" " * 200
            length = 9 * 1024 * 1024 if how == "flood" else len(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(length))
            self.end_headers()
            try:
                if how == "trickle":  # a byte every 0.05 s: 10 s to the end, each read well inside the timeout
                    for byte in body:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(0.05)
                elif how == "flood":
                    for _ in range(9 * 16):
                        self.wfile.write(b" " * 65536)
                else:  # cut: half the body, then the connection is closed
                    self.wfile.write(body[:10])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the client gave up: what the test wants

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.mark.parametrize(
    ("how", "message", "down"),
    [
        ("trickle", r"no complete answer from http://127\.0\.0\.1:\d+/fraud-card within 0\.5 s", True),
        ("flood", r"the answer from http://127\.0\.0\.1:\d+/fraud-card is larger than 8,388,608 bytes", False),
        ("cut", r"request to http://127\.0\.0\.1:\d+/fraud-card failed: ", True),
    ],
)
def test_an_answer_that_trickles_floods_or_is_cut_fails_within_the_timeout(how: str, message: str, down: bool) -> None:
    with serving(_misbehaving(how)) as url:
        src = source({"url": url + "/{model}", "timeout": 0.5})
        started = time.monotonic()
        with pytest.raises(SourceError, match=message):
            src.fetch("fraud-card", "production", history=True)
        assert time.monotonic() - started < 3  # a trickle would hold it 10 s
        if down:  # a service that cannot answer whole is not asked again for the next model
            with pytest.raises(SourceError, match="not tried again in this run"):
                src.fetch("churn", "production", history=True)
        src.close()
