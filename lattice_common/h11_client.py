"""A lean pooled HTTP/1.1 client (asyncio streams + h11) for the tunnel's last hop.

Why not httpx there: on this hot path httpx/httpcore cost about 1 ms of CPU per small GET,
more than the kube-apiserver itself (see docs/tunnel.md). h11 does the framing (chunked,
Content-Length, HEAD, keep-alive) correctly; this module only pools connections and streams
raw body bytes (no content decoding, so gzip/protobuf pass through untouched).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import h11

READ_SIZE = 64 * 1024


class HttpError(Exception):
    """Transport-level failure (connect, TLS, protocol, timeout); the message says which."""


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.h11 = h11.Connection(h11.CLIENT)

    def close(self) -> None:
        self.writer.close()

    async def next_event(self) -> object:
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await self.reader.read(READ_SIZE)
            self.h11.receive_data(data)  # b"" signals EOF to h11


class Response:
    def __init__(self, client: H11Client, conn: _Conn, status: int, headers: list[tuple[str, str]],
                 read_timeout: float | None) -> None:
        self.status = status
        self.headers = headers
        self._client, self._conn = client, conn
        self._done = False
        self._read_timeout = read_timeout

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            while True:
                async with asyncio.timeout(self._read_timeout):  # between chunks; None for watches
                    event = await self._conn.next_event()
                if isinstance(event, h11.Data):
                    yield bytes(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    self._done = True
                    return
                elif isinstance(event, h11.ConnectionClosed):
                    raise HttpError("server closed the connection mid-response")
        except (OSError, h11.ProtocolError, TimeoutError) as exc:
            raise HttpError(f"response stream broke: {exc or 'read timed out'}") from exc
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None  # type: ignore[assignment]
        if conn is None:
            return
        if self._done and conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE:
            conn.h11.start_next_cycle()
            self._client._release(conn)
        else:
            conn.close()  # unread body (e.g. a cancelled watch): the connection cannot be reused


class H11Client:
    def __init__(self, base_url: str, ssl_context: ssl.SSLContext | None, max_idle: int = 32) -> None:
        url = urlsplit(base_url)
        self.scheme = url.scheme
        self.host = url.hostname or "localhost"
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self.host_header = url.netloc
        self.ssl = ssl_context if url.scheme == "https" else None
        self.max_idle = max_idle
        self._idle: list[_Conn] = []

    def _release(self, conn: _Conn) -> None:
        if len(self._idle) < self.max_idle:
            self._idle.append(conn)
        else:
            conn.close()

    async def _connect(self) -> _Conn:
        reader, writer = await asyncio.open_connection(self.host, self.port, ssl=self.ssl, limit=READ_SIZE * 2)
        return _Conn(reader, writer)

    async def request(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes = b"",
                      timeout: float | None = 30.0, connect_timeout: float = 10.0) -> Response:
        """Send a request and return once the response head arrived (body via `chunks()`)."""
        hdrs = [("Host", self.host_header), *headers]
        if body or method in ("POST", "PUT", "PATCH"):
            hdrs.append(("Content-Length", str(len(body))))
        for attempt in range(2):
            reused = bool(self._idle)
            try:
                conn = self._idle.pop() if reused else await asyncio.wait_for(self._connect(), connect_timeout)
            except (OSError, ssl.SSLError, TimeoutError) as exc:
                raise HttpError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
            try:
                data = conn.h11.send(h11.Request(method=method, target=target, headers=hdrs))
                if body:
                    data += conn.h11.send(h11.Data(data=body))
                data += conn.h11.send(h11.EndOfMessage())
                conn.writer.write(data)
                async with asyncio.timeout(timeout):
                    event = await conn.next_event()
                    while isinstance(event, h11.InformationalResponse):
                        event = await conn.next_event()
            except TimeoutError:
                conn.close()
                raise
            except (OSError, h11.ProtocolError) as exc:
                conn.close()
                if reused and attempt == 0:
                    continue  # a pooled connection the server had already closed; retry fresh
                raise HttpError(f"request to {self.host}:{self.port} failed: {exc}") from exc
            except BaseException:
                conn.close()
                raise
            if isinstance(event, h11.ConnectionClosed):
                conn.close()
                if reused and attempt == 0:
                    continue
                raise HttpError(f"{self.host}:{self.port} closed the connection before answering")
            assert isinstance(event, h11.Response)
            headers_out = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers]
            return Response(self, conn, event.status_code, headers_out, timeout)
        raise HttpError("unreachable")

    async def aclose(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()
