"""The object graph of one cluster's move and its topological order (pure).

Nodes are the objects of the move kinds in the cluster's namespace. Edges are owner references
(hard) and clusterctl's soft ownerships: a Secret or ConfigMap with no owner in the graph that is
named ``<cluster>-...`` or labelled ``cluster.x-k8s.io/cluster-name=<cluster>`` (and so is every
other such object Lattice made: clusterctl's own rule, ``<cluster>-<known purpose>``, would miss
``<cluster>-lattice-bootstrap``), and a ClusterResourceSetBinding naming the cluster.

What moves: the ``Cluster`` and everything below it, every object of a ``move`` kind, every object
of a ``move-hierarchy`` kind with everything below it, and the owners (within the graph) of all
of these, so that every owner reference can be rebuilt on the target. The namespace itself goes
first. Groups: an object comes after all its owners (Kahn's algorithm); a cycle is an error.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from crds import KubeObject
from lattice_move import names
from lattice_move.resources import CONFIG_MAP, NAMESPACE, SECRET, ResourceType, group_of


class MoveError(Exception):
    """A move cannot proceed; the message says why (and what to do)."""


def _meta(obj: KubeObject) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


@attrs.define
class Node:
    rtype: ResourceType
    obj: KubeObject
    owners: list[str] = attrs.field(factory=list)  # UIDs of owners in the graph (hard)
    soft_owners: list[str] = attrs.field(factory=list)

    @property
    def uid(self) -> str:
        return str(_meta(self.obj).get("uid") or "")

    @property
    def name(self) -> str:
        return str(_meta(self.obj).get("name") or "")

    @property
    def namespace(self) -> str:
        return str(_meta(self.obj).get("namespace") or "")

    @property
    def owner_refs(self) -> list[dict[str, Any]]:
        return [r for r in _meta(self.obj).get("ownerReferences") or [] if isinstance(r, dict)]

    @property
    def labels(self) -> dict[str, str]:
        return dict(_meta(self.obj).get("labels") or {})

    def describe(self) -> str:
        return f"{self.rtype.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"


@attrs.define
class MoveGraph:
    cluster: str
    namespace: str
    nodes: dict[str, Node]  # every object seen, by UID
    moved: set[str]  # UIDs that move
    groups: list[list[Node]]  # the moved nodes in creation order

    def ordered(self) -> list[Node]:
        return [n for group in self.groups for n in group]

    def cluster_node(self) -> Node | None:
        return _find_cluster(self.nodes.values(), self.cluster)

    def owners_of(self, node: Node) -> list[str]:
        return [u for u in (*node.owners, *node.soft_owners) if u in self.moved]


def _is_capi_cluster(node: Node) -> bool:
    return node.rtype.kind == "Cluster" and node.rtype.group == names.CAPI_GROUP_SUFFIX


def _find_cluster(nodes: Iterable[Node], cluster: str) -> Node | None:
    return next((n for n in nodes if _is_capi_cluster(n) and n.name == cluster), None)


def _soft_owned(node: Node, cluster: str) -> bool:
    if node.labels.get(names.CLUSTER_NAME_LABEL) == cluster:
        return True
    if node.rtype in (SECRET, CONFIG_MAP) and node.name.startswith(cluster + "-"):
        return True
    return (node.rtype.kind == "ClusterResourceSetBinding"
            and (node.obj.get("spec") or {}).get("clusterName") == cluster)


def build_graph(objects: Iterable[tuple[ResourceType, KubeObject]], cluster: str, namespace: str,
                namespace_obj: KubeObject | None = None, *, require_cluster: bool = True) -> MoveGraph:
    nodes: dict[str, Node] = {}
    for rtype, obj in objects:
        node = Node(rtype, obj)
        if node.uid:
            nodes[node.uid] = node
    for node in nodes.values():
        node.owners = [str(r.get("uid")) for r in node.owner_refs if str(r.get("uid")) in nodes]

    root = _find_cluster(nodes.values(), cluster)
    if root is None and require_cluster:
        raise MoveError(f"no Cluster {namespace}/{cluster} to move (is Cluster API's Cluster there, "
                        "and is its CRD installed?)")
    if root is not None:
        for node in nodes.values():
            if node is not root and not node.owners and not _is_capi_cluster(node) and _soft_owned(node, cluster):
                node.soft_owners = [root.uid]

    children: dict[str, list[str]] = {}
    for node in nodes.values():
        for owner in (*node.owners, *node.soft_owners):
            children.setdefault(owner, []).append(node.uid)

    moved: set[str] = set()

    def take_below(uid: str) -> None:
        stack = [uid]
        while stack:
            current = stack.pop()
            if current in moved:
                continue
            moved.add(current)
            stack.extend(children.get(current, ()))

    if root is not None:
        take_below(root.uid)
    for node in nodes.values():
        if node.rtype.move_hierarchy:
            take_below(node.uid)
        elif node.rtype.force_move:
            moved.add(node.uid)
    # Owners of what moves move too (never another Cluster's tree): every reference stays resolvable.
    pending = list(moved)
    while pending:
        node = nodes[pending.pop()]
        for owner in node.owners:
            if owner not in moved and not (_is_capi_cluster(nodes[owner]) and nodes[owner] is not root):
                moved.add(owner)
                pending.append(owner)

    groups = _topological(nodes, moved)
    if namespace_obj is not None:
        groups.insert(0, [Node(NAMESPACE, namespace_obj)])
    return MoveGraph(cluster, namespace, nodes, moved, groups)


def _topological(nodes: dict[str, Node], moved: set[str]) -> list[list[Node]]:
    placed: set[str] = set()
    remaining = sorted(moved, key=lambda u: (nodes[u].rtype.group, nodes[u].rtype.kind, nodes[u].name))
    groups: list[list[Node]] = []
    while remaining:
        group = [u for u in remaining
                 if all(o in placed or o not in moved for o in (*nodes[u].owners, *nodes[u].soft_owners))]
        if not group:
            cycle = ", ".join(nodes[u].describe() for u in remaining[:10])
            raise MoveError(f"owner references form a cycle among: {cycle}")
        placed.update(group)
        taken = set(group)
        remaining = [u for u in remaining if u not in taken]
        groups.append([nodes[u] for u in group])
    return groups


def object_type(obj: KubeObject, types: dict[tuple[str, str], ResourceType]) -> ResourceType | None:
    return types.get((group_of(str(obj.get("apiVersion") or "")), str(obj.get("kind") or "")))
