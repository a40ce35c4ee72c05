"""The largest LatticeService the limits allow, synced through a real ``lattice-hooks`` server.

    .venv/bin/python bench/hook_worst_case.py [--quick] [--syncs N]

Workload: ``bench/support/worst_case.py`` — a spec of just under 1 MiB with every count at its
limit (32 containers, 256 resources, 4,096 template references ...), and the 224 services it
calls as related objects (each accepting it), ~1.1 MB per request. The server is ``lattice-hooks``
as the manifests run it (pinned to CPU 0); the client (CPU 1) sends syncs one after the other,
each with a new resourceVersion so nothing is memoised, while a second thread asks ``/healthz``
every 5 ms.

Printed, with a baseline measured in the same run (the one-container service of
examples/services/ synced the same way, and ``/healthz`` while the server is idle):

* ``worst_case_sync_seconds`` — median wall time of one worst-case sync (target <= 1 s, well
  inside Metacontroller's 10 s hook timeout), and its ratio to the baseline sync;
* ``healthz_p99_ms_during_worst_case`` — p99 of ``/healthz`` while worst-case syncs run (target
  <= 50 ms), beside ``healthz_p99_ms_idle``;
* ``rss_mib_after_syncs`` — the server's RSS after ``syncs`` worst-case syncs (1,000; 40 with
  ``--quick``), beside its RSS after the first one: the memos are bounded by bytes, so it levels
  off instead of growing with every distinct version.
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from bench.support.http_load import pin
from bench.support.worst_case import peers, sync_body, worst_case_service

MARK = "__BENCH_RV__"
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server() -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    argv = [*pin(0), sys.executable, "-m", "hooks.server.main", "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning"]
    proc = subprocess.Popen(argv, cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("lattice-hooks did not start")


def rss_mib(pid: int) -> float:
    """VmRSS of the server (taskset execs python, so the pid is the same process)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Syncer:
    def __init__(self, port: int, template: bytes) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.template = template
        self.n = 0

    def sync(self) -> float:
        self.n += 1
        body = self.template.replace(MARK.encode(), str(10_000 + self.n).encode())
        started = time.perf_counter()
        self.conn.request("POST", "/hooks/latticeservice/sync", body, {"Content-Type": "application/json"})
        resp = self.conn.getresponse()
        data = resp.read()
        elapsed = time.perf_counter() - started
        if resp.status != 200:
            raise SystemExit(f"sync answered {resp.status}: {data[:300]!r}")
        phase = orjson.loads(data)["status"]["phase"]
        # Pending: compiled, its children not applied yet (this request observes none).
        if phase not in ("Ready", "Pending", "Compiling"):
            raise SystemExit(f"the worst case does not compile: {orjson.loads(data)['status']['message'][:500]}")
        return elapsed


class HealthProbe(threading.Thread):
    """GET /healthz every 5 ms on one keep-alive connection; latencies while `active` is set."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.active = threading.Event()
        self.stop = threading.Event()
        self.samples: list[float] = []

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self.stop.is_set():
            started = time.perf_counter()
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            if self.active.is_set():
                self.samples.append(time.perf_counter() - started)
            time.sleep(0.005)

    def take(self) -> list[float]:
        out, self.samples = self.samples, []
        return out


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0


def baseline_template() -> bytes:
    import yaml

    raw = yaml.safe_load((ROOT / "examples" / "services" / "redis.yaml").read_text())
    raw["metadata"].update(namespace=raw["metadata"].get("namespace", "default"), uid="uid-baseline",
                           generation=1, resourceVersion=MARK)
    return sync_body(raw, [])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a few syncs and 40 for the RSS (well under a minute)")
    p.add_argument("--syncs", type=int, default=None, help="worst-case syncs before the RSS is read")
    args = p.parse_args()
    timed = 5 if args.quick else 15
    syncs = args.syncs or (40 if args.quick else 1000)

    service = worst_case_service(resource_version=MARK)
    related = peers(service)
    template = sync_body(service, related)
    os.sched_setaffinity(0, {1}) if pin(1) else None
    print(f"request: worst-case LatticeService sync, {len(template):,} bytes "
          f"(spec {len(orjson.dumps(service['spec'])):,} bytes, {len(related)} related services)")
    proc, port = start_server()
    probe = HealthProbe(port)
    probe.start()
    try:
        base = Syncer(port, baseline_template())
        for _ in range(3):
            base.sync()
        baseline = statistics.median(base.sync() for _ in range(20))
        probe.active.set()
        time.sleep(1.0)
        idle = probe.take()
        worst = Syncer(port, template)
        first = worst.sync()
        rss_first = rss_mib(proc.pid)
        probe.take()
        times = [worst.sync() for _ in range(timed)]
        during = probe.take()
        probe.active.clear()
        for i in range(max(0, syncs - timed - 1)):
            worst.sync()
            if not args.quick and (i + 1) % 100 == 0:
                print(f"  {i + timed + 2} syncs, RSS {rss_mib(proc.pid):.0f} MiB", file=sys.stderr)
        rss_after = rss_mib(proc.pid)
    finally:
        probe.stop.set()
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    median = statistics.median(times)
    print(f"baseline (examples/services/redis.yaml) sync: median {baseline * 1e3:.1f} ms; "
          f"worst case: first {first:.3f} s, median {median:.3f} s, max {max(times):.3f} s over {timed}")
    print(f"healthz: idle p99 {p99(idle) * 1e3:.1f} ms ({len(idle)} probes), during worst-case syncs "
          f"p99 {p99(during) * 1e3:.1f} ms, max {max(during) * 1e3:.1f} ms ({len(during)} probes)")
    print(f"baseline_sync_seconds={baseline:.4f}")
    print(f"worst_vs_baseline_sync_ratio={median / baseline:.0f}")
    print(f"healthz_p99_ms_idle={p99(idle) * 1e3:.1f}")
    print(f"rss_mib_after_first_sync={rss_first:.0f}")
    print(f"syncs={syncs}")
    print(f"rss_mib_after_syncs={rss_after:.0f}")
    print(f"healthz_p99_ms_during_worst_case={p99(during) * 1e3:.1f}")
    print(f"worst_case_sync_seconds={median:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
