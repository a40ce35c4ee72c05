"""A provisioned cluster's Cluster API objects on a real API server, for the pivot tests and
bench/pivot.py: the LatticeCluster and what the cluster compiler makes for it (owned by it as
Metacontroller owns its children), then what Cluster API's controllers add (lattice_dev's
CapiDouble: MachineSets, Machines, bootstrap configs, infrastructure machines, Secrets, statuses)."""

from __future__ import annotations

import contextlib
import copy
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

import crds
import lattice_dev
from crds import CloudProvider
from hooks.cluster import AgentBootstrap, ClusterInputs, compile_cluster
from lattice_dev.capi_double import CapiDouble
from lattice_dev.rest import Rest

ROOT = Path(__file__).resolve().parents[2]
Obj = dict[str, Any]


def capi_crd_files() -> list[Path]:
    def crds_sh(*args: str) -> list[Path]:
        out = subprocess.run(["bash", str(ROOT / "testbed" / "crds.sh"), *args], capture_output=True, text=True,
                             timeout=300, check=True).stdout
        return [Path(p) for p in out.split()]

    return [p for p in crds_sh() if "cluster-api" in str(p)] + crds_sh("--capi")


def install_capi(cp: lattice_dev.ControlPlane) -> None:
    """Cluster API (core, kubeadm, CAPD) and Lattice CRDs."""
    cp.install_crds(capi_crd_files(), names=lattice_dev.ALL)
    cp.install_crds(lattice_dev.lattice_crds())


@contextlib.contextmanager
def capi_planes(workdir: Path, bin_dir: Path, *names: str) -> Iterator[list[lattice_dev.ControlPlane]]:
    """One control plane per name (in `workdir/<name>`), each with the CRDs of `install_capi`;
    all stopped afterwards."""
    started: list[lattice_dev.ControlPlane] = []
    try:
        for name in names:
            cp = lattice_dev.ControlPlane.start(workdir / name, controller_manager=False, upstream_crds=False,
                                                bin_dir=bin_dir)
            started.append(cp)
            install_capi(cp)
        yield started
    finally:
        for cp in started:
            cp.stop()


def docker_provider() -> CloudProvider:
    docs = [d for d in yaml.safe_load_all((ROOT / "examples" / "clusters" / "cloud-providers.yaml").read_text()) if d]
    providers = [crds.parse(d).obj for d in docs]
    return next(p for p in providers if isinstance(p, CloudProvider) and p.name == "docker")


def cluster_doc(name: str, workers: int = 2, control_plane: int = 1) -> Obj:
    doc = yaml.safe_load((ROOT / "examples" / "clusters" / "docker.yaml").read_text())
    doc["metadata"]["name"] = name
    doc["spec"]["nodes"]["controlPlane"] = control_plane
    doc["spec"]["nodes"]["workerPools"]["default"]["replicas"] = workers
    return dict(doc)


def make_world(rest: Rest, name: str, workers: int = 2, control_plane: int = 1,
               endpoint: tuple[str, int] | None = None, owned: bool = True) -> Obj:
    """Create the cluster ``name`` as a parent sees it once provisioned; returns its LatticeCluster.
    ``owned``: the compiler's objects are owned by the LatticeCluster, as Metacontroller owns its
    children (False: plain Cluster API objects, as clusterctl expects them)."""
    doc = cluster_doc(name, workers, control_plane)
    cluster = crds.parse(copy.deepcopy(doc)).obj
    plan = compile_cluster(ClusterInputs(cluster, docker_provider(), AgentBootstrap()))  # type: ignore[arg-type]
    assert not plan.errors and plan.waiting is None, (plan.errors, plan.waiting)
    lc = rest.ensure(doc)
    uid = lc["metadata"]["uid"]
    for obj in plan.objects:
        obj = copy.deepcopy(obj)
        if not owned:
            rest.ensure(obj)
            continue
        obj["metadata"].setdefault("labels", {})["controller-uid"] = uid
        obj["metadata"]["ownerReferences"] = [{"apiVersion": crds.API_VERSION, "kind": "LatticeCluster", "name": name,
                                               "uid": uid, "controller": True, "blockOwnerDeletion": True}]
        rest.ensure(obj)
    rest.ensure({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"{name}-lattice-bootstrap",
                                                                     "namespace": f"capi-{name}"},
                 "stringData": {"token": "spent"}})
    CapiDouble(rest, f"capi-{name}", name).provision(endpoint)
    return lc


def rest_for(cp: lattice_dev.ControlPlane) -> Rest:
    return Rest(cp.server, cp.token, cp.ca_file)
