"""Cedar decision throughput and proxy latency: 100 policy statements, 1,000 entities.

    .venv/bin/python bench/cedar.py [--quick] [--seed N]

Workload (deterministic for a seed):
* 25 CedarPolicy objects x 4 statements = 100 statements: group/label cluster permits, per-user
  cluster forbids, namespace/path secret permits, prod-path and provider forbids.
* 1,000 entities: 900 clusters (region/tier/environment labels plus a team tag) in a
  ``ClusterDirectory``, 60 users in 40 groups; secret batches add their services and paths.

Modes:
* single — ``PolicyStore.authorize_cluster`` per request: the whole path a proxy request pays
  (entity building, parse, evaluation, decision), with p50/p99 latency;
* single-raw — ``cedarpy.is_authorized`` on pre-built handles (the engine's ceiling);
* batch-clusters — ``authorize_clusters`` over the 900-cluster directory (a ``/kubeconfig``);
* batch-secrets — ``authorize_secrets`` with 1,000 requests (500 services x 2 secrets);
* build — parsing and validating the 100 statements (cold) vs a memo hit.

Last line: ``cedar_batch_decisions_per_second=<n>``, the slower of the two batch modes.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cedarpy

from crds import ObjectMeta
from crds.cedar_policy import CedarPolicy, CedarPolicySpec
from hooks.context import SecretRequest
from hooks.secrets.policies import CedarSecretAuthorizer
from lattice_cedar import ClusterDirectory, PolicyStore, entities, schema, statements

REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-south-1"]
TIERS = ["dev", "standard", "critical"]
ENVS = ["development", "staging", "production"]
NAMESPACES = [f"team-{i}" for i in range(20)]
PROVIDERS = ["vault-prod", "vault-dev", "vault-admin"]
SECRET = 'action == Lattice::Action::"AccessSecret"'
CLUSTER = 'action == Lattice::Action::"AccessCluster"'
N_GROUPS, N_USERS, N_CLUSTERS = 40, 60, 900


def policies(rng: random.Random) -> list[CedarPolicy]:
    out = []
    for i in range(25):
        g, ns = f"group-{i % N_GROUPS}", NAMESPACES[i % len(NAMESPACES)]
        text = "\n".join([
            f'permit(principal in Lattice::Group::"{g}", {CLUSTER}, resource) '
            f'when {{ resource.tier == "{rng.choice(TIERS)}" || resource.region like "{rng.choice(REGIONS)[:3]}*" }};',
            f'forbid(principal == Lattice::User::"user-{rng.randrange(N_USERS)}", {CLUSTER}, resource) '
            f'when {{ resource has environment && resource.environment == "production" }};',
            f'permit(principal, {SECRET}, resource) when {{ principal.namespace == "{ns}" && '
            f'resource.path like "secret/data/{ns}/*" && resource.provider != "vault-admin" }};',
            f'forbid(principal, {SECRET}, resource) when {{ principal.namespace == "{ns}" && '
            f'resource.path like "*/prod/{rng.randrange(10)}/*" }};',
        ])
        out.append(CedarPolicy(metadata=ObjectMeta(name=f"policy-{i:02d}", namespace="lattice-system"),
                               spec=CedarPolicySpec(policies=text, priority=rng.randrange(0, 300))))
    return out


def clusters(rng: random.Random) -> dict[str, dict[str, str]]:
    out = {}
    for i in range(N_CLUSTERS):
        labels = {"lattice.dev/region": rng.choice(REGIONS), "lattice.dev/tier": rng.choice(TIERS),
                  "team": f"team-{rng.randrange(20)}"}
        if rng.random() < 0.7:
            labels["lattice.dev/environment"] = rng.choice(ENVS)
        out[f"cluster-{i:04d}"] = labels
    return out


def users(rng: random.Random) -> list[tuple[str, list[str]]]:
    return [(f"user-{i}", sorted({f"group-{rng.randrange(N_GROUPS)}" for _ in range(3)})) for i in range(N_USERS)]


def secret_requests(rng: random.Random, n: int) -> list[SecretRequest]:
    out = []
    for i in range(n):
        ns = rng.choice(NAMESPACES)
        own = rng.random() < 0.7
        path_ns = ns if own else rng.choice(NAMESPACES)
        stage = "prod" if rng.random() < 0.3 else "dev"
        out.append(SecretRequest(resource=f"s{i % 2}", namespace=ns, service=f"svc-{i // 2}",
                                 provider=rng.choice(PROVIDERS),
                                 path=f"secret/data/{path_ns}/{stage}/{rng.randrange(10)}/creds"))
    return out


def timed(fn: Callable[[], object], seconds: float) -> tuple[int, float, list[float]]:
    """Run ``fn`` repeatedly for about ``seconds``; (calls, elapsed, per-call latencies)."""
    lat: list[float] = []
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        fn()
        lat.append(time.perf_counter() - t0)
        if t0 - start > seconds:
            break
    return len(lat), time.perf_counter() - start, lat


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short runs (well under a minute)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    seconds = 1.5 if args.quick else 6.0
    rounds = 2 if args.quick else 3
    rng = random.Random(args.seed)

    objs, labels, people = policies(rng), clusters(rng), users(rng)
    t0 = time.perf_counter()
    store = PolicyStore.from_policies(objs)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    assert PolicyStore.from_policies(objs) is store
    memo = time.perf_counter() - t0
    statements.parse_text.cache_clear()
    PolicyStore._memo.clear()
    t0 = time.perf_counter()
    PolicyStore.from_policies(objs)
    cold = min(cold, time.perf_counter() - t0)
    store = PolicyStore.from_policies(objs)
    directory = ClusterDirectory.from_labels(labels)
    n_entities = N_CLUSTERS + N_USERS + N_GROUPS
    print(f"statements={len(store)} (cluster set {store.count('AccessCluster')}, "
          f"secret set {store.count('AccessSecret')}); entities={n_entities}; problems={len(store.problems)}")
    print(f"build: cold {cold * 1e3:.1f} ms (parse + schema-validate 100 statements), memo hit {memo * 1e6:.0f} µs")

    names = list(labels)
    pick = random.Random(args.seed + 1)

    # single: the proxy path, one request at a time.
    def one() -> None:
        user, groups = people[pick.randrange(N_USERS)]
        name = names[pick.randrange(N_CLUSTERS)]
        store.authorize_cluster(user, groups, name, labels[name])

    results: dict[str, float] = {}
    lat_all: list[float] = []
    best = 0.0
    for _ in range(rounds):
        calls, elapsed, lat = timed(one, seconds)
        best = max(best, calls / elapsed)
        lat_all.extend(lat)
    results["single"] = best
    print(f"single (authorize_cluster, full proxy path): {best:,.0f} decisions/s; "
          f"latency p50 {pct(lat_all, 0.5) * 1e6:.0f} µs, p99 {pct(lat_all, 0.99) * 1e6:.0f} µs")

    # single-raw: the engine with every handle pre-built (all 1,000 entities in one handle).
    all_entities = [*(entities.cluster_entity(n, lab) for n, lab in labels.items())]
    seen_groups: set[str] = set()
    for user, groups in people:
        ents = entities.user_entities(user, groups)
        all_entities.append(ents[0])
        for g in ents[1:]:
            if g["uid"]["id"] not in seen_groups:
                seen_groups.add(g["uid"]["id"])
                all_entities.append(g)
    handle = cedarpy.Entities.from_json_str(json.dumps(all_entities))
    policy_set = store._sets[schema.ACCESS_CLUSTER]
    reqs = [{"principal": entities.uid(schema.USER, u), "action": entities.action(schema.ACCESS_CLUSTER),
             "resource": entities.uid(schema.CLUSTER, names[pick.randrange(N_CLUSTERS)])}
            for u, _ in people for _ in range(20)]

    def raw() -> None:
        cedarpy.is_authorized(reqs[pick.randrange(len(reqs))], policy_set, handle)

    best = max(c / e for c, e, _ in (timed(raw, seconds) for _ in range(rounds)))
    results["single-raw"] = best
    print(f"single-raw (cedarpy.is_authorized, pre-built handles, {len(all_entities)} entities): "
          f"{best:,.0f} decisions/s")

    # batch-clusters: one user against the whole directory (GET /kubeconfig).
    def batch_clusters() -> None:
        user, groups = people[pick.randrange(N_USERS)]
        store.authorize_clusters(user, groups, directory)

    best = max(c * N_CLUSTERS / e for c, e, _ in (timed(batch_clusters, seconds) for _ in range(rounds)))
    results["batch-clusters"] = best
    print(f"batch-clusters (authorize_clusters, {N_CLUSTERS} clusters per call): {best:,.0f} decisions/s")

    # batch-secrets: 1,000 secret requests of 500 services in one call.
    batch = secret_requests(rng, 1000)

    def batch_secrets() -> None:
        CedarSecretAuthorizer(store).authorize_secrets(batch)

    best = max(c * len(batch) / e for c, e, _ in (timed(batch_secrets, seconds) for _ in range(rounds)))
    results["batch-secrets"] = best
    allowed = sum(d.allowed for d in CedarSecretAuthorizer(store).authorize_secrets(batch))
    print(f"batch-secrets (authorize_secrets, {len(batch)} requests per call, {allowed} allowed): "
          f"{best:,.0f} decisions/s")

    # A typical service sync: 3 secrets.
    small = batch[:3]
    calls, elapsed, lat = timed(lambda: CedarSecretAuthorizer(store).authorize_secrets(small), seconds / 2)
    print(f"service sync (3 secrets): p50 {pct(lat, 0.5) * 1e6:.0f} µs, p99 {pct(lat, 0.99) * 1e6:.0f} µs")

    headline = min(results["batch-clusters"], results["batch-secrets"])
    print(f"cedar_batch_decisions_per_second={headline:.0f}")


if __name__ == "__main__":
    main()
