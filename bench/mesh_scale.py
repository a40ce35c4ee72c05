"""Sync-compile time of one service with 5 dependencies in a mesh of 10 vs 10,000 services.

    .venv/bin/python bench/mesh_scale.py [--quick] [--rounds N]

Workload: ``checkout`` (namespace ``shop``) calls 5 services (one cross-namespace, one with
retries and a timeout), accepts 2 callers (one rate-limited), has an ingress with auto TLS, and
calls one external service. The rest of the mesh is generated (deterministic): services in 20
namespaces, each calling up to 3 others that accept it, a few with wildcard inbound. The mesh
exists in memory in both runs (10 services, then 10,000), as raw JSON objects the way the API
server holds them.

Each measured sync follows the hook path: the related objects are the ones the customize hook
asks for (``hooks.mesh.graph.peer_query``: the named services, looked up by key), the parent
and every related object are parsed with ``crds.parse`` (no memo), a ``ServiceContext`` is built
and ``hooks.service.compile.compile_service`` runs (falling back to ``resolve_mesh`` alone when
the compiler is absent). The two mesh sizes are measured alternately in rounds, to cancel drift.

Prints the median per-sync time of each size, and, last, ``mesh_scale_ratio=<10k/10>``
(target <= 1.2: the cost does not grow with the mesh).
"""

from __future__ import annotations

import argparse
import copy
import gc
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import crds
from crds import KubeObject, LatticeExternalService, LatticeService
from hooks.context import Key, ServiceContext
from hooks.mesh.graph import peer_query

try:
    from hooks.service.compile import compile_service as _compile

    def compile_once(ctx: ServiceContext) -> int:
        return len(_compile(ctx).children)

    WHAT = "hooks.service.compile.compile_service"
except ImportError:  # pragma: no cover - before the compiler lands
    from hooks.mesh.compile import resolve_mesh

    def compile_once(ctx: ServiceContext) -> int:
        return len(resolve_mesh(ctx).children)

    WHAT = "hooks.mesh.compile.resolve_mesh"

DEPS = [("shop", "payments"), ("shop", "inventory"), ("shop", "pricing"), ("shop", "users"), ("ops", "audit")]


def raw_service(ns: str, name: str, resources: dict[str, KubeObject], **spec: Any) -> KubeObject:
    return {
        "apiVersion": crds.API_VERSION, "kind": "LatticeService",
        "metadata": {"name": name, "namespace": ns, "generation": 1, "resourceVersion": "1"},
        "spec": {"containers": {"main": {"image": f"example/{name}:1.0", "variables": {"PORT": "8080"}}},
                 "service": {"ports": {"http": {"port": 8080}}}, "resources": resources, **spec},
    }


def checkout() -> KubeObject:
    resources: dict[str, KubeObject] = {}
    for ns, name in DEPS:
        resources[name] = {"type": "service", "direction": "outbound", **({"namespace": ns} if ns != "shop" else {})}
    resources["payments"]["outbound"] = {"retries": {"attempts": 3, "perTryTimeout": "2s", "retryOn": ["5xx"]},
                                         "timeout": {"request": "10s"}}
    resources["web"] = {"type": "service", "direction": "inbound",
                        "inbound": {"rateLimit": {"requestsPerInterval": 600, "intervalSeconds": 60}}}
    resources["admin"] = {"type": "service", "direction": "inbound"}
    resources["stripe"] = {"type": "external-service", "direction": "outbound"}
    spec = {"ingress": {"hosts": ["shop.example.com"], "tls": {"mode": "auto", "issuerRef": {"name": "le"}}},
            "replicas": {"min": 2, "max": 6}}
    doc = raw_service("shop", "checkout", resources, **spec)
    doc["spec"]["containers"]["main"]["variables"]["PAYMENTS_URL"] = "${resources.payments.url}"
    return doc


def mesh(size: int, seed: int = 7) -> dict[Key, KubeObject]:
    """``size`` LatticeServices (checkout, its 5 dependencies and 2 callers among them)."""
    rng = random.Random(seed)
    out: dict[Key, KubeObject] = {("shop", "checkout"): checkout()}
    for ns, name in DEPS:
        scope = {"namespace": "shop"} if ns != "shop" else {}
        accept = {"checkout": {"type": "service", "direction": "inbound", **scope}}
        out[(ns, name)] = raw_service(ns, name, accept)
    for name in ("web", "admin"):
        out[("shop", name)] = raw_service("shop", name, {"checkout": {"type": "service", "direction": "outbound"}})
    keys = [(f"team-{i % 20}", f"svc-{i}") for i in range(size - len(out))]
    for ns, name in keys:
        resources: dict[str, KubeObject] = {}
        for peer_ns, peer in rng.sample(keys, min(3, len(keys))):
            direction = rng.choice(["outbound", "inbound", "both"])
            resources[f"{peer_ns}-{peer}"] = {"type": "service", "direction": direction,
                                              "id": peer, "namespace": peer_ns}
        if rng.random() < 0.02:
            resources["*"] = {"type": "service", "direction": "inbound"}
        out[(ns, name)] = raw_service(ns, name, resources)
    return out


STRIPE: KubeObject = {
    "apiVersion": crds.API_VERSION, "kind": "LatticeExternalService",
    "metadata": {"name": "stripe", "namespace": "shop", "generation": 1},
    "spec": {"endpoints": {"api": "https://api.stripe.com"}, "allowedRequesters": ["checkout"]},
}


def hook_sync(index: dict[Key, KubeObject], externals: dict[Key, KubeObject]) -> int:
    """What one sync of checkout costs: related lookup, parsing, compile."""
    parent = crds.parse(index[("shop", "checkout")]).obj
    assert isinstance(parent, LatticeService)
    query = peer_query(("shop", "checkout"), parent)
    services: dict[Key, LatticeService] = {}
    for key in query.services:
        if key in index:
            obj = crds.parse(index[key]).obj
            assert isinstance(obj, LatticeService)
            services[key] = obj
    ext: dict[Key, LatticeExternalService] = {}
    for key in query.external_services:
        if key in externals:
            e = crds.parse(externals[key]).obj
            assert isinstance(e, LatticeExternalService)
            ext[key] = e
    return compile_once(ServiceContext(service=parent, services=services, external_services=ext))


def breakdown(index: dict[Key, KubeObject], externals: dict[Key, KubeObject], n: int) -> tuple[float, float]:
    """Median ms of parsing (parent + related) and of compiling alone."""
    parent = crds.parse(index[("shop", "checkout")]).obj
    assert isinstance(parent, LatticeService)
    query = peer_query(("shop", "checkout"), parent)
    raws = [index[("shop", "checkout")], *(index[k] for k in query.services if k in index),
            *(externals[k] for k in query.external_services if k in externals)]
    parsed = [crds.parse(r).obj for r in raws]
    services = {(o.namespace, o.name): o for o in parsed[1:] if isinstance(o, LatticeService)}
    ext = {(o.namespace, o.name): o for o in parsed[1:] if isinstance(o, LatticeExternalService)}
    ctx = ServiceContext(service=parent, services=services, external_services=ext)
    parse_ms = statistics.median(timed(lambda: len([crds.parse(r) for r in raws]), n)) * 1e3
    return parse_ms, statistics.median(timed(lambda: compile_once(ctx), n)) * 1e3


def wildcard_cost(index: dict[Key, KubeObject], n: int) -> tuple[float, int]:
    """The one case whose cost follows the mesh: ``*`` inbound relates a whole namespace."""
    from hooks.mesh.compile import resolve_mesh

    me = crds.parse(raw_service("team-0", "catalog", {"*": {"type": "service", "direction": "inbound",
                                                              "namespace": "team-0"}})).obj
    assert isinstance(me, LatticeService)
    query = peer_query(("team-0", "catalog"), me)
    related: dict[Key, LatticeService] = {}
    for key, raw in index.items():
        if key[0] in query.wildcard_namespaces:
            obj = crds.parse(raw).obj
            assert isinstance(obj, LatticeService)
            related[key] = obj
    ctx = ServiceContext(service=me, services=related)
    return statistics.median(timed(lambda: len(resolve_mesh(ctx).children), n)) * 1e3, len(related)


def timed(fn: Callable[[], int], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer syncs (under a minute)")
    ap.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 10, quick 4)")
    args = ap.parse_args()
    rounds = args.rounds or (4 if args.quick else 10)
    per_round = 50 if args.quick else 200
    externals = {("shop", "stripe"): STRIPE}
    t0 = time.perf_counter()
    small, large = mesh(10), mesh(10_000)
    built = time.perf_counter() - t0
    gc.collect()
    children = hook_sync(small, externals)
    assert children == hook_sync(large, externals), "the compile must not depend on the mesh size"
    assert copy.deepcopy(small[("shop", "checkout")]) == large[("shop", "checkout")]
    samples: dict[int, list[float]] = {10: [], 10_000: []}
    for _ in range(rounds):
        for size, index in ((10, small), (10_000, large)):
            samples[size] += timed(lambda index=index: hook_sync(index, externals), per_round)  # type: ignore[misc]
    med = {size: statistics.median(v) for size, v in samples.items()}
    print(f"compiled with {WHAT}: {children} children per sync, {rounds} rounds x {per_round} syncs per size")
    print(f"built meshes of 10 and 10,000 LatticeServices in {built:.1f} s")
    for size, v in samples.items():
        q = statistics.quantiles(v, n=100)
        print(f"mesh={size:>6}: median {med[size] * 1e3:.3f} ms  p90 {q[89] * 1e3:.3f} ms  "
              f"({1 / med[size]:.0f} syncs/s)")
    parse_ms, compile_ms = breakdown(large, externals, per_round)
    print(f"of which (mesh=10000): parsing parent + related {parse_ms:.3f} ms, compile {compile_ms:.3f} ms "
          "(the hook memoises parses by resourceVersion)")
    wildcard_ms, related = wildcard_cost(large, 5 if args.quick else 20)
    print(f"for contrast, a wildcard-inbound service of team-0 (related: the {related} services of its namespace, "
          f"already parsed as the hook's memo holds them): resolve_mesh median {wildcard_ms:.3f} ms")
    print(f"mesh_scale_ratio={med[10_000] / med[10]:.3f}")


if __name__ == "__main__":
    main()
