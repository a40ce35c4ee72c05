"""Hand an upgrade request's connection over to the proxy, as raw bytes.

uvicorn terminates WebSockets itself and drops every other upgrade (kubectl's SPDY/3.1). The
proxy wants neither: it relays the upgraded connection byte for byte to the target, whose API
server does the handshake (so `Sec-WebSocket-Accept` matches the client's key, and SPDY works
the same way). ``handoff_protocol(handler)`` is uvicorn's httptools protocol (with the peer-certificate
tweaks of ``embedded_uvicorn``) that, for a request carrying ``Connection: Upgrade``, stops after
the request head and calls ``handler(scope, RawConnection)``; the handler answers (101 or an
error) and relays. Requests without an upgrade are served by the ASGI app as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import urllib.parse
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, cast

import httptools

from lattice_tunnel.embedded_uvicorn import PeerCertHttpToolsProtocol

log = logging.getLogger(__name__)

PAUSE_AT = 256 * 1024


class RawConnection(asyncio.Protocol):
    """A client connection after its request head: bytes in (``read``), bytes out (``write``)."""

    def __init__(self, transport: asyncio.Transport, leftover: bytes = b"") -> None:
        self.transport = transport
        self.chunks: deque[bytes] = deque([leftover] if leftover else [])
        self.buffered = len(leftover)
        self.ended = False  # EOF or connection lost: nothing more to read
        self.lost = asyncio.get_running_loop().create_future()  # resolved when the connection is gone
        self._readable: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._paused = False

    # ---- asyncio.Protocol ----
    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.buffered += len(data)
        if self.buffered >= PAUSE_AT and not self._paused:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool | None:
        self.ended = True
        self._wake()
        return None  # close: over TLS there is no half-close, and kubectl closes only when done

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        self._wake()
        if not self.lost.done():
            self.lost.set_result(None)
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def pause_writing(self) -> None:
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    # ---- for the handler ----
    def _wake(self) -> None:
        if self._readable is not None and not self._readable.done():
            self._readable.set_result(None)

    async def read(self) -> bytes | None:
        """The next bytes from the client; None once it closed."""
        while not self.chunks:
            if self.ended:
                return None
            self._readable = asyncio.get_running_loop().create_future()
            await self._readable
        data = self.chunks.popleft()
        self.buffered -= len(data)
        if self._paused and self.buffered < PAUSE_AT // 2:
            self._paused = False
            self.transport.resume_reading()
        return data

    async def write(self, data: bytes) -> None:
        """Send bytes to the client; waits while its socket buffer is full."""
        if self.lost.done():
            raise ConnectionResetError("client connection closed")
        self.transport.write(data)
        if self._writable is not None:
            await self._writable

    def close(self) -> None:
        self.transport.close()


UpgradeHandler = Callable[[dict[str, Any], RawConnection], Awaitable[None]]


class RelayTasks:
    """The running relays, so that stopping the server stops them too."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()

    def start(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def cancel_all(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def handoff_protocol(handler: UpgradeHandler, relays: RelayTasks) -> type[asyncio.Protocol]:
    """An HTTP protocol class for ``HttpServer`` that gives upgrade requests to ``handler``."""

    class UpgradeHandoffProtocol(PeerCertHttpToolsProtocol):
        def _should_upgrade(self) -> bool:  # every upgrade, not only WebSockets uvicorn can terminate
            return self._get_upgrade() is not None

        def data_received(self, data: bytes) -> None:
            self._unset_keepalive_if_required()
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserUpgrade as exc:
                self._hand_off(data[cast(int, exc.args[0]):])
            except httptools.HttpParserError:
                self.send_400_response("Invalid HTTP request received.")

        def _hand_off(self, rest: bytes) -> None:
            url = httptools.parse_url(self.url)
            raw_path = url.path
            scope = dict(self.scope)
            scope.update(path=urllib.parse.unquote(raw_path.decode("ascii", "replace")), raw_path=raw_path,
                         query_string=url.query or b"", headers=list(self.headers))
            self.connections.discard(self)  # no longer an HTTP connection uvicorn should manage
            transport = self.transport
            conn = RawConnection(transport, rest)
            transport.set_protocol(conn)
            transport.resume_reading()
            relays.start(_guarded(handler, scope, conn))

    return UpgradeHandoffProtocol


async def _guarded(handler: UpgradeHandler, scope: dict[str, Any], conn: RawConnection) -> None:
    try:
        await handler(scope, conn)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("upgrade relay for %s failed", scope.get("path"))
    finally:
        conn.close()
