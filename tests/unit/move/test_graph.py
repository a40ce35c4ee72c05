"""lattice_move.graph: which objects move and in what order (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from lattice_move.graph import MoveError, build_graph
from lattice_move.resources import CONFIG_MAP, NAMESPACE, SECRET, ResourceType

CLUSTER = ResourceType("cluster.x-k8s.io", "v1beta2", "Cluster", "clusters")
MACHINE = ResourceType("cluster.x-k8s.io", "v1beta2", "Machine", "machines")
KCP = ResourceType("controlplane.cluster.x-k8s.io", "v1beta2", "KubeadmControlPlane", "kubeadmcontrolplanes")
TEMPLATE = ResourceType("infrastructure.cluster.x-k8s.io", "v1beta2", "DevMachineTemplate", "devmachinetemplates")
IDENTITY = ResourceType("infrastructure.cluster.x-k8s.io", "v1beta2", "Identity", "identities", force_move=True)
CRS = ResourceType("addons.cluster.x-k8s.io", "v1beta2", "ClusterResourceSet", "clusterresourcesets",
                   move_hierarchy=True)


def obj(rtype: ResourceType, name: str, uid: str, owners: tuple[str, ...] = (), labels: dict[str, str] | None = None,
        **extra: Any) -> tuple[ResourceType, dict[str, Any]]:
    meta: dict[str, Any] = {"name": name, "namespace": "capi-a", "uid": uid, "labels": labels or {},
                            "ownerReferences": [{"uid": o, "kind": "X", "name": o, "apiVersion": "v1"} for o in owners]}
    return rtype, {"apiVersion": rtype.api_version, "kind": rtype.kind, "metadata": meta, **extra}


def world() -> list[tuple[ResourceType, dict[str, Any]]]:
    return [
        obj(CLUSTER, "a", "c", owners=("lattice-cluster-uid",)),  # owned by the LatticeCluster (outside)
        obj(KCP, "a-control-plane", "kcp", owners=("c", "lattice-cluster-uid")),
        obj(MACHINE, "a-control-plane-1", "m1", owners=("kcp",)),
        obj(SECRET, "a-kubeconfig", "s1", owners=("kcp",)),
        obj(SECRET, "a-lattice-bootstrap", "s2"),  # soft: named after the cluster
        obj(CONFIG_MAP, "lb", "cm", labels={"cluster.x-k8s.io/cluster-name": "a"}),  # soft: labelled
        obj(TEMPLATE, "a-cp-1234", "t1", owners=("lattice-cluster-uid",),
            labels={"cluster.x-k8s.io/cluster-name": "a"}),  # soft when no owner is in the graph
        obj(SECRET, "unrelated", "s3"),
        obj(CLUSTER, "b", "other"),
        obj(MACHINE, "b-1", "bm", owners=("other",)),
    ]


def test_the_cluster_and_everything_below_it_moves_in_owner_order() -> None:
    graph = build_graph(world(), "a", "capi-a", {"kind": "Namespace", "metadata": {"name": "capi-a", "uid": "ns"}})
    assert graph.moved == {"c", "kcp", "m1", "s1", "s2", "cm", "t1"}
    order = [[n.uid for n in g] for g in graph.groups]
    assert graph.groups[0][0].rtype is NAMESPACE and len(order[0]) == 1  # the namespace first
    rank = {n.uid: i for i, g in enumerate(graph.groups) for n in g}
    assert rank["c"] < rank["kcp"] < rank["m1"]
    assert rank["kcp"] < rank["s1"] and rank["c"] < rank["s2"] and rank["c"] < rank["cm"] and rank["c"] < rank["t1"]
    assert graph.owners_of(graph.nodes["s2"]) == ["c"]


def test_a_missing_cluster_is_an_error_unless_cleaning_up() -> None:
    with pytest.raises(MoveError, match="no Cluster capi-a/zz"):
        build_graph(world(), "zz", "capi-a")
    assert build_graph(world(), "zz", "capi-a", require_cluster=False).moved == set()


def test_move_and_move_hierarchy_kinds_move_whatever_they_are_attached_to() -> None:
    objects = [*world(), obj(IDENTITY, "id", "i1"), obj(CRS, "crs", "r1"), obj(SECRET, "crs-data", "r2",
                                                                              owners=("r1",))]
    graph = build_graph(objects, "a", "capi-a")
    assert {"i1", "r1", "r2"} <= graph.moved


def test_owners_of_what_moves_move_too_but_never_another_cluster() -> None:
    objects = [*world(), obj(TEMPLATE, "shared", "owner-t"), obj(MACHINE, "a-x", "mx", owners=("c", "owner-t")),
               obj(SECRET, "a-y", "sy", owners=("kcp", "other"))]
    graph = build_graph(objects, "a", "capi-a")
    assert "owner-t" in graph.moved  # its owner reference must be rebuilt on the target
    assert "other" not in graph.moved and "bm" not in graph.moved


def test_a_cycle_is_reported() -> None:
    objects = [obj(CLUSTER, "a", "c"), obj(MACHINE, "x", "x", owners=("c", "y")), obj(MACHINE, "y", "y", owners=("x",))]
    with pytest.raises(MoveError, match="cycle"):
        build_graph(objects, "a", "capi-a")
