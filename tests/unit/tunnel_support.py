"""In-process cell + agents for protocol tests: real gRPC with mTLS on loopback, fake API servers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import attrs
import httpx

from lattice_agent.agent import Agent, AgentConfig
from lattice_cell.bootstrap_tokens import MemoryTokenStore
from lattice_cell.cell import Cell, CellConfig
from lattice_tunnel import pki
from lattice_tunnel.kube_request import KubeRequest, ResponseStream


@attrs.define
class FakeApi:
    """A stand-in API server: answers from `handler`, records requests and open streams."""

    cluster: str
    handler: Callable[[KubeRequest], ResponseStream] | None = None
    seen: list[KubeRequest] = attrs.field(factory=list)
    open_streams: int = 0
    hang_paths: set[str] = attrs.field(factory=set)  # never answer these

    async def open(self, req: KubeRequest) -> ResponseStream:
        self.seen.append(req)
        if req.path in self.hang_paths:
            await asyncio.sleep(3600)
        if self.handler is not None:
            return self.handler(req)
        body = f'{{"cluster":"{self.cluster}","path":"{req.path}","user":"{req.user}"}}'.encode()
        return ResponseStream.from_bytes(200, body)

    def watch(self, events: asyncio.Queue[bytes | None]) -> ResponseStream:
        api = self
        api.open_streams += 1
        closed = asyncio.Event()

        async def chunks() -> AsyncIterator[bytes]:
            try:
                while (item := await events.get()) is not None:
                    yield item
            finally:
                api.open_streams -= 1
                closed.set()

        gen = chunks()

        async def close() -> None:
            await gen.aclose()

        return ResponseStream(200, [("content-type", "application/json")], gen, close)


def agent_config(cell: Cell, cluster: str, **kw: object) -> AgentConfig:
    csr, key = pki.generate_agent_csr(cluster)
    cert = pki.sign_agent_csr(cell.ca(), csr, cluster)
    return AgentConfig(cluster=cluster, grpc_endpoint=f"127.0.0.1:{cell.grpc_port}", ca_pem=cell.ca().trust_pem(),
                       cert_pem=cert, key_pem=key, server_name="localhost", backoff_initial=0.05,
                       backoff_max=0.5, **kw)  # type: ignore[arg-type]


async def start_cell(name: str, **kw: object) -> Cell:
    config = CellConfig(cluster=name, bind="127.0.0.1", grpc_port=0, bootstrap_port=0, proxy_port=0,
                        health_port=0, **kw)  # type: ignore[arg-type]
    cell = Cell(config, pki.MemoryCaStorage(), MemoryTokenStore(), local=FakeApi(name))
    await cell.start()
    return cell


@contextlib.asynccontextmanager
async def running(agent: Agent) -> AsyncIterator[Agent]:
    task = asyncio.create_task(agent.run())
    try:
        await asyncio.wait_for(agent.connected.wait(), 10)
        yield agent
    finally:
        agent.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def proxy_client(cell: Cell, cn: str = "capi-controller", bundle: pki.CaBundle | None = None) -> httpx.AsyncClient:
    leaf = pki.issue_client_certificate(bundle or cell.ca(), cn)
    ctx = pki.client_ssl_context(cell.ca().trust_pem(), leaf.chain_pem, leaf.key_pem)
    return httpx.AsyncClient(base_url=f"https://localhost:{cell.proxy_port}", verify=ctx, timeout=10)


async def eventually(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


class Relay:
    """A TCP relay between agent and cell; `freeze()` silently stops forwarding on existing
    connections (a half-open link: no FIN, no RST), while new connections still pass."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._frozen: list[asyncio.Event] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> Relay:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def freeze(self) -> None:
        for gate in self._frozen:
            gate.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        gate = asyncio.Event()
        gate.set()
        self._frozen.append(gate)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    await gate.wait()
                    dst.write(data)
                    await dst.drain()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()


class UpgradeServer:
    """A raw HTTP/1.1 server that switches protocols like kube-apiserver does for exec: requests
    with `Upgrade` get a 101 and then an echo of every byte, upper-cased; `/forbidden` gets a 403.
    Records each request head and whether its connection is still open."""

    def __init__(self) -> None:
        self.heads: list[dict[str, list[str]]] = []
        self.targets: list[str] = []
        self.open_connections = 0
        self.received = 0
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> UpgradeServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open_connections += 1
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            self.targets.append(head[0].split()[1])
            fields: dict[str, list[str]] = {}
            for line in head[1:]:
                if line:
                    k, _, v = line.partition(":")
                    fields.setdefault(k.strip().lower(), []).append(v.strip())
            self.heads.append(fields)
            if self.targets[-1].startswith("/forbidden") or "upgrade" not in fields:
                body = b'{"kind":"Status","code":403,"message":"pods/exec is forbidden"}'
                writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
                return
            writer.write(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "
                         + fields["upgrade"][0].encode() + b"\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n")
            await writer.drain()
            while data := await reader.read(65536):
                self.received += len(data)
                if data == b"CLOSE":
                    return
                writer.write(data.upper())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.open_connections -= 1
            writer.close()
