"""A lean pooled HTTP/1.1 client for the tunnel's last hop: asyncio Protocol + httptools.

Replaces the h11 + StreamReader client on this hot path: h11's pure-Python framing and a
StreamReader/StreamWriter pair cost ~210 µs of CPU per small GET against a loopback
kube-apiserver; this costs about a third of that (docs/benchmarks.md#tunnel). httptools (llhttp)
does the response framing (Content-Length, chunked, keep-alive); the client only pools
connections and hands raw body bytes on (no content decoding, so gzip/protobuf pass through).

Back-pressure: a connection stops reading its socket once `PAUSE_AT` body bytes are buffered and
the consumer has not taken them, so a slow consumer (a watch without tunnel credit) stops its
upstream too. Timeouts: `timeout` bounds the wait for the response head and every wait between
two body chunks (None for watches); a timer is armed only when the consumer actually waits.

Upgrades (exec, attach, port-forward): after a `101 Switching Protocols` the connection is raw.
Every byte the server sends is a body chunk until it closes the connection (no timeout), and
`Response.write` sends bytes the other way, waiting while the socket's write buffer is full.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, cast
from urllib.parse import urlsplit

import httptools

PAUSE_AT = 128 * 1024
JOIN_LIMIT = 64 * 1024  # what a consumer gets at once when several pieces are waiting (the tunnel's chunk size)
_BAD_HEADER_CHARS = frozenset("\r\n\0")


class HttpError(Exception):
    """Transport-level failure (connect, TLS, protocol, timeout); the message says which."""


def _check_header(text: str) -> str:
    if not _BAD_HEADER_CHARS.isdisjoint(text):
        raise HttpError(f"invalid character in request header or target: {text!r}")
    return text


class _Conn(asyncio.Protocol):
    """One keep-alive connection carrying one exchange at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.writable: asyncio.Future[None] | None = None  # set while the transport's buffer is full
        self.parser = httptools.HttpResponseParser(self)
        self._reset()

    def _reset(self) -> None:
        self.head_only = False  # HEAD: the response has no body whatever its headers say
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self.head_done = False
        self.complete = False
        self.keep_alive = False
        self.eof_body = False  # body delimited by the connection closing
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.paused = False
        self.error: Exception | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.replace_parser = False
        self.raw = False  # after a 101: no HTTP framing any more, only bytes until the server closes

    # ---- asyncio.Protocol ----
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have the same methods.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.raw:
            self.on_body(data)
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:  # after the 101's head: the rest is the new protocol
            self.raw = True
            rest = data[exc.args[0]:]
            if rest:
                self.on_body(rest)
            return
        except httptools.HttpParserError as exc:
            self._fail(HttpError(f"malformed response: {exc}"))
            self.close()
            return
        if self.replace_parser:  # after a HEAD response llhttp would wait for the announced body
            self.replace_parser = False
            self.parser = httptools.HttpResponseParser(self)

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)
        # A body delimited by the connection ends with it; so does an upgraded stream, however closed.
        ends_body = self.eof_body and self.head_done and (exc is None or self.status == 101)
        if ends_body and not self.complete:
            self.complete, self.keep_alive = True, False
            self._wake()
        elif not self.complete:
            self._fail(HttpError(f"server closed the connection{' mid-response' if self.head_done else ''}"
                                 f"{f': {exc}' if exc else ''}"))

    def pause_writing(self) -> None:
        # Request bodies are written at once; only an upgraded stream's writer waits on this.
        self.writable = self.loop.create_future()

    def resume_writing(self) -> None:
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)
        self.writable = None

    # ---- httptools callbacks ----
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:  # interim (100 Continue, ...): the real one follows
            self.headers = []
            return
        self.status = status
        self.head_done = True
        if status == 101:
            self.eof_body = True
        elif self.head_only:
            self.complete, self.keep_alive, self.replace_parser = True, self.parser.should_keep_alive(), True
        else:
            names = {k.lower() for k, _ in self.headers}
            self.eof_body = ("content-length" not in names and "transfer-encoding" not in names
                             and status not in (204, 304))
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self.complete:
            return
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered >= PAUSE_AT and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.head_done and not self.complete and self.status != 101:
            self.complete = True
            self.keep_alive = self.parser.should_keep_alive()
            self._wake()

    # ---- consumer side ----
    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, exc: Exception) -> None:
        if self.error is None:
            self.error = exc
        self._wake()

    async def wait(self, timeout: float | None) -> None:
        """Until the protocol has news (head, chunk, end, error); TimeoutError after `timeout`."""
        if self.error is not None:
            raise self.error
        waiter = self.waiter = self.loop.create_future()
        timer = self.loop.call_later(timeout, expire, waiter) if timeout is not None else None
        try:
            await waiter
        finally:
            self.waiter = None
            if timer is not None:
                timer.cancel()
        if self.error is not None:
            raise self.error

    def take(self, limit: int = 0) -> bytes:
        """The oldest buffered piece; with `limit`, every piece buffered already, joined up to about
        `limit` bytes (a watch burst then crosses the tunnel in a few messages, not one per event)."""
        data = self.chunks.popleft()
        if limit and self.chunks and len(data) < limit:
            parts = [data]
            size = len(data)
            while self.chunks and size + len(self.chunks[0]) <= limit:
                size += len(self.chunks[0])
                parts.append(self.chunks.popleft())
            data = b"".join(parts)
        self.buffered -= len(data)
        if self.paused and self.buffered < PAUSE_AT // 2 and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        return data

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def expire(waiter: asyncio.Future[Any]) -> None:
    """A `loop.call_later` target: time a future out (cheaper than wait_for on the hot path)."""
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class Response:
    def __init__(self, client: Http1Client, conn: _Conn, read_timeout: float | None) -> None:
        self.status = conn.status
        self.headers = conn.headers
        self._client: Http1Client | None = client
        self._conn = conn
        self._read_timeout = read_timeout

    async def chunks(self) -> AsyncIterator[bytes]:
        conn = self._conn
        try:
            while True:
                if conn.chunks:
                    yield conn.take(JOIN_LIMIT)
                elif conn.complete:
                    return
                else:
                    await conn.wait(self._read_timeout)  # between chunks; None for watches
        except TimeoutError as exc:
            raise HttpError("response stream broke: read timed out") from exc
        except HttpError as exc:
            raise HttpError(f"response stream broke: {exc}") from exc
        finally:
            await self.aclose()

    @property
    def upgraded(self) -> bool:
        return self.status == 101

    async def write(self, data: bytes) -> None:
        """Send raw bytes on an upgraded connection; waits while the socket cannot take more."""
        conn = self._conn
        if conn.closed or conn.transport is None:
            raise HttpError("upgraded connection is closed")
        conn.transport.write(data)
        if conn.writable is not None:
            await conn.writable

    def close_connection(self) -> None:
        self._conn.close()

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        conn = self._conn
        if conn.complete and conn.keep_alive and not conn.chunks and not conn.closed and conn.error is None:
            client._release(conn)
        else:
            conn.close()  # unread body (e.g. a cancelled watch): the connection cannot be reused


class Http1Client:
    def __init__(self, base_url: str, ssl_context: ssl.SSLContext | None, max_idle: int = 32) -> None:
        url = urlsplit(base_url)
        self.scheme = url.scheme
        self.host = url.hostname or "localhost"
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self.ssl = ssl_context if url.scheme == "https" else None
        self.max_idle = max_idle
        self._host_line = f"Host: {url.netloc}\r\n"
        self._idle: list[_Conn] = []

    def _release(self, conn: _Conn) -> None:
        if len(self._idle) < self.max_idle:
            conn._reset()
            self._idle.append(conn)
        else:
            conn.close()

    def _pooled(self) -> _Conn | None:
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed:
                return conn
        return None

    async def _connect(self) -> _Conn:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(lambda: _Conn(loop), self.host, self.port, ssl=self.ssl)
        return conn

    def _encode(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
        parts = [f"{_check_header(method)} {_check_header(target)} HTTP/1.1\r\n", self._host_line]
        for k, v in headers:
            parts.append(f"{_check_header(k)}: {_check_header(v)}\r\n")
        if body or method in ("POST", "PUT", "PATCH"):
            parts.append(f"Content-Length: {len(body)}\r\n")
        parts.append("\r\n")
        head = "".join(parts).encode("latin-1")
        return head + body if body else head

    async def request(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes = b"",
                      timeout: float | None = 30.0, connect_timeout: float = 10.0) -> Response:
        """Send a request and return once the response head arrived (body via `chunks()`)."""
        try:
            data = self._encode(method, target, headers, body)
        except UnicodeEncodeError as exc:
            raise HttpError(f"request header is not latin-1: {exc}") from exc
        for attempt in range(2):
            conn = self._pooled()
            reused = conn is not None
            if conn is None:
                try:
                    conn = await asyncio.wait_for(self._connect(), connect_timeout)
                except (OSError, ssl.SSLError, TimeoutError) as exc:
                    raise HttpError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
            conn.head_only = method == "HEAD"
            try:
                assert conn.transport is not None
                conn.transport.write(data)
                while not conn.head_done:
                    await conn.wait(timeout)
            except HttpError as exc:
                conn.close()
                if reused and attempt == 0 and not conn.head_done:
                    continue  # a pooled connection the server had already closed; retry fresh
                raise HttpError(f"request to {self.host}:{self.port} failed: {exc}") from exc
            except BaseException:  # timeout, cancellation
                conn.close()
                raise
            return Response(self, conn, None if conn.status == 101 else timeout)
        raise HttpError("unreachable")

    async def aclose(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()
