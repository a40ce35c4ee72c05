"""The LatticeService sync hook over HTTP, beside a trivial Starlette echo endpoint.

    .venv/bin/python bench/hook_http.py [--quick] [--concurrency N] [--duration S] [--rounds R]

Workload: one typical service (``checkout``: 10 children — Deployment, Service, ServiceAccount,
HPA, ConfigMap, ExternalSecret, CiliumNetworkPolicy, two AuthorizationPolicies, EnvoyFilter) with
its three peers and a CedarPolicy as related objects, and its 10 children as observed children
(uid, resourceVersion, ownerReference, last-applied annotation), shaped exactly like a
Metacontroller v2 sync request. One uvicorn process (the same settings as ``lattice-hooks``,
pinned to CPU 0) serves both the hook app and ``POST /echo``, which decodes the same body with
orjson and returns it re-encoded. The load generator (pinned to CPU 1) is wrk when present (it is
installed with apt-get when running as root), else a multi-process raw-socket client.

Three measurements, in the same run, closed loop with N connections:
* echo — the baseline: HTTP + JSON of the same body;
* sync (steady) — the same request again and again: what Metacontroller sends when a child's
  status changes (an HPA every 15 s, a Deployment rolling) — parse and compile are memoised by
  resourceVersion;
* sync (changed) — a new parent resourceVersion on every request: full parse and compile.

Last lines: ``cold_syncs_per_second`` and ``cold_hook_vs_echo_p50_ratio`` (changed), then
``syncs_per_second`` and, last, ``hook_vs_echo_p50_ratio`` (steady p50 / echo p50, target <= 2.0).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from bench.support.http_load import LoadResult, ensure_wrk, pin, run_socket_client, run_wrk

MARK = b"__BENCH_RV__"

SCENARIO = """
apiVersion: lattice.dev/v1alpha1
kind: LatticeService
metadata: {name: checkout, namespace: shop}
spec:
  containers:
    main:
      image: shop/checkout:1.4.2
      variables:
        PAYMENTS_URL: ${resources.payments.url}
        INVENTORY_URL: ${resources.inventory.url}
        DB_PASSWORD: ${resources.db.password}
        LOG_LEVEL: info
      files:
        /etc/checkout/config.yaml:
          content: |
            payments: ${resources.payments.url}
            inventory: ${resources.inventory.url}
      resources:
        requests: {cpu: 200m, memory: 256Mi}
        limits: {memory: 512Mi}
      readinessProbe:
        httpGet: {path: /ready, port: 8080}
  service:
    ports:
      http: {port: 8080}
  resources:
    payments: {type: service, direction: outbound, outbound: {timeout: {request: 5s}}}
    inventory: {type: service, direction: outbound}
    web: {type: service, direction: inbound, inbound: {rateLimit: {requestsPerInterval: 100, intervalSeconds: 1}}}
    db:
      type: secret
      id: shop/checkout/db
      params: {provider: vault, keys: [username, password]}
  replicas: {min: 2, max: 6}
---
apiVersion: lattice.dev/v1alpha1
kind: LatticeService
metadata: {name: payments, namespace: shop}
spec:
  containers: {main: {image: shop/payments:2.0.0}}
  service: {ports: {http: {port: 8080}}}
  resources: {checkout: {type: service, direction: inbound}}
---
apiVersion: lattice.dev/v1alpha1
kind: LatticeService
metadata: {name: inventory, namespace: shop}
spec:
  containers: {main: {image: shop/inventory:3.1.0}}
  service: {ports: {grpc: {port: 9090}}}
  resources: {checkout: {type: service, direction: inbound}}
---
apiVersion: lattice.dev/v1alpha1
kind: LatticeService
metadata: {name: web, namespace: shop}
spec:
  containers: {main: {image: shop/web:5.0.0}}
  service: {ports: {http: {port: 3000}}}
  resources: {checkout: {type: service, direction: outbound}}
---
apiVersion: lattice.dev/v1alpha1
kind: CedarPolicy
metadata: {name: shop-secrets, namespace: lattice-system}
spec:
  policies: |
    permit(principal, action == Lattice::Action::"AccessSecret", resource)
    when { principal.namespace == "shop" && resource.path like "shop/*" };
"""


# ---- the request ------------------------------------------------------------------------------


def _observed(child: dict[str, Any], parent: dict[str, Any], i: int) -> dict[str, Any]:
    """A child as Metacontroller's informer has it after creating it."""
    out: dict[str, Any] = orjson.loads(orjson.dumps(child))
    meta = out["metadata"]
    meta.setdefault("namespace", parent["metadata"]["namespace"])
    meta.setdefault("annotations", {})["metacontroller.k8s.io/last-applied-configuration"] = (
        orjson.dumps(child).decode())
    meta["labels"]["controller-uid"] = parent["metadata"]["uid"]
    meta.update(uid=f"child-{i:04d}", resourceVersion=str(5000 + i), generation=1,
                creationTimestamp="2026-01-01T00:00:00Z")
    meta["ownerReferences"] = [{"apiVersion": parent["apiVersion"], "kind": parent["kind"],
                                "name": parent["metadata"]["name"], "uid": parent["metadata"]["uid"],
                                "controller": True, "blockOwnerDeletion": True}]
    if out["kind"] == "Deployment":
        out["status"] = {"observedGeneration": 1, "replicas": 2, "readyReplicas": 2, "availableReplicas": 2}
    return out


def sync_request() -> tuple[bytes, int, int]:
    """(body with MARK in place of the parent's resourceVersion, children, related objects)."""
    import yaml

    from hooks import simulator, wire
    from hooks.controllers import latticeservice
    from hooks.controllers.definition import HookConfig
    from hooks.controllers_manifest import composite_object

    cfg = HookConfig()
    objects = simulator.normalise(list(yaml.safe_load_all(SCENARIO)))
    for i, obj in enumerate(objects):
        obj["metadata"].update(uid=f"uid-{i:04d}", resourceVersion=str(1000 + i), generation=1)
    parent = objects[0]
    related = simulator.related_for(latticeservice.CONTROLLER, parent, objects, cfg)
    first = latticeservice.CONTROLLER.run_sync(wire.SyncRequest(parent=parent, related=related), cfg).response
    children: dict[str, dict[str, Any]] = {}
    for i, child in enumerate(first.children):
        obs = _observed(child, parent, i)
        children.setdefault(wire.group_key(obs["apiVersion"], obs["kind"]), {})[wire.object_key(obs)] = obs
    parent = {**parent, "metadata": {**parent["metadata"], "resourceVersion": MARK.decode()},
              "status": first.status}
    body = {"controller": composite_object(latticeservice.CONTROLLER, "http://127.0.0.1"), "parent": parent,
            "children": children, "related": related, "finalizing": False}
    n_related = sum(len(v) for v in related.values())
    return orjson.dumps(body), len(first.children), n_related


# ---- the server -------------------------------------------------------------------------------


def serve(port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Mount, Route

    from hooks.server.app import create_app
    from hooks.server.main import KEEP_ALIVE_SECONDS, http_implementation

    async def echo(request: Request) -> Response:
        return Response(orjson.dumps(orjson.loads(await request.body())), media_type="application/json")

    app = Starlette(routes=[Route("/echo", echo, methods=["POST"]), Mount("/", app=create_app())])
    uvicorn.run(app, host="127.0.0.1", port=port, http=http_implementation(), loop="asyncio",
                lifespan="off", access_log=False, log_level="warning", timeout_keep_alive=KEEP_ALIVE_SECONDS)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server() -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    proc = subprocess.Popen([*pin(0), sys.executable, __file__, "--serve", str(port)], start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("bench server did not start")


# ---- the load ---------------------------------------------------------------------------------


def measure(name: str, path: str, body: bytes, changed: bool, args: argparse.Namespace, port: int,
            wrk: str | None, workdir: Path, base: int) -> LoadResult:
    url = f"http://127.0.0.1:{port}{path}"
    if wrk is not None:
        body_file = workdir / "body.json"
        body_file.write_bytes(body)
        run_wrk(wrk, url, body_file, MARK, changed, base * 10_000_000, args.concurrency, args.warmup, workdir)
        return run_wrk(wrk, url, body_file, MARK, changed, base * 10_000_000 + 5_000_000, args.concurrency,
                       args.duration, workdir)
    run_socket_client(port, path, body, MARK, changed, base, args.concurrency, args.warmup, pin(1) != [])
    return run_socket_client(port, path, body, MARK, changed, base + 1, args.concurrency, args.duration,
                             pin(1) != [])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="one short round (well under a minute)")
    p.add_argument("--concurrency", type=int, default=10, help="connections (default 10)")
    p.add_argument("--duration", type=float, default=None, help="seconds per measurement")
    p.add_argument("--rounds", type=int, default=None, help="rounds (median reported)")
    p.add_argument("--client", choices=["auto", "wrk", "socket"], default="auto",
                   help="load generator: wrk (installed with apt-get if missing and root), the socket client, "
                        "or wrk when available (default)")
    p.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return 0
    args.duration = args.duration or (4.0 if args.quick else 10.0)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.warmup = 1.0 if args.quick else 3.0

    from hooks.server.main import http_implementation

    body, n_children, n_related = sync_request()
    wrk = None if args.client == "socket" else ensure_wrk(args.quick)
    if args.client == "wrk" and wrk is None:
        raise SystemExit("wrk is not installed and could not be installed")
    client = f"wrk -t1 -c{args.concurrency}" if wrk else f"multi-process socket client, {args.concurrency} connections"
    print(f"request: LatticeService sync, {len(body):,} bytes ({n_children} observed children, "
          f"{n_related} related); echo gets the same body")
    print(f"server: one uvicorn process (http={http_implementation()}, loop=asyncio) on CPU 0; load: {client} "
          f"on CPU 1, {args.duration:.0f} s per measurement, {args.rounds} round(s)")
    proc, port = start_server()
    results: dict[str, list[LoadResult]] = {"echo": [], "steady": [], "changed": []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.rounds):
                results["echo"].append(measure("echo", "/echo", body.replace(MARK, b"1"), False, args, port, wrk,
                                               Path(tmp), 10 * r + 1))
                results["steady"].append(measure("steady", "/hooks/latticeservice/sync", body, False, args, port,
                                                 wrk, Path(tmp), 10 * r + 2))
                results["changed"].append(measure("changed", "/hooks/latticeservice/sync", body, True, args, port,
                                                  wrk, Path(tmp), 10 * r + 3))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    med = {k: LoadResult.median(v) for k, v in results.items()}
    labels = {"echo": "echo           ", "steady": "sync (steady)  ", "changed": "sync (changed) "}
    for k, res in med.items():
        unit = "req/s " if k == "echo" else "syncs/s"
        print(f"{labels[k]}: {res.rps:8,.0f} {unit}  p50 {res.p50 * 1e3:6.2f} ms  p99 {res.p99 * 1e3:6.2f} ms"
              + (f"  ({res.errors} non-2xx)" if res.errors else ""))
    print(f"cold_syncs_per_second={med['changed'].rps:.0f}")
    print(f"cold_hook_vs_echo_p50_ratio={med['changed'].p50 / med['echo'].p50:.2f}")
    print(f"syncs_per_second={med['steady'].rps:.0f}")
    print(f"hook_vs_echo_p50_ratio={med['steady'].p50 / med['echo'].p50:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
