"""Wall-clock bounds for HTTP attempts: httpx's timeouts are per read, not per attempt.

A receiver that trickles its status line, headers or body one byte at a time never trips
a per-read timeout, so an attempt could last for ever. :class:`Clock` is an httpcore
network backend (httpcore's documented extension point) whose streams cap every connect,
read and write at the time left until :attr:`Clock.until`, and fail once it has passed.
Set ``until`` before each attempt; :func:`transport` builds an httpx transport using it.
"""

from __future__ import annotations

import ssl
import time
import typing

import httpcore
import httpx


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, clock: Clock) -> None:
        self._inner = inner
        self._clock = clock

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._clock.left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._clock.left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, self._clock.left(timeout, httpcore.ConnectTimeout))
        return _Stream(inner, self._clock)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class Clock(httpcore.NetworkBackend):
    """A network backend whose every operation ends by ``until`` (``time.monotonic()``)."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()
        self.until = float("inf")

    def left(self, timeout: float | None, error: type[Exception]) -> float:
        remaining = self.until - time.monotonic()
        if remaining <= 0:
            raise error("the wall-clock limit of this attempt has passed")
        return remaining if timeout is None else min(timeout, remaining)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(host, port, self.left(timeout, httpcore.ConnectTimeout), local_address, socket_options)
        return _Stream(stream, self)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: typing.Iterable[typing.Any] | None = None
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_unix_socket(path, self.left(timeout, httpcore.ConnectTimeout), socket_options), self)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def transport(clock: Clock, *, verify: ssl.SSLContext | bool) -> httpx.HTTPTransport:
    """An httpx transport whose connections run on ``clock`` (no proxies: a direct connection)."""
    t = httpx.HTTPTransport(verify=verify)
    t._pool._network_backend = clock  # httpx has no argument for httpcore's network_backend
    return t
