"""lattice_move.manifest: what an object carries to the target (pure)."""

from __future__ import annotations

from lattice_move import names
from lattice_move.manifest import OwnerRef, for_import, owner_refs, source_uid, without_server_fields

SOURCE = {
    "apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Machine",
    "metadata": {"name": "m", "namespace": "capi-a", "uid": "u1", "resourceVersion": "7", "generation": 3,
                 "creationTimestamp": "2026-01-01T00:00:00Z", "managedFields": [{}], "finalizers": ["machine.cluster"],
                 "labels": {"controller-uid": "lc-src", "keep": "lc-src-not-exact"},
                 "annotations": {names.DELETE_FOR_MOVE: "", "kubectl.kubernetes.io/last-applied-configuration": "{}",
                                 "mine": "yes"},
                 "ownerReferences": [{"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeCluster", "name": "a",
                                      "uid": "lc-src", "controller": True, "blockOwnerDeletion": True}]},
    "spec": {"clusterName": "a"}, "status": {"phase": "Running"},
}


def test_an_imported_object_keeps_what_is_its_own_and_drops_what_the_server_assigns() -> None:
    owners = [o.reference("lc-dst") for o in owner_refs(SOURCE)]
    body, status = for_import(SOURCE, source="u1", namespace="capi-a", owners=owners, remapped={"lc-src": "lc-dst"})
    meta = body["metadata"]
    assert status == {"phase": "Running"} and "status" not in body
    for key in ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields"):
        assert key not in meta
    assert meta["finalizers"] == ["machine.cluster"]  # the target's controllers protect it at once
    assert meta["annotations"] == {"mine": "yes", names.SOURCE_UID: "u1"}
    assert meta["labels"] == {"controller-uid": "lc-dst", "keep": "lc-src-not-exact"}
    assert meta["ownerReferences"] == [{"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeCluster", "name": "a",
                                        "uid": "lc-dst", "controller": True, "blockOwnerDeletion": True}]
    assert source_uid(body) == "u1"
    assert SOURCE["metadata"]["uid"] == "u1"  # the input is not changed


def test_cluster_scoped_objects_lose_their_namespace() -> None:
    body, _ = for_import({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "capi-a", "uid": "n"}},
                         source="n", namespace=None, owners=[], remapped={})
    assert "namespace" not in body["metadata"] and "ownerReferences" not in body["metadata"]


def test_owner_references_round_trip() -> None:
    ref = OwnerRef("u", "v1", "Secret", "s", controller=False, block_owner_deletion=False)
    assert ref.reference("t") == {"apiVersion": "v1", "kind": "Secret", "name": "s", "uid": "t"}


def test_a_manifest_for_elsewhere_has_no_server_fields_nor_driver_marks() -> None:
    lc = {"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeCluster",
          "metadata": {"name": "a", "uid": "x", "resourceVersion": "1",
                       "annotations": {names.PIVOT_PHASE: "Started", names.PIVOT_IMPORTED: "true"}},
          "spec": {}, "status": {"phase": "Pivoting"}}
    out = without_server_fields(lc)
    assert out == {"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeCluster", "metadata": {"name": "a"},
                   "spec": {}}
