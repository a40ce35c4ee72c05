"""lattice_move.wire: batches per topological group (pure)."""

from __future__ import annotations

import json

from lattice_move import wire
from lattice_move.graph import build_graph
from lattice_move.resources import ResourceType

CLUSTER = ResourceType("cluster.x-k8s.io", "v1beta2", "Cluster", "clusters")
MACHINE = ResourceType("cluster.x-k8s.io", "v1beta2", "Machine", "machines")


def graph(machines: int, pad: int = 0):  # type: ignore[no-untyped-def]
    objects = [(CLUSTER, {"apiVersion": CLUSTER.api_version, "kind": "Cluster",
                          "metadata": {"name": "a", "uid": "c", "namespace": "capi-a"}})]
    for i in range(machines):
        objects.append((MACHINE, {"apiVersion": MACHINE.api_version, "kind": "Machine",
                                  "metadata": {"name": f"m{i}", "uid": f"m{i}", "namespace": "capi-a",
                                               "ownerReferences": [{"uid": "c", "kind": "Cluster", "name": "a",
                                                                    "apiVersion": CLUSTER.api_version}]},
                                  "spec": {"pad": "x" * pad}}))
    return build_graph(objects, "a", "capi-a")


def test_each_group_is_split_into_batches_and_numbered_across_the_move() -> None:
    groups = wire.batches(graph(450), "move-1", "a", "capi-a")
    assert [len(g) for g in groups] == [1, 3]  # 450 machines: 200 + 200 + 50
    flat = [b for g in groups for b in g]
    assert [b.batch_index for b in flat] == [0, 1, 2, 3] and {b.total_batches for b in flat} == {4}
    assert {b.move_id for b in flat} == {"move-1"} and {b.target_namespace for b in flat} == {"capi-a"}
    machine = flat[1].objects[0]
    assert machine.owners[0].source_uid == "c" and json.loads(machine.manifest)["kind"] == "Machine"


def test_large_objects_are_split_by_size() -> None:
    groups = wire.batches(graph(10, pad=1024 * 1024), "m", "a", "capi-a")
    assert all(sum(o.ByteSize() for o in b.objects) <= wire.MAX_BATCH_BYTES + 1100 * 1024 for b in groups[1])
    assert len(groups[1]) >= 3
