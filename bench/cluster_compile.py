"""Cluster compile time per LatticeCluster example (every provider x bootstrap in examples/clusters),
the LatticeCluster sync hook's throughput through the hook server, and how long 100 LatticeClusters
on one parent take to reach Provisioning on the real control plane.

    .venv/bin/python bench/cluster_compile.py [--quick] [--no-server] [--no-plane] [--clusters N]

Per example, alternating in rounds, three timings of the same input:
* parse — ``crds.parse`` of the raw LatticeCluster (the baseline every hook pays anyway);
* compile — ``hooks.cluster.compile_cluster`` on the parsed model and its CloudProvider (all
  validation, every object, the template hashes);
* status — ``hooks.cluster.cluster_status`` against an observed, half-provisioned Cluster.

Prints one line per example and ``cluster_compile_ms_p50[<example>]=<median>`` lines, then
``cluster_compile_vs_parse_ratio=<median compile / median parse>`` over all examples and
``cluster_compile_ms_p50=<slowest example's median>``.

**Through the hook server** (bench/hook_http.py's server and load generator: one uvicorn process on
CPU 0, the client on CPU 1): the sync request Metacontroller sends for examples/clusters/aws.yaml
once provisioned — its 11 observed children with Cluster API status, its CloudProvider and agent
Lease as related objects — against ``POST /echo`` of the same body (the baseline: HTTP and JSON
only). ``cluster_syncs_per_second`` is the steady case (the same parent again: what every child
status change sends; the compile is memoised), ``cluster_cold_syncs_per_second`` a new parent
resourceVersion every time (compiled afresh), and ``cluster_sync_vs_echo_p50_ratio``.

**On the real control plane** (tests/integration/cluster_plane.py without the Cluster API managers:
etcd, kube-apiserver, kube-controller-manager, Metacontroller with server-side apply, lattice-hooks):
N LatticeClusters (examples/clusters/docker-in-memory.yaml renamed; 11 Cluster API objects each) in
one ``kubectl apply``, timed until every one reports Provisioning — Metacontroller writes that status
after it has applied the cluster's objects. Baseline, same run: the same objects compiled offline
and created by one ``kubectl apply --server-side``. ``clusters_provisioning_seconds`` (median over
rounds), ``clusters_direct_apply_seconds``, ``clusters_provisioning_vs_direct_ratio``. No Cluster API
manager runs (nothing is provisioned further, and CAPI's webhooks are not registered).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

import crds
from bench import hook_http
from crds import CloudProvider, LatticeCluster
from hooks.cluster import AgentBootstrap, ClusterInputs, ObservedCapi, PivotProgress, cluster_status, compile_cluster

ROOT = Path(__file__).resolve().parents[1]


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _time(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def compile_times(quick: bool) -> None:
    rounds, per_round = (3, 50) if quick else (5, 400)

    providers = {p.name: p for p in (crds.parse(d).obj for d in _docs(ROOT / "examples/clusters/cloud-providers.yaml"))
                 if isinstance(p, CloudProvider)}
    examples = {p.stem: _docs(p)[0] for p in sorted((ROOT / "examples/clusters").glob("*.yaml"))
                if _docs(p)[0].get("kind") == "LatticeCluster"}
    observed = ObservedCapi(cluster={"status": {"initialization": {"infrastructureProvisioned": True},
                                                "controlPlane": {"readyReplicas": 1}}})
    samples: dict[str, dict[str, list[float]]] = {e: {"parse": [], "compile": [], "status": []} for e in examples}
    sizes: dict[str, int] = {}
    for _ in range(rounds):
        for name, doc in examples.items():
            model = crds.parse(doc).obj
            assert isinstance(model, LatticeCluster)
            inputs = ClusterInputs(model, providers[model.spec.provider_ref], AgentBootstrap())
            plan = compile_cluster(inputs)
            assert plan.ok, plan.errors
            sizes[name] = len(plan.objects)
            samples[name]["parse"] += _time(lambda doc=doc: crds.parse(doc), per_round)
            samples[name]["compile"] += _time(lambda inputs=inputs: compile_cluster(inputs), per_round)
            samples[name]["status"] += _time(
                lambda m=model, p=plan: cluster_status(m, p, observed, pivot=PivotProgress()), per_round)

    print(f"{len(examples)} examples, {rounds} rounds x {per_round} calls each, medians")
    med = {e: {k: statistics.median(v) * 1e3 for k, v in s.items()} for e, s in samples.items()}
    for e, m in med.items():
        print(f"{e:<18} {sizes[e]:>2} objects  parse {m['parse']:.3f} ms  compile {m['compile']:.3f} ms  "
              f"status {m['status']:.3f} ms")
    for e, m in med.items():
        print(f"cluster_compile_ms_p50[{e}]={m['compile']:.3f}")
    ratio = statistics.median(m["compile"] for m in med.values()) / statistics.median(m["parse"] for m in med.values())
    print(f"cluster_compile_vs_parse_ratio={ratio:.2f}")
    print(f"cluster_compile_ms_p50={max(m['compile'] for m in med.values()):.3f}")


# ---- through the hook server -------------------------------------------------------------------

def _capi_status(kind: str) -> dict[str, Any]:
    if kind == "Cluster":
        return {"phase": "Provisioned", "initialization": {"infrastructureProvisioned": True,
                                                            "controlPlaneInitialized": True},
                "controlPlane": {"desiredReplicas": 3, "readyReplicas": 3},
                "conditions": [{"type": "InfrastructureReady", "status": "True", "reason": "Ready"}]}
    if kind == "KubeadmControlPlane":
        return {"initialization": {"controlPlaneInitialized": True}, "readyReplicas": 3, "replicas": 3}
    if kind == "MachineDeployment":
        return {"replicas": 10, "readyReplicas": 10, "availableReplicas": 10}
    return {"initialization": {"provisioned": True}} if kind.endswith("Cluster") else {}


def cluster_sync_request() -> tuple[bytes, int, int]:
    """(the aws example's sync request with MARK as the parent's resourceVersion, children, related)."""
    import orjson

    from hooks import wire
    from hooks.controllers import latticecluster
    from hooks.controllers.definition import HookConfig
    from hooks.controllers_manifest import composite_object

    mark = hook_http.MARK.decode()
    providers = [d for d in _docs(ROOT / "examples/clusters/cloud-providers.yaml")]
    provider = next(p for p in providers if p["metadata"]["name"] == "aws-prod")
    provider["metadata"].update(uid="uid-provider", resourceVersion="900", generation=1)
    provider["metadata"]["annotations"] = {"lattice.dev/credentials-observed": (
        '{"exists":true,"keys":["AccessKeyID","SecretAccessKey"],"secret":"lattice-system/aws-credentials"}')}
    provider["status"] = {"phase": "Ready"}
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "lattice-agent-production", "namespace": "lattice-system", "uid": "uid-lease",
                          "resourceVersion": "901", "annotations": {"lattice.dev/agent-connected": "true"}},
             "spec": {"holderIdentity": "mgmt", "leaseDurationSeconds": 40,
                      "renewTime": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())}}
    parent = _docs(ROOT / "examples/clusters/aws.yaml")[0]
    parent["metadata"].update(uid="uid-production", resourceVersion="1000", generation=1)
    related = {wire.group_key(provider["apiVersion"], "CloudProvider"): {"lattice-system/aws-prod": provider},
               wire.group_key("coordination.k8s.io/v1", "Lease"): {"lattice-system/lattice-agent-production": lease}}
    first = latticecluster.CONTROLLER.run_sync(wire.SyncRequest(parent=parent, related=related), HookConfig()).response
    children: dict[str, dict[str, Any]] = {}
    for i, child in enumerate(first.children):
        obs = orjson.loads(orjson.dumps(child))
        meta = obs["metadata"]
        meta.setdefault("labels", {})["controller-uid"] = "uid-production"
        meta.update(uid=f"child-{i:03d}", resourceVersion=str(5000 + i), generation=1,
                    ownerReferences=[{"apiVersion": parent["apiVersion"], "kind": "LatticeCluster",
                                      "name": "production", "uid": "uid-production", "controller": True,
                                      "blockOwnerDeletion": True}])
        obs["status"] = _capi_status(obs["kind"])
        children.setdefault(wire.group_key(obs["apiVersion"], obs["kind"]), {})[wire.object_key(obs)] = obs
    parent["metadata"]["resourceVersion"] = mark
    parent["status"] = first.status
    body = {"controller": composite_object(latticecluster.CONTROLLER, "http://127.0.0.1"), "parent": parent,
            "children": children, "related": related, "finalizing": False}
    return orjson.dumps(body), len(first.children), 2


def hook_server(quick: bool) -> None:
    import os
    import signal
    import tempfile
    from types import SimpleNamespace

    from bench.support.http_load import LoadResult, ensure_wrk

    body, n_children, n_related = cluster_sync_request()
    args = SimpleNamespace(concurrency=10, warmup=1.0 if quick else 3.0, duration=4.0 if quick else 10.0)
    rounds = 1 if quick else 3
    wrk = ensure_wrk(quick)
    print(f"\nhook server: LatticeCluster sync, {len(body):,} bytes ({n_children} observed children, {n_related} "
          f"related); {'wrk' if wrk else 'socket client'}, 10 connections, {args.duration:.0f} s x {rounds}")
    proc, port = hook_http.start_server()
    results: dict[str, list[LoadResult]] = {"echo": [], "steady": [], "changed": []}
    path = "/hooks/latticecluster/sync"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(rounds):
                results["echo"].append(hook_http.measure("echo", "/echo", body.replace(hook_http.MARK, b"1"), False,
                                                         args, port, wrk, Path(tmp), 10 * r + 1))
                results["steady"].append(hook_http.measure("steady", path, body, False, args, port, wrk, Path(tmp),
                                                           10 * r + 2))
                results["changed"].append(hook_http.measure("changed", path, body, True, args, port, wrk, Path(tmp),
                                                            10 * r + 3))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    med = {k: LoadResult.median(v) for k, v in results.items()}
    for k, res in med.items():
        print(f"  {k:<8} {res.rps:8,.0f} /s  p50 {res.p50 * 1e3:6.2f} ms  p99 {res.p99 * 1e3:6.2f} ms"
              + (f"  ({res.errors} non-2xx)" if res.errors else ""))
    print(f"cluster_cold_syncs_per_second={med['changed'].rps:.0f}")
    print(f"cluster_sync_vs_echo_p50_ratio={med['steady'].p50 / med['echo'].p50:.2f}")
    print(f"cluster_syncs_per_second={med['steady'].rps:.0f}")


# ---- on the real control plane -------------------------------------------------------------------

def _in_memory(name: str) -> dict[str, Any]:
    doc = _docs(ROOT / "examples/clusters/docker-in-memory.yaml")[0]
    doc["metadata"]["name"] = name
    return doc


def _provisioning(cp: Any, prefix: str) -> int:
    import json

    items = json.loads(cp.kubectl("get", "latticeclusters", "-o", "json").stdout)["items"]
    return sum(1 for i in items if i["metadata"]["name"].startswith(prefix)
               and (i.get("status") or {}).get("phase") in ("Provisioning", "Ready"))


def _hook_seconds(url: str) -> tuple[int, float]:
    """(count, total seconds) of the hook server's LatticeCluster sync answers (its /metrics)."""
    import urllib.request

    text = urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()
    count = total = 0.0
    for line in text.splitlines():
        if 'controller="latticecluster"' in line and 'hook="sync"' in line:
            if line.startswith("lattice_hook_request_duration_seconds_count"):
                count += float(line.split()[-1])
            elif line.startswith("lattice_hook_request_duration_seconds_sum"):
                total += float(line.split()[-1])
    return int(count), total


def control_plane(quick: bool, clusters: int) -> None:
    import json
    import tempfile

    sys.path.insert(0, str(ROOT / "tests" / "integration"))
    from cluster_plane import cluster_plane

    import lattice_dev

    rounds = 1 if quick else 3
    docker = crds.parse(_docs(ROOT / "examples/clusters/cloud-providers.yaml")[0]).obj
    assert isinstance(docker, CloudProvider)
    lattice: list[float] = []
    direct: list[float] = []
    print(f"\ncontrol plane: {clusters} LatticeClusters per round, {rounds} round(s)")
    with tempfile.TemporaryDirectory() as tmp, \
            cluster_plane(Path(tmp), lattice_dev.build_in_checkout(ROOT), managers=False) as plane:
        cp = plane.cp
        for r in range(rounds):
            objects = []
            for i in range(clusters):
                model = crds.parse(_in_memory(f"d{r}-{i:03d}")).obj
                assert isinstance(model, LatticeCluster)
                objects += compile_cluster(ClusterInputs(model, docker)).objects
            t0 = time.monotonic()
            cp.kubectl("apply", "--server-side", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                                               "items": objects}), timeout=600)
            direct.append(time.monotonic() - t0)
            prefix = f"p{r}-"
            docs = [_in_memory(f"{prefix}{i:03d}") for i in range(clusters)]
            t0 = time.monotonic()
            cp.kubectl("apply", "--server-side", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                                               "items": docs}), timeout=600)
            while (done := _provisioning(cp, prefix)) < clusters:
                if time.monotonic() - t0 > 900:
                    raise SystemExit(f"only {done}/{clusters} Provisioning after 900 s")
                time.sleep(0.25)
            lattice.append(time.monotonic() - t0)
            print(f"  round {r + 1}: {len(objects)} objects created directly in {direct[-1]:.1f} s; "
                  f"{clusters} LatticeClusters Provisioning in {lattice[-1]:.1f} s")
        sync_count, sync_seconds = _hook_seconds(plane.hooks_url)
        if sync_count:
            mean = sync_seconds / sync_count * 1e3
            print(f"  lattice-hooks answered {sync_count} LatticeCluster syncs, mean {mean:.1f} ms")
    med_l, med_d = statistics.median(lattice), statistics.median(direct)
    print(f"clusters_direct_apply_seconds={med_d:.1f}")
    print(f"clusters_provisioning_vs_direct_ratio={med_l / med_d:.2f}")
    print(f"clusters_provisioning_seconds={med_l:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer compile rounds, one round elsewhere")
    ap.add_argument("--no-server", action="store_true", help="skip the hook server measurement")
    ap.add_argument("--no-plane", action="store_true", help="skip the control plane measurement")
    ap.add_argument("--clusters", type=int, default=None,
                    help="LatticeClusters per round (default 100; 25 with --quick, a smoke check)")
    args = ap.parse_args()
    args.clusters = args.clusters or (25 if args.quick else 100)
    compile_times(args.quick)
    if not args.no_server:
        hook_server(args.quick)
    if not args.no_plane:
        control_plane(args.quick, args.clusters)


if __name__ == "__main__":
    main()
