"""``lattice policy check --policy`` and ``lattice get mesh`` at fleet scale.

    .venv/bin/python bench/policy_check.py [--quick] [--seed N]

What-if (the flip list): a fleet of 1,000 LatticeServices in 20 namespaces, each declaring 2
secrets (2,000 secret requests), 50 CedarPolicies (2 statements each: namespace/path secret
permits, prod-path forbids, group cluster permits, per-user cluster forbids), 50 labelled
clusters. Each round applies two changes and times ``lattice_cedar.what_if`` end to end (the
stores, the pruning, every decision, the principals): a **global** forbid on every ``*/prod/*``
secret and every production cluster (it applies to every namespace and every principal, so only
the screen prunes: the worst case, the headline), and a namespace-scoped permit (the common
case). Baseline, same run: deciding every secret request and every (principal, cluster) pair of
the worst case once with the store in force (building it included): what a flip list without
pruning would pay twice over, before and after.

Mesh graph: 10,000 LatticeServices in 50 namespaces, each calling up to 3 others (most agreed,
some one-sided, some cross-namespace), a few wildcard callees. Timed: ``hooks.mesh.view.
build_graph`` plus rendering the table (what ``lattice get mesh -A`` does once the objects are
parsed). Baseline, same run: one pass computing every service's declarations (the least any
graph builder reads). Also printed: parsing the 10,000 objects with ``crds.parse_as``, which the
CLI pays before the graph.

Last lines: ``policy_what_if_seconds=`` (median, worst case; target <= 1 s) and
``mesh_graph_seconds=`` (median; target <= 2 s).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import crds
from cli import mesh_formats
from crds import ObjectMeta
from crds.cedar_policy import CedarPolicy, CedarPolicySpec
from crds.service import LatticeService
from hooks.context import Key, SecretRequest
from hooks.mesh.graph import declarations
from hooks.mesh.view import build_graph
from lattice_cedar import ClusterDirectory, PolicyStore, what_if
from lattice_cedar.store import enforced_sources
from lattice_cedar.what_if import named_principals

SECRET = 'action == Lattice::Action::"AccessSecret"'
CLUSTER = 'action == Lattice::Action::"AccessCluster"'
NAMESPACES = [f"team-{i}" for i in range(20)]
ENVS = ["development", "staging", "production"]


def cedar(name: str, text: str) -> CedarPolicy:
    return CedarPolicy(metadata=ObjectMeta(name=name, namespace="lattice-system"),
                       spec=CedarPolicySpec(policies=text, priority=0))


def fleet_policies(rng: random.Random) -> list[CedarPolicy]:
    out = []
    for i in range(50):
        ns = NAMESPACES[i % len(NAMESPACES)]
        if i % 2 == 0:
            text = (f'permit(principal, {SECRET}, resource) when {{ principal.namespace == "{ns}" && '
                    f'resource.path like "secret/data/{ns}/*" }};\n'
                    f'forbid(principal, {SECRET}, resource) when {{ principal.namespace == "{ns}" && '
                    f'resource.path like "*/prod/{rng.randrange(10)}/*" }};')
        else:
            text = (f'permit(principal in Lattice::Group::"group-{i % 25}", {CLUSTER}, resource) '
                    f'when {{ resource has environment && resource.environment == "{rng.choice(ENVS)}" }};\n'
                    f'forbid(principal == Lattice::User::"user-{i % 25}", {CLUSTER}, resource) '
                    f'when {{ resource.region == "eu-west-1" }};')
        out.append(cedar(f"policy-{i:02d}", text))
    return out


def fleet_secrets(rng: random.Random) -> list[SecretRequest]:
    out = []
    for i in range(1000):
        ns = NAMESPACES[i % len(NAMESPACES)]
        for j in range(2):
            stage = "prod" if rng.random() < 0.3 else "dev"
            out.append(SecretRequest(f"s{j}", ns, f"svc-{i}", "vault-prod",
                                     f"secret/data/{ns}/{stage}/{rng.randrange(10)}/creds"))
    return out


def fleet_clusters(rng: random.Random) -> ClusterDirectory:
    labels = {}
    for i in range(50):
        cl = {"lattice.dev/region": rng.choice(["us-east-1", "eu-west-1"]), "lattice.dev/tier": "standard"}
        if rng.random() < 0.8:
            cl["lattice.dev/environment"] = rng.choice(ENVS)
        labels[f"cluster-{i:02d}"] = cl
    return ClusterDirectory.from_labels(labels)


GLOBAL_FORBID = cedar("freeze-prod", (
    f'forbid(principal, {SECRET}, resource) when {{ resource.path like "*/prod/*" }};\n'
    f'forbid(principal, {CLUSTER}, resource) when {{ resource has environment && '
    f'resource.environment == "production" }};'))
NAMESPACE_PERMIT = cedar("team-3-dev", (
    f'permit(principal, {SECRET}, resource) when {{ principal.namespace == "team-3" && '
    f'resource.path like "secret/data/team-3/dev/*" }};'))


def raw_service(ns: str, name: str, resources: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": crds.API_VERSION, "kind": "LatticeService", "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": {"main": {"image": "app:1"}}, "service": {"ports": {"http": {"port": 8080}}},
                     "resources": resources}}


def mesh(rng: random.Random, n: int) -> list[dict[str, Any]]:
    """``n`` services in 50 namespaces; edges mostly agreed, ~10 % one-sided, some cross-namespace."""
    keys = [(f"ns-{i % 50}", f"svc-{i}") for i in range(n)]
    calls: dict[Key, list[Key]] = {k: [] for k in keys}
    accepts: dict[Key, list[Key]] = {k: [] for k in keys}
    wild = {keys[i] for i in range(0, n, 500)}
    for i, k in enumerate(keys):
        for _ in range(rng.randrange(4)):
            # 80 % in the caller's own namespace (svc-j lives in ns-(j % 50)), 20 % anywhere
            j = rng.randrange(n) if rng.random() < 0.2 else rng.randrange(n // 50) * 50 + i % 50
            peer = keys[j]
            if peer == k or peer in calls[k]:
                continue
            calls[k].append(peer)
            if rng.random() < 0.9 and peer not in wild:
                accepts[peer].append(k)
    out = []
    for k in keys:
        res: dict[str, Any] = {}
        for p in calls[k]:
            res[f"{p[0]}-{p[1]}"] = {"type": "service", "direction": "outbound", "id": p[1], "namespace": p[0]}
        for c in accepts[k]:
            res.setdefault(f"in-{c[0]}-{c[1]}", {"type": "service", "direction": "inbound", "id": c[1],
                                                 "namespace": c[0]})
        if k in wild:
            res["*"] = {"type": "service", "direction": "inbound"}
        out.append(raw_service(k[0], k[1], res))
    return out


def median_time(fn: Callable[[], Any], rounds: int) -> tuple[float, Any]:
    times, last = [], None
    for _ in range(rounds):
        t0 = time.perf_counter()
        last = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), last


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds (well under a minute)")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    rounds = 3 if args.quick else 7
    rng = random.Random(args.seed)

    policies, secrets, clusters = fleet_policies(rng), fleet_secrets(rng), fleet_clusters(rng)
    store = PolicyStore.from_sources(enforced_sources(policies))
    print(f"what-if fleet: {len(policies)} CedarPolicies ({len(store)} statements), 1,000 services, "
          f"{len(secrets)} secret requests, {len(clusters.labels)} clusters")

    def cold_what_if(change: CedarPolicy) -> Callable[[], object]:
        def run() -> object:
            PolicyStore._memo.clear()  # every round builds its stores from the parsed statements
            return what_if(policies, change, secrets, (), clusters)
        return run

    worst_s, worst = median_time(cold_what_if(GLOBAL_FORBID), rounds)
    common_s, common = median_time(cold_what_if(NAMESPACE_PERMIT), rounds)
    after = PolicyStore.from_sources(enforced_sources([*policies, GLOBAL_FORBID]))
    from lattice_cedar.what_if import changed_statements

    people = named_principals((store, after), (), changed_statements(store, after))

    def baseline() -> object:
        PolicyStore._memo.clear()
        fresh = PolicyStore.from_sources(enforced_sources(policies))
        fresh.decide_secrets(secrets)
        for p in people:
            fresh.authorize_clusters(p.user, p.groups, clusters)
        return None

    base_s, _ = median_time(baseline, rounds)
    print(f"global forbid: {len(worst.flips)} flips; {worst.evaluated} full decisions after "
          f"screening {len(people)} principals x {len(clusters.labels)} clusters and {len(secrets)} secrets: "
          f"median {worst_s * 1e3:.0f} ms")
    print(f"namespace-scoped permit: {len(common.flips)} flips of {common.evaluated} decisions: "
          f"median {common_s * 1e3:.0f} ms")
    print(f"baseline (every request of the worst case decided once, store built): median {base_s * 1e3:.0f} ms; "
          f"ratio {worst_s / base_s:.2f}")

    n = 2000 if args.quick else 10_000
    raws = mesh(rng, n)
    t0 = time.perf_counter()
    parsed = [crds.parse_as(LatticeService, r)[0] for r in raws]
    parse_s = time.perf_counter() - t0
    services = {(s.namespace or "default", s.name): s for s in parsed if s is not None}

    def graph_and_table() -> object:
        g = build_graph(services, {})
        mesh_formats.table(g)
        return g

    def read_declarations() -> object:
        return sum(len(declarations(k[0], s)) for k, s in services.items())

    graph_s, g = median_time(graph_and_table, rounds)
    floor_s, _ = median_time(read_declarations, rounds)
    print(f"mesh: {len(services)} services, {len(g.edges)} edges {g.counts()}, "
          f"{len(g.wildcards)} wildcards")
    print(f"graph + table: median {graph_s * 1e3:.0f} ms; baseline (every declaration read once) "
          f"{floor_s * 1e3:.0f} ms; ratio {graph_s / floor_s:.2f}; parsing the {n} objects first: "
          f"{parse_s * 1e3:.0f} ms")
    if args.quick:
        print(f"(quick: {n} services; the full run uses 10,000)")
    print(f"policy_what_if_seconds={worst_s:.3f}")
    print(f"mesh_graph_seconds={graph_s:.3f}")


if __name__ == "__main__":
    main()
