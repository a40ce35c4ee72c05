"""Move* messages from and to the graph (pure): one ``MoveObjectBatch`` per chunk of a group, each
object as its source JSON with its owner references as the source knows them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from crds import KubeObject
from lattice_move.graph import MoveGraph, Node
from lattice_move.manifest import OwnerRef, owner_refs
from lattice_proto import agent_pb2 as pb

# A gRPC message is at most 16 MiB here; a batch stays well below it whatever the objects.
MAX_BATCH_OBJECTS = 200
MAX_BATCH_BYTES = 4 * 1024 * 1024


def _encode(obj: KubeObject) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def move_object(node: Node) -> pb.MoveObject:
    return pb.MoveObject(source_uid=node.uid, manifest=_encode(node.obj), owners=[
        pb.SourceOwnerRef(source_uid=o.source_uid, api_version=o.api_version, kind=o.kind, name=o.name,
                          controller=o.controller, block_owner_deletion=o.block_owner_deletion)
        for o in owner_refs(node.obj)])


def owners_of(msg: pb.MoveObject) -> list[OwnerRef]:
    return [OwnerRef(o.source_uid, o.api_version, o.kind, o.name, o.controller, o.block_owner_deletion)
            for o in msg.owners]


def manifest_of(msg: pb.MoveObject) -> KubeObject:
    obj = json.loads(msg.manifest)
    if not isinstance(obj, dict):
        raise ValueError("a moved object must be a JSON object")
    return obj


def _chunks(nodes: list[Node]) -> Iterator[list[pb.MoveObject]]:
    chunk: list[pb.MoveObject] = []
    size = 0
    for node in nodes:
        msg = move_object(node)
        weight = msg.ByteSize()
        if chunk and (len(chunk) >= MAX_BATCH_OBJECTS or size + weight > MAX_BATCH_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(msg)
        size += weight
    if chunk:
        yield chunk


def batches(graph: MoveGraph, move_id: str, cluster: str, target_namespace: str) -> list[list[pb.MoveObjectBatch]]:
    """Per topological group, its batches (the batches of one group may be applied concurrently;
    a group only after every batch of the groups before it)."""
    groups = [list(_chunks(group)) for group in graph.groups]
    total = sum(len(g) for g in groups)
    out: list[list[pb.MoveObjectBatch]] = []
    index = 0
    for group in groups:
        mine = []
        for objects in group:
            mine.append(pb.MoveObjectBatch(move_id=move_id, batch_index=index, total_batches=total, objects=objects,
                                           target_namespace=target_namespace, cluster_name=cluster))
            index += 1
        out.append(mine)
    return out


def manifests(objs: Iterable[KubeObject]) -> list[bytes]:
    return [_encode(o) for o in objs]
