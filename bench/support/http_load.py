"""A closed-loop HTTP load client for the benchmarks when wrk is not installed.

Several processes (each pinned to the client CPU when asked), each with a few threads, each
thread one keep-alive connection sending a pre-built request and timing it until the response
is complete (Content-Length). Slower than wrk, but the same client measures every endpoint of a
run, so ratios between endpoints stay meaningful.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import socket
import statistics
import threading
import time
from typing import Any, NamedTuple


class LoadResult(NamedTuple):
    rps: float
    p50: float  # seconds
    p99: float
    errors: int = 0

    @staticmethod
    def median(results: list[LoadResult]) -> LoadResult:
        return LoadResult(statistics.median(r.rps for r in results), statistics.median(r.p50 for r in results),
                          statistics.median(r.p99 for r in results), sum(r.errors for r in results))


def _request(path: str, body: bytes) -> bytes:
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def _read_response(sock: socket.socket, buf: bytearray) -> int:
    """Read one response; return its status code (the buffer keeps any extra bytes)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    head_end = buf.index(b"\r\n\r\n") + 4
    head = bytes(buf[:head_end]).decode("latin-1")
    status = int(head.split(" ", 2)[1])
    length = 0
    for line in head.split("\r\n")[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    while len(buf) < head_end + length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    del buf[: head_end + length]
    return status


def _worker(port: int, path: str, body: bytes, mark: bytes, changed: bool, base: int, threads: int,
            seconds: float, pin: bool, out: Any) -> None:
    if pin:
        os.sched_setaffinity(0, {1})
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def loop(slot: int) -> None:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = bytearray()
        mine: list[float] = []
        bad = 0
        n = 0
        fixed = _request(path, body.replace(mark, b"1"))
        while time.perf_counter() < stop:
            n += 1
            req = _request(path, body.replace(mark, b"%d%03d%09d" % (base, slot, n))) if changed else fixed
            t0 = time.perf_counter()
            sock.sendall(req)
            status = _read_response(sock, buf)
            mine.append(time.perf_counter() - t0)
            bad += status >= 300
        sock.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    ts = [threading.Thread(target=loop, args=(base * 100 + i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out.put((latencies, errors[0]))


def run_socket_client(port: int, path: str, body: bytes, mark: bytes, changed: bool, base: int,
                      connections: int, seconds: float, pin: bool) -> LoadResult:
    procs_n = max(1, min(4, connections))
    per = [connections // procs_n + (1 if i < connections % procs_n else 0) for i in range(procs_n)]
    queue: Any = mp.get_context("fork").Queue()
    procs = [mp.get_context("fork").Process(target=_worker, args=(port, path, body, mark, changed, base * 10 + i,
                                                                  n, seconds, pin, queue))
             for i, n in enumerate(per)]
    for p in procs:
        p.start()
    latencies: list[float] = []
    errors = 0
    for _ in procs:
        lat, err = queue.get()
        latencies += lat
        errors += err
    for p in procs:
        p.join()
    latencies.sort()
    if not latencies:
        return LoadResult(0.0, float("nan"), float("nan"), errors)
    return LoadResult(len(latencies) / seconds, latencies[len(latencies) // 2],
                      latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], errors)
