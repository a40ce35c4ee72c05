"""GET of a small object through the read-only CAPI proxy + tunnel vs directly to the same apiserver.

    python bench/tunnel.py [--quick]

Topology (all real processes on loopback, real mTLS, one kube-apiserver per cluster):
    client -> root lattice-cell (CAPI proxy :8081) -> gRPC -> mid (lattice-operator: cell + agent) -> mid apiserver
                                                            -> mid -> gRPC -> leaf lattice-agent -> leaf apiserver
"one hop" = the object on `mid`'s apiserver; "two hops" = on `leaf`'s apiserver. Each is compared
with a direct GET to that same apiserver in the same run, with the same minimal HTTP/1.1 client
(keep-alive, TLS), so client cost is identical on both sides. Latency: one connection, sequential,
after a warm-up. Throughput: N connections in one asyncio process for a fixed time, after a 1 s
warm-up. All processes share the 2 cores and the machine is shared, so the cases are measured in
interleaved rounds (direct, tunnel, direct, tunnel, ...) and every figure is the median over the
rounds (the min-max range is printed too). `--client-cpu N` pins the load generator to one CPU
(it then serves direct and tunnel alike).
During each throughput run the CPU of every process on the path is read from /proc, giving
CPU milliseconds per request for the API server, etcd, the cells/agents and the client. Floors
with no Lattice code are measured in the same run (bench/support/floors.py): a bare grpc.aio mTLS
echo stream between two Python processes, and a minimal CPython HTTPS server. The budget line
says how much CPU per request the cell and agent may use at all if the tunnel is to reach 0.6x
the direct rate on this machine; the latency-floor line adds the floors to the direct p50.
Without --quick (or with --same-identity) a fifth case GETs directly as the identity the tunnel's
last hop impersonates for the CAPI proxy (read-only, RBAC-evaluated; admin short-circuits
authorization), so the API server's cost of that identity is visible on its own.
Prints, last: tunnel_vs_direct_p50_ratio=<r> and tunnel_vs_direct_throughput_ratio=<r> (one hop).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "bench"))

from support import floors  # noqa: E402
from tunnel_procs import Proc, bootstrap, start_agent, start_cell, start_operator  # noqa: E402

import lattice_dev  # noqa: E402
from lattice_cell.capi_proxy import CAPI_GROUPS, CAPI_USER  # noqa: E402
from lattice_tunnel import pki  # noqa: E402


class Conn:
    """A tiny keep-alive HTTP/1.1 GET client over TLS (httpx would dominate the measurement)."""

    def __init__(self, host: str, port: int, ctx: ssl.SSLContext, headers: str) -> None:
        self.host, self.port, self.ctx, self.headers = host, port, ctx, headers
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port, ssl=self.ctx,
                                                                 server_hostname="localhost")

    async def get(self, path: str) -> tuple[int, bytes]:
        assert self.reader is not None and self.writer is not None
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
                          f"{self.headers}\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        fields = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
        if "content-length" in fields:
            body = await self.reader.readexactly(int(fields["content-length"]))
        else:  # chunked
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(chunk[:-2])
            body = b"".join(parts)
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def latency(make: callable, path: str, n: int) -> list[float]:  # type: ignore[valid-type]
    conn = make()
    await conn.open()
    for _ in range(max(20, n // 10)):  # warm-up
        await conn.get(path)
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        status, _ = await conn.get(path)
        samples.append(time.perf_counter() - t)
        assert status == 200, status
    conn.close()
    return samples


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def throughput(make: callable, path: str, conns: int, seconds: float,  # type: ignore[valid-type]
                     pids: dict[str, int]) -> tuple[float, dict[str, float]]:
    """Requests/s, and CPU ms per request of each process in `pids` and of this client."""
    clients = [make() for _ in range(conns)]
    await asyncio.gather(*(c.open() for c in clients))
    done = 0
    stop = time.perf_counter() + seconds

    async def loop(c: Conn) -> None:
        nonlocal done
        while time.perf_counter() < stop:
            status, _ = await c.get(path)
            assert status == 200, status
            done += 1

    warm = time.perf_counter() + 1.0  # warm-up: TLS sessions, pools, caches on every hop
    await asyncio.gather(*(_until(c, path, warm) for c in clients))
    stop = time.perf_counter() + seconds
    cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()} | {"client": time.process_time()}
    start = time.perf_counter()
    await asyncio.gather(*(loop(c) for c in clients))
    elapsed = time.perf_counter() - start
    cpu1 = {name: cpu_seconds(pid) for name, pid in pids.items()} | {"client": time.process_time()}
    for c in clients:
        c.close()
    return done / elapsed, {name: (cpu1[name] - cpu0[name]) * 1000 / done for name in cpu0}


async def _until(c: Conn, path: str, deadline: float) -> None:
    while time.perf_counter() < deadline:
        await c.get(path)


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer requests (under a minute in total)")
    ap.add_argument("--requests", type=int, help="sequential requests per latency run")
    ap.add_argument("--seconds", type=float, help="duration of each throughput run")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--rounds", type=int, help="interleaved rounds; figures are medians over them")
    ap.add_argument("--client-cpu", type=int, help="pin the load generator to this CPU")
    ap.add_argument("--one-hop", action="store_true", help="skip the two-hop cases")
    ap.add_argument("--same-identity", action=argparse.BooleanOptionalAction, default=None,
                    help="also GET directly as the CAPI proxy's read-only identity (default: on without --quick)")
    args = ap.parse_args()
    n = args.requests or (300 if args.quick else 1000)
    seconds = args.seconds or (2.0 if args.quick else 4.0)
    rounds = args.rounds or (3 if args.quick else 5)
    if args.client_cpu is not None:
        os.sched_setaffinity(0, {args.client_cpu})

    bin_dir = lattice_dev.build_in_checkout(ROOT)
    work = Path(tempfile.mkdtemp(prefix="bench-tunnel-"))
    planes: list[lattice_dev.ControlPlane] = []
    procs: list[Proc] = []
    try:
        for name in ("root", "mid", "leaf"):
            planes.append(lattice_dev.ControlPlane.start(work / f"cp-{name}", controller_manager=False,
                                                        upstream_crds=False, bin_dir=bin_dir))
        root = start_cell("root", planes[0], work)
        procs.append(root)
        bootstrap(root, "mid", planes[1])
        mid = start_operator("mid", planes[1], work)
        procs.append(mid)
        bootstrap(mid, "leaf", planes[2])
        procs.append(start_agent(planes[2], work, "leaf"))
        root.wait(lambda c: c.reachable("leaf"), 60, "routing to leaf")  # type: ignore[attr-defined]
        for cp in planes[1:]:
            cp.kubectl("create", "configmap", "bench", "-n", "default", "--from-literal=k=v")

        bundle = root.ca_bundle()
        leaf_cert = pki.issue_client_certificate(bundle, "bench-client")
        proxy_ctx = pki.client_ssl_context(bundle.trust_pem(), leaf_cert.chain_pem, leaf_cert.key_pem)
        path = "/api/v1/namespaces/default/configmaps/bench"

        def direct(cp: lattice_dev.ControlPlane, extra: str = "") -> callable:  # type: ignore[valid-type]
            ctx = ssl.create_default_context(cafile=str(cp.ca_file))
            port = int(cp.server.rsplit(":", 1)[1])
            return lambda: Conn("127.0.0.1", port, ctx, f"Authorization: Bearer {cp.token}\r\n{extra}")

        # The tunnel's last hop impersonates the CAPI proxy identity, which the child's RBAC
        # evaluates (read-only ClusterRole); admin short-circuits authorization. This case shows
        # what that identity costs the API server by itself.
        as_capi = "".join([f"Impersonate-User: {CAPI_USER}\r\n", *(f"Impersonate-Group: {g}\r\n" for g in CAPI_GROUPS)])

        def tunnel() -> Conn:
            return Conn("127.0.0.1", root.proxy_port, proxy_ctx, "")

        def go(cp: lattice_dev.ControlPlane) -> dict[str, int]:
            return {name: cp.processes[name].pid for name in ("kube-apiserver", "etcd")}

        hops = {"root-cell": procs[0].popen.pid, "mid-cell+agent": procs[1].popen.pid}  # type: ignore[union-attr]
        cases = [("direct-1hop", direct(planes[1]), path, go(planes[1])),
                 ("tunnel-1hop", tunnel, f"/clusters/mid{path}", go(planes[1]) | hops)]
        if args.same_identity or (args.same_identity is None and not args.quick):
            cases.append(("direct-1hop-as-capi", direct(planes[1], as_capi), path, go(planes[1])))
        if not args.one_hop:
            leaf_pid = {"leaf-agent": procs[2].popen.pid}  # type: ignore[union-attr]
            cases += [("direct-2hop", direct(planes[2]), path, go(planes[2])),
                      ("tunnel-2hop", tunnel, f"/clusters/leaf{path}", go(planes[2]) | hops | leaf_pid)]
        runs: dict[str, list[tuple[float, float, float]]] = {label: [] for label, _, _, _ in cases}
        cpu: dict[str, list[dict[str, float]]] = {label: [] for label, _, _, _ in cases}
        floor = floors.grpc_floor(300 if args.quick else 2000)
        echo = floors.HttpsEcho()
        try:
            https_rtt = pct(asyncio.run(latency(lambda: Conn("127.0.0.1", echo.port, echo.client_ctx, ""), "/x",
                                                n)), 0.5)
        finally:
            echo.close()
        for r in range(rounds):
            for label, make, p, pids in cases:
                samples = asyncio.run(latency(make, p, n))
                rps, per_request = asyncio.run(throughput(make, p, args.connections, seconds, pids))
                runs[label].append((pct(samples, 0.5), pct(samples, 0.99), rps))
                cpu[label].append(per_request)
                print(f"round {r + 1}/{rounds} {label:12s} p50={pct(samples, 0.5):.2f}ms "
                      f"p99={pct(samples, 0.99):.2f}ms requests/s={rps:.0f}", flush=True)
        med: dict[str, tuple[float, float, float]] = {}
        for label, rs in runs.items():
            cols = list(zip(*rs, strict=True))
            med[label] = (statistics.median(cols[0]), statistics.median(cols[1]), statistics.median(cols[2]))
            print(f"{label:12s} p50={med[label][0]:.2f}ms ({min(cols[0]):.2f}-{max(cols[0]):.2f}) "
                  f"p99={med[label][1]:.2f}ms ({min(cols[1]):.2f}-{max(cols[1]):.2f}) "
                  f"requests/s={med[label][2]:.0f} ({min(cols[2]):.0f}-{max(cols[2]):.0f}) "
                  f"[median of {rounds} rounds; n={n} sequential, {args.connections} connections x {seconds:g}s]")
        cpu_med = {label: {k: statistics.median(d[k] for d in ds) for k in ds[0]} for label, ds in cpu.items()}
        for label, per in cpu_med.items():
            print(f"# CPU ms per request, {label:12s} " + " ".join(f"{k}={v:.3f}" for k, v in per.items())
                  + f" (total {sum(per.values()):.3f})")
        print(f"# gRPC floor (bare mTLS echo stream between two Python processes, same run): "
              f"round trip p50={floor.rtt_p50_ms:.3f}ms, CPU {floor.cpu_per_exchange_ms:.3f}ms per exchange")
        cores = len(os.sched_getaffinity(0))
        direct_rps = med["direct-1hop"][2]
        go_and_client = sum(cpu_med["direct-1hop"].values())
        budget = cores / (0.6 * direct_rps) * 1000 - go_and_client
        used = cpu_med["tunnel-1hop"]["root-cell"] + cpu_med["tunnel-1hop"]["mid-cell+agent"]
        print(f"# budget: 0.6x the direct rate ({0.6 * direct_rps:.0f}/s) on {cores} CPUs leaves at most "
              f"{budget:.3f}ms of CPU per request for the cell and agent together (API server, etcd and client "
              f"at their direct-run cost); they use {used:.3f}ms, the gRPC exchange alone "
              f"{floor.cpu_per_exchange_ms:.3f}ms")
        d50 = med["direct-1hop"][0]
        print(f"# minimal CPython HTTPS server (uvloop + TLS, fixed response, same client, same run): "
              f"p50={https_rtt:.3f}ms")
        grpc_only, with_https = d50 + floor.rtt_p50_ms, d50 + floor.rtt_p50_ms + https_rtt
        print(f"# latency floor: direct p50 + gRPC round trip = {grpc_only:.2f}ms (ratio {grpc_only / d50:.2f}); "
              f"+ one minimal HTTPS leg = {with_https:.2f}ms (ratio {with_https / d50:.2f}), before any routing")
        if "direct-1hop-as-capi" in med:
            same = med["direct-1hop-as-capi"]
            print(f"# same identity: direct GET as {CAPI_USER} ({', '.join(CAPI_GROUPS)}) p50={same[0]:.2f}ms "
                  f"requests/s={same[2]:.0f}; tunnel vs that: p50 ratio {med['tunnel-1hop'][0] / same[0]:.2f}, "
                  f"throughput ratio {med['tunnel-1hop'][2] / same[2]:.2f}")
        for hops in (() if args.one_hop else ("2hop",)) + ("1hop",):
            d, t = runs[f"direct-{hops}"], runs[f"tunnel-{hops}"]
            p50 = [tt[0] / dd[0] for dd, tt in zip(d, t, strict=True)]
            thr = [tt[2] / dd[2] for dd, tt in zip(d, t, strict=True)]
            suffix = "" if hops == "1hop" else "_2hop"
            dm, tm = med[f"direct-{hops}"], med[f"tunnel-{hops}"]
            print(f"# {hops} per-round ratios: p50 {min(p50):.2f}-{max(p50):.2f}, "
                  f"throughput {min(thr):.2f}-{max(thr):.2f}")
            print(f"tunnel_vs_direct_p50_ratio{suffix}={tm[0] / dm[0]:.2f}")
            print(f"tunnel_vs_direct_throughput_ratio{suffix}={tm[2] / dm[2]:.2f}")
    finally:
        for p in procs:
            p.kill()
        for cp in planes:
            cp.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
