"""``lattice dev up --clusters N``: a fleet on one machine. A root cluster and N children, each a
local control plane running its own Lattice (Metacontroller, hooks, lattice-operator) with KWOK
nodes; the children are provisioned by the root like any cluster (a LatticeCluster each, the local
cloud booting their machines), connect through real tunnels, and are pivoted into themselves.
Prints one kubeconfig with a context per cluster, then runs until Ctrl-C.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from cli.errors import LatticeError
from cli.progress import Progress

PHASES = ("root", "children", "pivots")


def child_doc(name: str, workers: int) -> dict[str, Any]:
    return {"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeCluster", "metadata": {"name": name},
            "spec": {"providerRef": "docker",
                     "provider": {"kubernetes": {"version": "1.32.0"}, "config": {"docker": {}}},
                     "nodes": {"controlPlane": 1, "workerPools": {"default": {"replicas": workers}}}}}


def merged_kubeconfig(clusters: dict[str, Any], path: Path) -> Path:
    """One kubeconfig, one context per cluster (named like it); the first is current."""
    config: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
    for name, cluster in clusters.items():
        one = yaml.safe_load(Path(cluster.cp.kubeconfig).read_text())
        config["clusters"].append({"name": name, "cluster": one["clusters"][0]["cluster"]})
        config["users"].append({"name": f"{name}-admin", "user": one["users"][0]["user"]})
        config["contexts"].append({"name": name, "context": {"cluster": name, "user": f"{name}-admin"}})
    config["current-context"] = next(iter(clusters))
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


def up(count: int, *, workdir: Path | None, workers: int = 1, root: str = "root", wait: bool = True,
       timeout: float = 1800.0) -> dict[str, Any]:
    from cli.dev import cell_service_account, start_cluster_loop
    from lattice_dev.errors import DevClusterError
    from lattice_dev.local_cloud import LocalCloud
    from lattice_dev.local_cluster import LocalCluster

    if count < 0:
        raise LatticeError("--clusters must be 0 or more")
    workdir = workdir or Path(tempfile.mkdtemp(prefix="lattice-fleet-"))
    workdir.mkdir(parents=True, exist_ok=True)
    names = [f"child-{i}" for i in range(1, count + 1)]
    titles = {"root": f"Starting the root cluster {root!r} (control plane, Lattice, KWOK)",
              "children": f"Provisioning {count} child cluster(s) from it (local cloud)",
              "pivots": "Pivoting each child into itself"}
    clusters: dict[str, Any] = {}
    cloud = None
    started = time.monotonic()
    try:
        with Progress(PHASES, titles) as progress:
            progress.phase("root")
            try:
                clusters[root] = LocalCluster.start(root, workdir / root, start_loop=start_cluster_loop, kwok=True,
                                                    service_account=cell_service_account())
            except DevClusterError as exc:
                raise LatticeError(str(exc)) from exc
            clusters[root].add_nodes([f"{root}-node-1"], control_plane=[f"{root}-node-1"])
            cloud = LocalCloud(clusters, workdir, say=progress.note).start()
            progress.phase("children")
            for name in names:
                clusters[root].cp.apply(child_doc(name, workers))
            deadline = time.monotonic() + timeout
            while True:
                phases = _phases(clusters[root], names)
                progress.status(", ".join(f"{n} {p}" for n, p in phases.items()), None)
                if any(p in ("Pivoting", "Pivoted") for p in phases.values()):
                    progress.phase("pivots")
                if all(p == "Pivoted" for p in phases.values()):
                    break
                if any(p == "Failed" for p in phases.values()) or cloud.failed:
                    raise LatticeError(f"a child failed: {phases} {cloud.failed}")
                if time.monotonic() > deadline:
                    raise LatticeError(f"the fleet was not up after {timeout:.0f}s: {phases}")
                time.sleep(2)
            progress.finish()
        kubeconfig = merged_kubeconfig(clusters, workdir / "fleet.kubeconfig")
        seconds = time.monotonic() - started
        print(f"fleet of {count + 1} clusters up in {seconds:.0f}s; logs in {workdir}/<cluster>/logs", file=sys.stderr)
        print(f"contexts: {', '.join(clusters)} (kubectl --context NAME)", file=sys.stderr)
        print(f"export KUBECONFIG={kubeconfig}")
        if not wait:
            return {"clusters": clusters, "cloud": cloud, "kubeconfig": kubeconfig}
        _block()
    finally:
        if wait or sys.exc_info()[0] is not None:
            if cloud is not None:
                cloud.stop()
            for cluster in reversed(list(clusters.values())):
                cluster.stop()
    return {}


def _phases(root: Any, names: list[str]) -> dict[str, str]:
    out = {}
    for name in names:
        lc = root.cp.get_json("latticecluster", name) if root.cp.kubectl(
            "get", "latticecluster", name, check=False).returncode == 0 else {}
        out[name] = str((lc.get("status") or {}).get("phase") or "Pending")
    return out


def _block() -> None:
    import signal

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    print("running; Ctrl-C stops every cluster", file=sys.stderr)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nstopping ...", file=sys.stderr)
