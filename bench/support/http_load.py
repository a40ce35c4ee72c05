"""Load generation for the HTTP benchmarks: wrk (installed with apt-get when missing and root),
else a closed-loop multi-process socket client.

The socket client:
several processes (each pinned to the client CPU when asked), each with a few threads, each
thread one keep-alive connection sending a pre-built request and timing it until the response
is complete (Content-Length). Slower than wrk, but the same client measures every endpoint of a
run, so ratios between endpoints stay meaningful.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import re
import shutil
import socket
import statistics
import subprocess
import threading
import time
from pathlib import Path
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
            seconds: float, pinned: bool, out: Any) -> None:
    if pinned:
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
                      connections: int, seconds: float, pinned: bool) -> LoadResult:
    procs_n = max(1, min(4, connections))
    per = [connections // procs_n + (1 if i < connections % procs_n else 0) for i in range(procs_n)]
    queue: Any = mp.get_context("fork").Queue()
    procs = [mp.get_context("fork").Process(target=_worker, args=(port, path, body, mark, changed, base * 10 + i,
                                                                  n, seconds, pinned, queue))
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


def pin(cpu: int) -> list[str]:
    """A ``taskset`` prefix pinning a command to ``cpu`` (nothing on a single-CPU machine)."""
    if (os.cpu_count() or 1) < 2 or shutil.which("taskset") is None:
        return []
    return ["taskset", "-c", str(cpu)]


def ensure_wrk(quick: bool) -> str | None:
    """wrk's path; when missing and running as root, try apt-get (install, else update + install)."""
    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "wrk"]
    for cmds in ([install], [["apt-get", "update", "-qq"], install]):
        try:
            for cmd in cmds:
                subprocess.run(cmd, env=env, capture_output=True, timeout=15 if quick else 180, check=True)
        except (subprocess.SubprocessError, OSError):
            continue
        if shutil.which("wrk"):
            break
    return shutil.which("wrk")


_LUA = """
local f = io.open("{path}", "rb")
local body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local mark = "{mark}"
local at = string.find(body, mark, 1, true)
local changed = {changed}
local prefix, suffix = body, ""
if at then prefix = string.sub(body, 1, at - 1); suffix = string.sub(body, at + #mark) end
local n = {base}
if at then wrk.body = prefix .. "1" .. suffix else wrk.body = body; changed = false end
request = function()
  if changed then
    n = n + 1
    return wrk.format(nil, nil, nil, prefix .. n .. suffix)
  end
  return wrk.format()
end
"""

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def run_wrk(wrk: str, url: str, body_file: Path, mark: bytes, changed: bool, base: int, conns: int,
            seconds: float, workdir: Path) -> LoadResult:
    """One wrk run; with ``changed`` every request gets a new number in place of ``mark``."""
    script = workdir / f"load-{base}.lua"
    script.write_text(_LUA.format(path=body_file, mark=mark.decode(), changed="true" if changed else "false",
                                  base=base))
    cmd = [*pin(1), wrk, "-t1", f"-c{conns}", f"-d{max(1, round(seconds))}s", "--latency", "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    pct = {int(p): float(v) * _UNITS[u] for p, v, u in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return LoadResult(rps, pct[50], pct[99], int(errors.group(1)) if errors else 0)
