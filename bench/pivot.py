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
and the parent's cluster made again. ``clusterctl move`` is not compared: see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
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
from lattice_cell.bootstrap_tokens import SecretTokenStore, issue_token  # noqa: E402
from lattice_cell.cell import Cell, CellConfig  # noqa: E402
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


async def one_round(cell: Cell, parent: lattice_dev.ControlPlane, child: lattice_dev.ControlPlane,
                    workers: int) -> tuple[float, int]:
    reset_child(child)
    with rest_for(parent) as rest:
        parent.kubectl("delete", "namespace", f"capi-{CHILD}", "--ignore-not-found", "--wait=true", timeout=300)
        parent.kubectl("delete", "latticecluster", CHILD, "--ignore-not-found")
        lc = make_world(rest, CHILD, workers=workers)
    session = await cell.agents.wait_session(CHILD, 60)
    assert cell.pivots is not None
    began = time.perf_counter()
    moved = await cell.pivots.pivot(CHILD, lc, session)
    seconds = time.perf_counter() - began
    left = parent.get_json("machines,secrets", "-n", f"capi-{CHILD}")["items"]
    assert not [o for o in left if o["kind"] == "Machine"], "the source was not emptied"
    return seconds, moved


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
        sizes = [(50, 1 if args.quick else 3)] + ([] if args.quick else [(500, 2)])
        results: dict[int, list[float]] = {}
        counts: dict[int, int] = {}
        for size, rounds in sizes:
            for _ in range(rounds):
                seconds, moved = await one_round(cell, parent, child, workers_for(size))
                results.setdefault(size, []).append(seconds)
                counts[size] = moved
                print(f"  {moved} objects: {seconds:.3f}s", file=sys.stderr)
        small = statistics.median(results[50])
        print(f"objects={counts[50]}")
        print(f"pivot_seconds={small:.3f}")
        print(f"pivot_seconds_min={min(results[50]):.3f}")
        print("pivot_target_seconds=2.0")
        if 500 in results:
            large = statistics.median(results[500])
            print(f"objects_large={counts[500]}")
            print(f"pivot_seconds_large={large:.3f}")
            print(f"pivot_large_vs_small_ratio={large / small:.2f}")
            print(f"pivot_ms_per_object_large={1000 * large / counts[500]:.2f}")
        await cell.stop()
        await kube.aclose()
    finally:
        if agent is not None:
            agent.kill()
        for cp in planes:
            cp.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round of ~50 objects (a smoke check)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
