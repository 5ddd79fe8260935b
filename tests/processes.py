"""Servers the tests (and benchmarks) start as processes of their own: wait for one to
answer, and stop it with everything it started."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time

import httpx


def wait_for_200(url: str, proc: subprocess.Popen[bytes], seconds: float, *, every: float = 0.2) -> bool:
    """Poll ``url`` until it answers 200 (True); False once ``proc`` has exited or ``seconds`` passed."""
    deadline = time.monotonic() + seconds
    while True:
        if proc.poll() is not None:
            return False
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(every)


def stop_group(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """Stop ``proc``'s own process group (started with ``start_new_session=True``: servers
    with worker children), politely first, then by force after ``timeout`` seconds. The group
    is signalled even when its leader has exited: its children may not have."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)
