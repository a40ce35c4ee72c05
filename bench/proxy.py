"""The authenticated API proxy: latency, throughput, authorization cost, watch and exec, each with a
baseline measured in the same run.

    python bench/proxy.py [--quick]

Topology (real processes on loopback, tests/integration/fleet_procs.py): root lattice-cell (API
proxy) -> child lattice-operator -> grandchild lattice-agent, one kube-apiserver each, KWOK in the
grandchild, Hydra issuing the ID token the client presents (OIDC, verified by the proxy, cached).

* GET of a small ConfigMap on the child (proxy + 1 hop) vs the same GET sent directly to the child's
  API server as the same user (a client certificate for alice@example.com, whose RoleBinding the
  impersonated requests also meet); the same minimal keep-alive HTTP/1.1 client on both sides
  (bench/tunnel.py's), interleaved rounds, medians. Also the direct GET as the plane's admin
  (system:masters skips authorization) for reference.
* authz_cached_p50_us: the proxy's authentication (token cache) + Cedar decision (decision cache)
  per request, in process, with 100 statements in force; the uncached decision for reference.
* watch: N ConfigMaps on the grandchild, then a watch without resourceVersion through the proxy (two
  hops) and directly: the initial ADDED events per second; then objects created one by one and the
  time until each event arrives (p50/p99), both ways.
* exec: `kubectl exec -i <pod> -- cat` through the proxy and directly; a line written and read back,
  repeatedly (p50), over WebSocket (kubectl's default).

Prints, last: proxy_vs_direct_p50_ratio, proxy_vs_direct_throughput_ratio, authz_cached_p50_us,
watch_events_per_second (two hops), exec_roundtrip_ms_p50.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import select
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "bench"))

from fleet_procs import DEMO, Fleet, kwok_pod, prepare_access, start_fleet, wait_pod_running  # noqa: E402
from tunnel import Conn, latency, pct, throughput  # noqa: E402

import lattice_dev  # noqa: E402
from lattice_cedar import PolicySource, PolicyStore  # noqa: E402
from lattice_cell.proxy.authz import ClusterAuthorizer  # noqa: E402
from lattice_cell.proxy.identity import Identity  # noqa: E402

USER = "alice@example.com"


def reader_rbac(namespace: str) -> list[dict[str, object]]:
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": "bench-reader", "namespace": namespace},
         "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "bench-reader", "namespace": namespace},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "bench-reader"},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": USER}]},
    ]


# ---- GET: latency and throughput ----
async def get_rounds(fleet: Fleet, token: str, n: int, seconds: float, rounds: int,
                     conns: int) -> dict[str, list[float]]:
    child = fleet.planes["child"]
    path = "/api/v1/namespaces/default/configmaps/bench"
    proxy_ctx = ssl.create_default_context(cafile=str(fleet.ca_file()))
    port = fleet.root.api_proxy_port
    cert, key = child.issue_client_cert(USER)
    cert_dir = Path(tempfile.mkdtemp(prefix="bench-proxy-cert-"))
    (cert_dir / "c.crt").write_bytes(cert)
    (cert_dir / "c.key").write_bytes(key)
    user_ctx = ssl.create_default_context(cafile=str(child.ca_file))
    user_ctx.load_cert_chain(cert_dir / "c.crt", cert_dir / "c.key")
    admin_ctx = ssl.create_default_context(cafile=str(child.ca_file))
    child_port = int(child.server.rsplit(":", 1)[1])
    cases = {
        "proxy": (lambda: Conn("127.0.0.1", port, proxy_ctx, f"Authorization: Bearer {token}\r\n"),
                  f"/clusters/child{path}"),
        "direct": (lambda: Conn("127.0.0.1", child_port, user_ctx, ""), path),
        "direct_admin": (lambda: Conn("127.0.0.1", child_port, admin_ctx,
                                      f"Authorization: Bearer {child.token}\r\n"), path),
    }
    pids = {name: p.popen.pid for name, p in fleet.procs.items() if p.popen is not None and name in ("root", "child")}
    out: dict[str, list[float]] = {}
    for _ in range(rounds):
        for name, (make, target) in cases.items():
            samples = await latency(make, target, n)
            out.setdefault(f"{name}_p50_ms", []).append(pct(samples, 0.5))
            out.setdefault(f"{name}_p99_ms", []).append(pct(samples, 0.99))
            rate, _ = await throughput(make, target, conns, seconds, pids)
            out.setdefault(f"{name}_rps", []).append(rate)
    return out


# ---- the Cedar decision per request, in process ----
def authz_costs(n: int) -> dict[str, float]:
    """AccessCluster with 100 statements in force: a decision-cache hit (every request after a
    caller's first, until a CedarPolicy or the subtree changes) and a miss (cedarpy evaluation)."""
    statements = [f'permit(principal == Lattice::User::"user{i}@example.com", '
                  f'action == Lattice::Action::"AccessCluster", resource);' for i in range(99)]
    statements.append(f'permit(principal == Lattice::User::"{USER}", action == Lattice::Action::"AccessCluster", '
                      'resource);')
    authz = ClusterAuthorizer(PolicyStore.from_sources([PolicySource("bench", 0, "\n".join(statements))]))
    who = Identity(USER, ("platform", "system:authenticated"), method="oidc:bench")
    labels = {"lattice.dev/environment": "prod"}

    def cached() -> None:
        assert authz.decide(who, "child", labels).allowed

    def uncached() -> None:
        authz.invalidate()
        assert authz.decide(who, "child", labels).allowed

    result = {}
    for name, fn in (("cached", cached), ("uncached", uncached)):
        samples = []
        for _ in range(n):
            t = time.perf_counter_ns()
            fn()
            samples.append((time.perf_counter_ns() - t) / 1000)
        result[name] = statistics.median(samples)
    return result


# ---- watch through two hops ----
async def watch_burst(host: str, port: int, ctx: ssl.SSLContext, headers: str, path: str, expected: int) -> float:
    """Seconds from the request until `expected` ADDED events arrived."""
    reader, writer = await asyncio.open_connection(host, port, ssl=ctx, server_hostname="localhost")
    start = time.perf_counter()
    writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n{headers}\r\n".encode())
    await reader.readuntil(b"\r\n\r\n")
    events, buffer = 0, b""
    while events < expected:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        if size == 0:
            raise RuntimeError(f"watch ended after {events} of {expected} events")
        buffer += (await reader.readexactly(size + 2))[:-2]
        events += buffer.count(b"\n")
        buffer = buffer[buffer.rfind(b"\n") + 1:]
    elapsed = time.perf_counter() - start
    writer.close()
    return elapsed


async def watch_latency(fleet: Fleet, host: str, port: int, ctx: ssl.SSLContext, headers: str, path: str,
                        count: int) -> list[float]:
    """Create objects one by one (directly on the grandchild) and time each event's arrival."""
    import httpx

    leaf = fleet.planes["grandchild"]
    reader, writer = await asyncio.open_connection(host, port, ssl=ctx, server_hostname="localhost")
    # Only the objects made here match: no initial flood of the bulk objects.
    writer.write(f"GET {path}&labelSelector=bench%3Dlatency HTTP/1.1\r\nHost: localhost\r\n{headers}\r\n".encode())
    await reader.readuntil(b"\r\n\r\n")
    samples = []
    async with httpx.AsyncClient(base_url=leaf.server, verify=leaf.ssl_context(),
                                 headers={"Authorization": f"Bearer {leaf.token}"}) as api:
        for i in range(count):
            name = f"lat-{port}-{i}-{time.monotonic_ns()}"
            t = time.perf_counter()
            await api.post("/api/v1/namespaces/bench/configmaps",
                           json={"metadata": {"name": name, "labels": {"bench": "latency"}}})
            while True:
                size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await reader.readexactly(size + 2)
                if name.encode() in chunk:
                    break
            samples.append(time.perf_counter() - t)
    writer.close()
    return samples


def create_configmaps(fleet: Fleet, count: int) -> None:
    leaf = fleet.planes["grandchild"]
    leaf.kubectl("create", "namespace", "bench", check=False)
    leaf.apply(reader_rbac("bench"))
    items = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"w{i:05d}", "namespace": "bench"},
              "data": {"k": "v" * 64}} for i in range(count)]
    for start in range(0, count, 500):
        leaf.kubectl("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                             "items": items[start:start + 500]}), timeout=300)


async def watch_cases(fleet: Fleet, token: str, count: int, latency_samples: int,
                      rounds: int) -> dict[str, list[float]]:
    leaf = fleet.planes["grandchild"]
    path = "/api/v1/namespaces/bench/configmaps?watch=true"
    proxy_ctx = ssl.create_default_context(cafile=str(fleet.ca_file()))
    leaf_ctx = leaf.ssl_context()
    leaf_port = int(leaf.server.rsplit(":", 1)[1])
    cases = {
        "proxy": ("127.0.0.1", fleet.root.api_proxy_port, proxy_ctx, f"Authorization: Bearer {token}\r\n",
                  f"/clusters/grandchild{path}"),
        "direct": ("127.0.0.1", leaf_port, leaf_ctx, f"Authorization: Bearer {leaf.token}\r\n", path),
    }
    out: dict[str, list[float]] = {}
    for _ in range(rounds):
        for name, (host, port, ctx, headers, target) in cases.items():
            seconds = await watch_burst(host, port, ctx, headers, target, count)
            out.setdefault(f"{name}_events_per_second", []).append(count / seconds)
    for name, (host, port, ctx, headers, target) in cases.items():
        samples = await watch_latency(fleet, host, port, ctx, headers, target, latency_samples)
        out[f"{name}_event_latency_p50_ms"] = [pct(samples, 0.5)]
        out[f"{name}_event_latency_p99_ms"] = [pct(samples, 0.99)]
    return out


# ---- exec round trips ----
def exec_roundtrips(fleet: Fleet, kubeconfig: Path, n: int) -> list[float]:
    proc = subprocess.Popen([str(fleet.bin_dir / "kubectl"), f"--kubeconfig={kubeconfig}", "-n", DEMO, "exec", "-i",
                             "bench-exec", "--", "cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env={**os.environ,
                                                            "KUBECACHEDIR": str(fleet.workdir / "kube-cache")})
    assert proc.stdin is not None and proc.stdout is not None
    fd = proc.stdout.fileno()
    samples = []
    try:
        for i in range(n + 5):
            line = f"ping {i}\n".encode()
            t = time.perf_counter()
            proc.stdin.write(line)
            proc.stdin.flush()
            got = b""
            while not got.endswith(b"\n"):
                ready, _, _ = select.select([fd], [], [], 20)
                if not ready:
                    raise RuntimeError("exec echo timed out")
                got += os.read(fd, 4096)
            if i >= 5:  # warm-up
                samples.append(time.perf_counter() - t)
            assert got == line, got
    finally:
        proc.kill()
        proc.wait(10)
    return samples


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer requests and objects")
    ap.add_argument("--rounds", type=int)
    args = ap.parse_args()
    quick = args.quick
    n, seconds, rounds = (200, 2.0, 3) if quick else (1000, 4.0, 5)
    rounds = args.rounds or rounds
    watch_objects, watch_latency_n, exec_n = (2000, 50, 30) if quick else (5000, 200, 100)

    bin_dir = lattice_dev.build_in_checkout(ROOT)
    work = Path(tempfile.mkdtemp(prefix="bench-proxy-"))
    t0 = time.monotonic()
    fleet = start_fleet(work, bin_dir)
    try:
        prepare_access(fleet)
        fleet.planes["child"].kubectl("create", "configmap", "bench", "-n", "default", "--from-literal=k=v")
        fleet.planes["child"].apply(reader_rbac("default"))
        leaf = fleet.planes["grandchild"]
        leaf.apply(kwok_pod("bench-exec"))
        wait_pod_running(leaf, "bench-exec")
        token = fleet.hydra.id_token("alice", {"email": USER, "groups": ["platform"]})
        create_configmaps(fleet, watch_objects)
        print(f"fleet ready in {time.monotonic() - t0:.1f}s", file=sys.stderr)

        got = asyncio.run(get_rounds(fleet, token, n, seconds, rounds, 8))
        med = {k: statistics.median(v) for k, v in got.items()}
        costs = authz_costs(20000 if not quick else 5000)
        watch = asyncio.run(watch_cases(fleet, token, watch_objects, watch_latency_n, rounds))
        wmed = {k: statistics.median(v) for k, v in watch.items()}
        exec_proxy = exec_roundtrips(fleet, fleet.kubeconfig("alice", token), exec_n)
        exec_direct = exec_roundtrips(fleet, leaf.kubeconfig, exec_n)
    finally:
        fleet.stop()

    for key in ("proxy", "direct", "direct_admin"):
        spread = got[f"{key}_p50_ms"]
        print(f"get_{key}_p50_ms={med[f'{key}_p50_ms']:.3f} (rounds {min(spread):.3f}-{max(spread):.3f}) "
              f"p99_ms={med[f'{key}_p99_ms']:.3f} rps={med[f'{key}_rps']:.0f}")
    print(f"proxy_vs_direct_admin_p50_ratio={med['proxy_p50_ms'] / med['direct_admin_p50_ms']:.2f}")
    print(f"authz_uncached_p50_us={costs['uncached']:.1f}")
    for key in ("proxy", "direct"):
        print(f"watch_{key}_events_per_second={wmed[f'{key}_events_per_second']:.0f} "
              f"event_latency_p50_ms={wmed[f'{key}_event_latency_p50_ms']:.2f} "
              f"p99_ms={wmed[f'{key}_event_latency_p99_ms']:.2f}")
    print(f"exec_roundtrip_direct_ms_p50={pct(exec_direct, 0.5):.2f} p99={pct(exec_direct, 0.99):.2f}")
    print(f"watch_event_latency_p99_ms={wmed['proxy_event_latency_p99_ms']:.2f} "
          f"(direct {wmed['direct_event_latency_p99_ms']:.2f})")
    print(f"proxy_vs_direct_p50_ratio={med['proxy_p50_ms'] / med['direct_p50_ms']:.2f}")
    print(f"proxy_vs_direct_throughput_ratio={med['proxy_rps'] / med['direct_rps']:.2f}")
    print(f"authz_cached_p50_us={costs['cached']:.1f}")
    print(f"watch_events_per_second={wmed['proxy_events_per_second']:.0f} "
          f"(direct {wmed['direct_events_per_second']:.0f})")
    print(f"exec_roundtrip_ms_p50={pct(exec_proxy, 0.5):.2f} (direct {pct(exec_direct, 0.5):.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
