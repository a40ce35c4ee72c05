"""lattice_dev.local_cluster: the CRDs a local cluster needs for Lattice's LatticeCluster controller."""

from __future__ import annotations

from hooks.controllers import latticecluster
from lattice_dev.local_cluster import PROVIDER_CRDS


def test_every_child_kind_of_the_cluster_controller_outside_core_cluster_api_is_installed() -> None:
    children = {f"{r.kind.resource}.{r.kind.api_version.rpartition('/')[0]}" for r in latticecluster.CHILDREN
                if "/" in r.kind.api_version}
    core = {c for c in children if c.endswith(".cluster.x-k8s.io") and c.count(".") == 3}
    assert children - core == set(PROVIDER_CRDS)
