"""The tunnel's last-hop HTTP/1.1 client against a scripted server."""

import asyncio

import pytest

from lattice_tunnel.http1_client import JOIN_LIMIT, Http1Client, HttpError

pytestmark = pytest.mark.timeout(30)


class Server:
    def __init__(self) -> None:
        self.accepted = 0
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.writers.append(writer)
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            line = head.split(b"\r\n", 1)[0].decode()
            method, target, _ = line.split(" ")
            fields = [h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")]
            length = int(fields[0].split(b":")[1]) if fields else 0
            body = await reader.readexactly(length) if length else b""
            if target == "/chunked":
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                             b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
            elif target == "/close":
                writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
                writer.close()
                return
            elif target == "/echo":
                writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n")
                if method != "HEAD":
                    writer.write(b"hello")
            await writer.drain()


async def collect(client: Http1Client, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
    resp = await client.request(method, target, [], body)
    data = b"".join([c async for c in resp.chunks()])
    return resp.status, data


async def test_framing_and_connection_reuse() -> None:
    srv = Server()
    server = await asyncio.start_server(srv.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = Http1Client(f"http://127.0.0.1:{port}", None)
    try:
        assert await collect(client, "GET", "/") == (200, b"hello")
        assert await collect(client, "GET", "/chunked") == (200, b"abcde")
        assert await collect(client, "HEAD", "/") == (200, b"")
        assert await collect(client, "POST", "/echo", b"payload") == (201, b"payload")
        assert srv.accepted == 1  # keep-alive across all of the above
        assert await collect(client, "GET", "/close") == (200, b"ok")
        assert await collect(client, "GET", "/") == (200, b"hello")
        assert srv.accepted == 2
        # The server drops the idle pooled connection: the next request retries on a fresh one.
        for w in srv.writers:
            w.close()
        await asyncio.sleep(0.05)
        assert await collect(client, "GET", "/") == (200, b"hello")
    finally:
        await client.aclose()
        server.close()


async def test_abandoned_response_is_not_reused_and_errors_are_explicit() -> None:
    srv = Server()
    server = await asyncio.start_server(srv.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = Http1Client(f"http://127.0.0.1:{port}", None)
    try:
        resp = await client.request("GET", "/chunked", [])
        await resp.aclose()  # body never read (a cancelled watch)
        assert await collect(client, "GET", "/") == (200, b"hello")
        assert srv.accepted == 2
    finally:
        await client.aclose()
        server.close()
    with pytest.raises(HttpError, match="cannot connect"):
        await Http1Client(f"http://127.0.0.1:{port}", None).request("GET", "/", [])


async def _raw_server(script: bytes, hold: float = 0.0) -> tuple[asyncio.Server, int]:
    """A server that answers every request head with `script` (then waits `hold` s and closes)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(script)
            await writer.drain()
            await asyncio.sleep(hold)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_interim_response_eof_body_and_timeouts() -> None:
    server, port = await _raw_server(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX-A: b\r\n\r\nuntil-eof")
    client = Http1Client(f"http://127.0.0.1:{port}", None)
    try:
        resp = await client.request("GET", "/", [("Accept", "text/plain")])
        assert resp.status == 200 and ("X-A", "b") in resp.headers
        assert b"".join([c async for c in resp.chunks()]) == b"until-eof"
    finally:
        await client.aclose()
        server.close()
    # A head that never comes, and a body that stalls: both time out instead of hanging.
    server, port = await _raw_server(b"", hold=5)
    client = Http1Client(f"http://127.0.0.1:{port}", None)
    with pytest.raises(TimeoutError):
        await client.request("GET", "/", [], timeout=0.2)
    server.close()
    server, port = await _raw_server(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", hold=5)
    client = Http1Client(f"http://127.0.0.1:{port}", None)
    resp = await client.request("GET", "/", [], timeout=0.2)
    with pytest.raises(HttpError, match="timed out"):
        _ = [c async for c in resp.chunks()]
    server.close()


async def test_header_injection_is_refused() -> None:
    client = Http1Client("http://127.0.0.1:9", None)
    with pytest.raises(HttpError, match="invalid character"):
        await client.request("GET", "/", [("X-Evil", "a\r\nImpersonate-User: admin")])
    with pytest.raises(HttpError, match="invalid character"):
        await client.request("GET", "/ HTTP/1.1\r\nX: y", [])


async def test_slow_consumer_pauses_the_socket() -> None:
    """A consumer that stops reading stops the socket reads too (the agent's upstream back-pressure)."""
    body = b"x" * (4 * 1024 * 1024)
    sent = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()
        sent.set()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    client = Http1Client(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", None)
    try:
        resp = await client.request("GET", "/", [])
        await asyncio.sleep(0.3)
        conn = resp._conn
        assert conn.paused and conn.buffered < 1024 * 1024  # the rest waits in the kernel / at the server
        got = sum([len(c) async for c in resp.chunks()])
        assert got == len(body)
        await asyncio.wait_for(sent.wait(), 5)
    finally:
        await client.aclose()
        server.close()


async def test_pieces_waiting_are_joined_up_to_the_limit() -> None:
    """A watch burst (many small chunks already buffered) leaves in few pieces of at most JOIN_LIMIT;
    a piece larger than the limit is not split or joined; the bytes and their order are untouched."""
    events = [b'{"type":"ADDED","object":{"n":%d}}\n' % i for i in range(3000)]
    big = b"y" * (JOIN_LIMIT + 10)
    body = b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in [*events, big, b"tail"]) + b"0\r\n\r\n"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    client = Http1Client(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", None)
    try:
        resp = await client.request("GET", "/", [])
        await asyncio.sleep(0.3)  # everything is buffered (well under the pause threshold)
        pieces = [c async for c in resp.chunks()]
        assert b"".join(pieces) == b"".join(events) + big + b"tail"
        # (httptools hands a chunk over per socket read, so the big one may arrive in parts)
        assert all(len(p) <= JOIN_LIMIT or set(p) == {ord("y")} for p in pieces), [len(p) for p in pieces]
        assert len(pieces) < 12, [len(p) for p in pieces]  # ~110 KB of events: a few pieces, not 3,000
    finally:
        await client.aclose()
        server.close()
