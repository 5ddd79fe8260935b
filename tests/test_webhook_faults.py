"""Issue 9 items 1 and 2: the webhook under socket-level faults, from a raw-socket server on 127.0.0.1.

The server reads each request whole, then misbehaves: a status line with a
Content-Length and then a close, a reset (RST) mid-body, a status line and headers
trickled a byte at a time, or a body trickled a byte at a time. No httpx mocking.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlrelease.backends import create
from mlrelease.backends.base import Action, BackendContext
from mlrelease.registry.types import PluginConfig
from tests.builders import commit_all, config, git, make_registry, write

SECRET = "whk-7d1f0c5e9b2a4e61-test-secret"
EXE = str(Path(sys.executable).with_name("mlrelease"))
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n"


class FaultyServer:
    """Accepts connections; answers each request as ``mode`` says, counting requests."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.requests = 0
        self.stop = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    @staticmethod
    def _read_request(conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return
            body += chunk

    def _trickle(self, conn: socket.socket, data: bytes) -> None:
        for i in range(len(data)):
            if self.stop.wait(0.2):
                return
            conn.sendall(data[i : i + 1])

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        try:
            self._read_request(conn)
            self.requests += 1
            if self.mode == "close":
                conn.sendall(HEAD + b'{"reference": "dep')
            elif self.mode == "reset":
                conn.sendall(HEAD + b'{"reference": "dep')
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif self.mode == "header-trickle":
                self._trickle(conn, HEAD * 50)
            elif self.mode == "body-trickle":
                conn.sendall(HEAD)
                self._trickle(conn, b" " * 200)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[FaultyServer]:
    s = FaultyServer(request.param)
    yield s
    s.close()


def _action() -> Action:
    return Action(
        kind="promote",
        model="fraud-card",
        promotion_id="01JQ7W8Z3K4M5N6P7Q8R9S0T1V",
        actor="Alice <a@example.com>",
        reason="go",
        version="1.2.0",
        environment="production",
    )


def _hook(tmp_path: Path, url: str, **settings: object):
    """The webhook backend on its own, in a fresh git repository."""
    root = tmp_path / "r"
    root.mkdir()
    git(root, "init", "-q")
    settings = {"url": url, "secret_env": "HOOK_SECRET", "backoff": 0.01, **settings}
    return create(PluginConfig(name="deploy-hook", type="webhook", settings=settings), BackendContext(root, {"HOOK_SECRET": SECRET}))


def _timed_execute(backend) -> tuple[bool | None, str, float]:
    """One execute: ok (None when it raised: the receiver may have acted), what it said, seconds taken."""
    start = time.monotonic()
    try:
        outcome = backend.execute(_action())
        ok, said = outcome.ok, outcome.message or ""
    except Exception as exc:
        ok, said = None, str(exc)
    return ok, said, time.monotonic() - start


# ---- item 1: a cut-off 2xx is never a success -------------------------------------------------


def _registry(tmp_path: Path, url: str) -> Path:
    root = make_registry(tmp_path / "registry", commit=False)
    cfg = config()
    cfg["backends"]["hook"] = {
        "type": "webhook",
        "url": url,
        "secret_env": "HOOK_SECRET",
        "timeout": 2,
        "deadline": 10,
        "retries": 2,
        "backoff": 0.01,
    }
    cfg["environments"][1]["backend"] = "hook"
    write(root, "mlrelease.yaml", cfg)
    commit_all(root, "staging deploys through a webhook")
    return root


@pytest.mark.parametrize("server", ["close", "reset"], indirect=True)
def test_a_cut_off_200_is_not_recorded_as_succeeded(tmp_path: Path, server: FaultyServer) -> None:
    root = _registry(tmp_path, server.url)
    proc = subprocess.run(
        [EXE, "--repo", str(root), "promote", "fraud-card@1.2.0", "--to", "staging", "--reason", "go", "--yes", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "HOOK_SECRET": SECRET},
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0, proc.stdout
    state = git(root, "show", "HEAD:releases/staging/fraud-card.yaml")
    assert "phase: Succeeded" not in state
    assert "version: '1.1.0'" in state.split("live:")[1]  # live did not move
    data = json.loads(proc.stdout)
    message = data["result"]["message"] if "result" in data else data["error"]
    assert "200 OK after" not in message
    assert "cut off" in message and "may have acted" in message, message


# ---- item 2: timeout and deadline are wall-clock limits ----------------------------------------


@pytest.mark.parametrize("server", ["header-trickle", "body-trickle"], indirect=True)
def test_a_trickling_receiver_cannot_outlast_the_timeout(tmp_path: Path, server: FaultyServer) -> None:
    ok, said, elapsed = _timed_execute(_hook(tmp_path, server.url, timeout=1, deadline=30, retries=0))
    assert not ok
    assert elapsed < 4, f"one attempt lasted {elapsed:.1f} s with timeout: 1"
    assert "timeout of 1 s" in said, said


@pytest.mark.parametrize("server", ["header-trickle"], indirect=True)
def test_the_deadline_bounds_all_attempts(tmp_path: Path, server: FaultyServer) -> None:
    _, said, elapsed = _timed_execute(_hook(tmp_path, server.url, timeout=2, deadline=3, retries=5))
    assert elapsed < 6, f"the action lasted {elapsed:.1f} s with deadline: 3"
    assert "deadline of 3 s" in said, said
