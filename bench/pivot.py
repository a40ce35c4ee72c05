"""The pivot through the tunnel: how long moving a provisioned cluster's Cluster API objects into it
takes, on loopback, with real processes.

    python bench/pivot.py [--quick]

Topology: two kube-apiservers with the Cluster API and Lattice CRDs (parent and child); the parent's
cell runs in this process (the pivot driver is its code, driven directly so that only the move is
timed, not Metacontroller's handshake latency), the child's agent is a real ``lattice-agent``
process bootstrapped through the cell's webhook (real mTLS gRPC). The parent holds a cluster as
Lattice and Cluster API leave it once provisioned (tests/integration/pivot_world.py: the compiler's
objects owned by the LatticeCluster, plus CapiDouble's MachineSets, Machines, bootstrap configs,
infrastructure machines and Secrets with their statuses).

``pivot_seconds``: pause, collect the graph, every batch imported by the agent (owner references
rebuilt, status written), MoveComplete (the child's LatticeCluster, owners added, resumed,
resources), and the source deleted with delete-for-move — median over the rounds, for ~50 objects
(target < 2 s); then the same for ~500 objects, and the ratio. Between rounds the child is emptied
and the parent's cluster made again. The baseline, in the same run and interleaved:
``direct_move_seconds``, the same move with the exporter and importer in this process talking to
each API server directly (what the tunnel, the agent and the cell add is the difference).
``clusterctl_move_seconds`` (when a clusterctl v1.13.6 binary is given with --clusterctl or
$LATTICE_CLUSTERCTL_BIN, docs/benchmarks.md says how it was built): ``clusterctl move`` of the same
cluster between the same two API servers, directly (it cannot go through the tunnel), after the
CRDs got clusterctl's label and both sides its (empty) provider inventory; its cluster's objects are
plain Cluster API objects (no LatticeCluster owner, which clusterctl would leave dangling on the
target, where the garbage collector deletes what it owns).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from pivot_world import install_capi, make_world, rest_for  # noqa: E402
from tunnel_procs import Proc, start_agent  # noqa: E402

import lattice_dev  # noqa: E402
from crds import KubeObject  # noqa: E402
from lattice_cell.bootstrap_tokens import SecretTokenStore, issue_token  # noqa: E402
from lattice_cell.cell import Cell, CellConfig  # noqa: E402
from lattice_cell.pivot_driver import child_copy  # noqa: E402
from lattice_move.exporter import Exporter  # noqa: E402
from lattice_move.importer import Importer  # noqa: E402
from lattice_move.kube import MoveApi  # noqa: E402
from lattice_move.wire import batches  # noqa: E402
from lattice_tunnel import pki  # noqa: E402
from lattice_tunnel.kube_api import KubeApi, SecretCaStorage  # noqa: E402
from lattice_tunnel.kube_exec import KubeExecutor  # noqa: E402
from lattice_tunnel.kube_target import resolve  # noqa: E402

CHILD = "bench"


def workers_for(objects: int) -> int:
    """Workers giving about ``objects`` objects: 15 fixed (namespace, compiler's 8, bootstrap and
    the cluster's 5 Secrets, a MachineSet) + 4 per machine (Machine, KubeadmConfig, DevMachine,
    bootstrap-data Secret), one control-plane machine."""
    return max(1, round((objects - 15) / 4) - 1)


def reset_child(child: lattice_dev.ControlPlane) -> None:
    child.kubectl("delete", "namespace", f"capi-{CHILD}", "--ignore-not-found", "--wait=true", timeout=300)
    child.kubectl("delete", "latticecluster", CHILD, "--ignore-not-found")


def fresh_world(parent: lattice_dev.ControlPlane, child: lattice_dev.ControlPlane, workers: int) -> KubeObject:
    reset_child(child)
    with rest_for(parent) as rest:
        parent.kubectl("delete", "namespace", f"capi-{CHILD}", "--ignore-not-found", "--wait=true", timeout=300)
        parent.kubectl("delete", "latticecluster", CHILD, "--ignore-not-found")
        lc: KubeObject = make_world(rest, CHILD, workers=workers)
    return lc


def emptied(parent: lattice_dev.ControlPlane) -> None:
    assert not parent.get_json("machines", "-n", f"capi-{CHILD}")["items"], "the source was not emptied"


async def one_round(cell: Cell, parent: lattice_dev.ControlPlane, child: lattice_dev.ControlPlane,
                    workers: int) -> tuple[float, int]:
    """Through the tunnel: the cell's driver, the agent's importer."""
    lc = fresh_world(parent, child, workers)
    session = await cell.agents.wait_session(CHILD, 60)
    assert cell.pivots is not None
    began = time.perf_counter()
    moved = await cell.pivots.pivot(CHILD, lc, session)
    seconds = time.perf_counter() - began
    print("  tunnel steps: " + ", ".join(f"{k} {v:.3f}s" for k, v in cell.pivots.steps[CHILD].items()),
          file=sys.stderr)
    emptied(parent)
    return seconds, moved


async def direct_round(source: MoveApi, target: MoveApi, parent: lattice_dev.ControlPlane,
                       child: lattice_dev.ControlPlane, workers: int) -> float:
    """The same move with no tunnel: exporter and importer in this process, each on its API server
    (the baseline: what the tunnel, the agent and the cell add)."""
    lc = fresh_world(parent, child, workers)
    ns = f"capi-{CHILD}"
    began = time.perf_counter()
    exporter = Exporter(source)
    graph = await exporter.pause_and_collect(ns, CHILD)
    importer = Importer(target)
    for group in batches(graph, "direct", CHILD, ns):
        acks = await asyncio.gather(*(importer.apply_batch(b) for b in group))
        errors = [e.message for a in acks for e in a.errors]
        assert not errors, errors
    await importer.complete("direct", ns, CHILD, [child_copy(lc)])
    await exporter.delete_source(graph)
    seconds = time.perf_counter() - began
    emptied(parent)
    return seconds


def clusterctl_setup(parent: lattice_dev.ControlPlane, child: lattice_dev.ControlPlane) -> None:
    """What ``clusterctl init`` would have left: its label on the Cluster API CRDs (what it moves)
    and its inventory CRD on both sides."""
    gomodcache = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=True).stdout
    inventory = Path(gomodcache.strip()) / "sigs.k8s.io" / "cluster-api@v1.13.6" / "cmd" / "clusterctl" / "config" \
        / "manifest" / "clusterctl-api.yaml"
    for cp in (parent, child):
        cp.kubectl("apply", "--server-side", "-f", str(inventory))
    crds = [c["metadata"]["name"] for c in parent.get_json("crd")["items"]
            if c["spec"]["group"].endswith("cluster.x-k8s.io")]
    parent.kubectl("label", "crd", *crds, "clusterctl.cluster.x-k8s.io=", "--overwrite")


def clusterctl_round(clusterctl: str, parent: lattice_dev.ControlPlane, child: lattice_dev.ControlPlane,
                     workers: int) -> float:
    reset_child(child)
    with rest_for(parent) as rest:
        parent.kubectl("delete", "namespace", f"capi-{CHILD}", "--ignore-not-found", "--wait=true", timeout=300)
        parent.kubectl("delete", "latticecluster", CHILD, "--ignore-not-found")
        make_world(rest, CHILD, workers=workers, owned=False)
    env = {**os.environ, "HOME": tempfile.mkdtemp(prefix="clusterctl-home-", dir=parent.workdir),
           "CLUSTERCTL_DISABLE_VERSIONCHECK": "true"}
    began = time.perf_counter()
    done = subprocess.run([clusterctl, "move", "--kubeconfig", str(parent.kubeconfig), "--to-kubeconfig",
                           str(child.kubeconfig), "--namespace", f"capi-{CHILD}"], capture_output=True, text=True,
                          env=env, timeout=1800, check=False)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"clusterctl move failed: {done.stderr[-2000:]}")
    emptied(parent)
    return seconds


async def main_async(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-pivot-"))
    planes: list[lattice_dev.ControlPlane] = []
    agent: Proc | None = None
    try:
        for name in ("parent", "child"):
            cp = lattice_dev.ControlPlane.start(workdir / name, controller_manager=True, upstream_crds=False)
            install_capi(cp)
            planes.append(cp)
        parent, child = planes
        target = resolve(str(parent.kubeconfig), None)
        kube = await KubeApi.connect(target)
        config = CellConfig(cluster="parent", bind="127.0.0.1", grpc_port=0, bootstrap_port=0, proxy_port=0,
                            health_port=0, pivot_interval=3600, provisioning_interval=0)
        cell = Cell(config, SecretCaStorage(kube), SecretTokenStore(kube), kube, KubeExecutor(target))
        await cell.start()
        token = await issue_token(SecretTokenStore(kube), CHILD)
        ctx = pki.client_ssl_context(cell.ca().trust_pem())
        async with httpx.AsyncClient(verify=ctx) as client:
            resp = await client.get(f"https://127.0.0.1:{cell.bootstrap_port}/api/clusters/{CHILD}/manifests",
                                    headers={"Authorization": f"Bearer {token}"})
            resp.raise_for_status()
        child.apply(resp.text)
        agent = start_agent(child, workdir, CHILD)
        await cell.agents.wait_session(CHILD, 120)
        source = MoveApi(kube)
        child_kube = await KubeApi.connect(resolve(str(child.kubeconfig), None))
        target_api = MoveApi(child_kube)
        sizes = [(50, 1 if args.quick else 3)] + ([] if args.quick else [(500, 2)])
        results: dict[int, list[float]] = {}
        direct: dict[int, list[float]] = {}
        counts: dict[int, int] = {}
        for size, rounds in sizes:
            for _ in range(rounds):  # interleaved: tunnel, direct, tunnel, direct, ...
                seconds, moved = await one_round(cell, parent, child, workers_for(size))
                results.setdefault(size, []).append(seconds)
                counts[size] = moved
                base = await direct_round(source, target_api, parent, child, workers_for(size))
                direct.setdefault(size, []).append(base)
                print(f"  {moved} objects: tunnel {seconds:.3f}s, direct {base:.3f}s", file=sys.stderr)
        clusterctl = args.clusterctl or os.environ.get("LATTICE_CLUSTERCTL_BIN") or shutil.which("clusterctl")
        moved_by_clusterctl: dict[int, float] = {}
        if clusterctl:
            clusterctl_setup(parent, child)
            for size, _ in sizes:
                moved_by_clusterctl[size] = clusterctl_round(clusterctl, parent, child, workers_for(size))
                print(f"  clusterctl move, ~{size} objects: {moved_by_clusterctl[size]:.3f}s", file=sys.stderr)
        small, small_direct = statistics.median(results[50]), statistics.median(direct[50])
        print(f"objects={counts[50]}")
        print(f"pivot_seconds={small:.3f}")
        print(f"pivot_seconds_range={min(results[50]):.3f}-{max(results[50]):.3f}")
        print("pivot_target_seconds=2.0")
        print(f"direct_move_seconds={small_direct:.3f}")
        print(f"pivot_vs_direct_ratio={small / small_direct:.2f}")
        if 50 in moved_by_clusterctl:
            print(f"clusterctl_move_seconds={moved_by_clusterctl[50]:.3f}")
            print(f"pivot_vs_clusterctl_ratio={small / moved_by_clusterctl[50]:.2f}")
        else:
            print("clusterctl_move_seconds=unavailable")
        if 500 in results:
            large, large_direct = statistics.median(results[500]), statistics.median(direct[500])
            print(f"objects_large={counts[500]}")
            print(f"pivot_seconds_large={large:.3f}")
            print(f"direct_move_seconds_large={large_direct:.3f}")
            print(f"pivot_large_vs_small_ratio={large / small:.2f}")
            print(f"pivot_ms_per_object_large={1000 * large / counts[500]:.2f}")
            if 500 in moved_by_clusterctl:
                print(f"clusterctl_move_seconds_large={moved_by_clusterctl[500]:.3f}")
        await child_kube.aclose()
        agent.kill()  # before the cell: its stream ends as a client going away, not a cancelled RPC
        agent = None
        await cell.stop()
        await kube.aclose()
    finally:
        if agent is not None:
            agent.kill()
        for cp in planes:
            cp.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round of ~50 objects (a smoke check)")
    parser.add_argument("--clusterctl", help="a clusterctl v1.13.6 binary to compare with "
                        "(else $LATTICE_CLUSTERCTL_BIN, else clusterctl on PATH, else none)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
