"""lattice_move.resources: the move kinds from the CRDs (pure)."""

from __future__ import annotations

from typing import Any

from lattice_move import names
from lattice_move.resources import CONFIG_MAP, SECRET, move_types


def crd(group: str, kind: str, labels: dict[str, str] | None = None, scope: str = "Namespaced") -> dict[str, Any]:
    return {"metadata": {"name": f"{kind.lower()}s.{group}", "labels": labels or {}},
            "spec": {"group": group, "scope": scope, "names": {"kind": kind, "plural": f"{kind.lower()}s"},
                     "versions": [{"name": "v1beta1", "served": True, "storage": False},
                                  {"name": "v1beta2", "served": True, "storage": True}]}}


def test_capi_groups_and_labelled_crds_move_in_their_storage_version() -> None:
    types = move_types([
        crd("cluster.x-k8s.io", "Machine"),
        crd("infrastructure.cluster.x-k8s.io", "AWSClusterStaticIdentity", scope="Cluster"),
        crd("example.com", "Thing", {names.MOVE_LABEL: ""}),
        crd("example.com", "Tree", {names.MOVE_HIERARCHY_LABEL: ""}),
        crd("ipam.example.com", "Address", {names.CLUSTERCTL_LABEL: ""}),
        crd("lattice.dev", "LatticeService"),
    ])
    assert types[:2] == [SECRET, CONFIG_MAP]
    by_kind = {t.kind: t for t in types}
    assert set(by_kind) == {"Secret", "ConfigMap", "Machine", "AWSClusterStaticIdentity", "Thing", "Tree", "Address"}
    assert by_kind["Machine"].api_version == "cluster.x-k8s.io/v1beta2"
    assert not by_kind["AWSClusterStaticIdentity"].namespaced
    assert by_kind["Thing"].force_move and by_kind["Tree"].move_hierarchy
