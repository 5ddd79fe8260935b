"""An MLflow server that trickles its answer: the call gives up at its timeout, the action fails clearly.

docs/mlflow.md promises ``timeout`` is "seconds per call; a server that does not answer
fails the action, it never hangs". httpx's timeout bounds each read only, so a server that
sends a byte every 0.1 s held one call for as long as its body lasted (review finding).
"""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from mlrelease.cli import main
from mlrelease.registry.loader import Registry
from tests.builders import commit_all, config, make_registry, write
from tests.local_http import serving

BODY = b'{"registered_models": []}' + b" " * 150  # 175 bytes at 0.1 s each: 17 s when read to the end


class Trickle(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        try:
            for byte in BODY:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass  # the client gave up: what the test wants

    do_GET = do_POST = do_PATCH = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


def test_a_trickling_mlflow_fails_the_promotion_within_its_timeout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_registry(tmp_path / "reg")
    with serving(Trickle) as url:
        cfg = config()
        cfg["environments"][2]["backend"] = "mlflow"
        cfg["backends"]["mlflow"] = {"type": "mlflow", "tracking_uri": url, "aliases": {"production": "champion"}, "timeout": 1}
        write(root, "mlrelease.yaml", cfg)
        commit_all(root, "Deploy production through MLflow")
        started = time.monotonic()
        code = main(["--repo", str(root), "promote", "fraud-card@1.1.0", "--to", "production", "--reason", "go", "--yes", "--json"])
        took = time.monotonic() - started
    out = json.dumps(json.loads(capsys.readouterr().out))
    assert code != 0 and "did not answer within 1 s" in out
    assert took < 8, f"the promotion took {took:.1f} s against a timeout of 1 s"  # 17 s and more before the fix
    with Registry(root) as reg:
        state = reg.release("production", "fraud-card")
    assert state is not None and state.live is not None and state.live.version == "1.0.0"  # nothing claimed
