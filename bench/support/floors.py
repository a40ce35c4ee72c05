"""Floors under any tunnel built on grpcio's asyncio API and a CPython HTTPS front, measured in
the benchmark's own run with no Lattice code.

* gRPC: a bidirectional mTLS stream between two Python processes on loopback, echoing a message
  the size of a tunnelled GET: the round-trip latency with one message in flight, and the CPU both
  processes spend per exchange with 8 in flight, pipelined (the throughput shape).
* HTTPS: a minimal uvloop + TLS server that answers every request with a fixed ConfigMap-sized
  response (`serve_https_echo`); bench/tunnel.py times it with its own client, so the figure is
  what one extra CPython HTTPS leg costs at the least.
Both servers run on uvloop, like the cell and the agent.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import grpc

from lattice_tunnel import pki

METHOD = "/bench.Echo/Chat"
MESSAGE = b"x" * 700  # ~ a small ConfigMap GET: request + response protobufs


class Floor(NamedTuple):
    rtt_p50_ms: float
    cpu_per_exchange_ms: float  # client + server process CPU


def _identity(b: bytes) -> bytes:
    return b


async def _serve(port: int, cert_dir: Path) -> None:
    async def chat(requests: object, context: object) -> object:
        async for m in requests:  # type: ignore[attr-defined]
            yield m

    handler = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Chat": grpc.stream_stream_rpc_method_handler(chat, _identity, _identity)})
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    creds = grpc.ssl_server_credentials([((cert_dir / "s.key").read_bytes(), (cert_dir / "s.crt").read_bytes())],
                                        root_certificates=(cert_dir / "ca.crt").read_bytes(), require_client_auth=True)
    server.add_secure_port(f"127.0.0.1:{port}", creds)
    await server.start()
    print("ready", flush=True)
    await server.wait_for_termination()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _measure(port: int, cert_dir: Path, server_pid: int, exchanges: int) -> Floor:
    creds = grpc.ssl_channel_credentials((cert_dir / "ca.crt").read_bytes(), (cert_dir / "c.key").read_bytes(),
                                         (cert_dir / "c.crt").read_bytes())
    async with grpc.aio.secure_channel(f"localhost:{port}", creds) as channel:
        call = channel.stream_stream(METHOD, _identity, _identity)()
        for _ in range(200):  # warm-up
            await call.write(MESSAGE)
            await call.read()
        rtts = []
        for _ in range(exchanges):
            t = time.perf_counter()
            await call.write(MESSAGE)
            await call.read()
            rtts.append(time.perf_counter() - t)
        window = asyncio.Semaphore(8)

        async def reader() -> None:
            for _ in range(exchanges * 4):
                await call.read()
                window.release()

        cpu0 = time.process_time() + _cpu_seconds(server_pid)
        task = asyncio.ensure_future(reader())
        for _ in range(exchanges * 4):
            await window.acquire()
            await call.write(MESSAGE)
        await task
        cpu = time.process_time() + _cpu_seconds(server_pid) - cpu0
        await call.done_writing()
    return Floor(statistics.median(rtts) * 1000, cpu / (exchanges * 4) * 1000)


def _certificates() -> Path:
    cert_dir = Path(tempfile.mkdtemp(prefix="bench-floor-"))
    bundle, _ = asyncio.run(pki.load_or_create_ca(pki.MemoryCaStorage()))
    server_cert = pki.issue_server_certificate(bundle)
    client_cert = pki.issue_client_certificate(bundle, "bench-client")
    for name, data in (("ca.crt", bundle.trust_pem()), ("s.crt", server_cert.chain_pem), ("s.key", server_cert.key_pem),
                       ("c.crt", client_cert.chain_pem), ("c.key", client_cert.key_pem)):
        (cert_dir / name).write_bytes(data)
    return cert_dir


def grpc_floor(exchanges: int = 2000) -> Floor:
    """Start the echo server in a child process, measure from this one (in a fresh event loop)."""
    import uvloop

    from lattice_dev import free_port

    cert_dir = _certificates()
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "grpc", str(port), str(cert_dir)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        return uvloop.run(_measure(port, cert_dir, proc.pid, exchanges))
    finally:
        proc.kill()
        proc.wait()


_BODY = b'{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"bench"},"data":{"k":"v"}}' + b" " * 300
_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(_BODY), _BODY)


class _Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:  # GETs only: no bodies to frame
            _, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            self.transport.write(_RESPONSE)  # type: ignore[attr-defined]


async def _serve_https(port: int, cert_dir: Path) -> None:
    ctx = pki.server_ssl_context((cert_dir / "s.crt").read_bytes(), (cert_dir / "s.key").read_bytes(),
                                 (cert_dir / "ca.crt").read_bytes())
    server = await asyncio.get_running_loop().create_server(_Echo, "127.0.0.1", port, ssl=ctx)
    print("ready", flush=True)
    await server.serve_forever()


class HttpsEcho:
    """The minimal HTTPS server in a child process; `client_ctx` is a matching mTLS client context."""

    def __init__(self) -> None:
        from lattice_dev import free_port

        self.cert_dir = _certificates()
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, __file__, "https", str(self.port), str(self.cert_dir)],
                                     stdout=subprocess.PIPE)
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == b"ready"
        self.client_ctx = pki.client_ssl_context((self.cert_dir / "ca.crt").read_bytes(),
                                                 (self.cert_dir / "c.crt").read_bytes(),
                                                 (self.cert_dir / "c.key").read_bytes())

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


if __name__ == "__main__":
    import uvloop

    if sys.argv[1] == "https":
        uvloop.run(_serve_https(int(sys.argv[2]), Path(sys.argv[3])))
    else:
        uvloop.run(_serve(int(sys.argv[2]), Path(sys.argv[3])))
