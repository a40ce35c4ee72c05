"""lattice_cell.unpivot: the order objects handed back are created in (pure part)."""

from __future__ import annotations

import json

from lattice_cell.unpivot import creation_order, is_namespace
from lattice_proto import agent_pb2 as pb


def moved(uid: str, kind: str, owners: tuple[str, ...] = ()) -> pb.MoveObject:
    api_version = "v1" if kind == "Namespace" else "cluster.x-k8s.io/v1beta1"
    manifest = json.dumps({"apiVersion": api_version, "kind": kind, "metadata": {"name": uid}}).encode()
    return pb.MoveObject(source_uid=uid, manifest=manifest, owners=[pb.SourceOwnerRef(source_uid=o) for o in owners])


def test_the_namespace_first_then_owners_before_what_they_own() -> None:
    objects = [moved("m", "Machine", ("kcp",)), moved("c", "Cluster", ("lc",)), moved("kcp", "KCP", ("c", "lc")),
               moved("ns", "Namespace", ("lc",))]
    groups = [[o.source_uid for o in g] for g in creation_order(objects)]
    assert groups == [["ns"], ["c"], ["kcp"], ["m"]]


def test_a_namespace_is_told_by_its_kind_not_by_how_it_was_serialised() -> None:
    spaced = moved("ns", "Namespace")  # json.dumps' default separators: '"kind": "Namespace"'
    assert b'"kind": "Namespace"' in spaced.manifest and is_namespace(spaced)
    assert not is_namespace(moved("c", "Cluster"))
    assert not is_namespace(pb.MoveObject(source_uid="x", manifest=b"not json"))


def test_a_cycle_does_not_hang() -> None:
    groups = creation_order([moved("a", "X", ("b",)), moved("b", "X", ("a",))])
    assert [sorted(o.source_uid for o in g) for g in groups] == [["a", "b"]]
