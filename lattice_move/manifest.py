"""How an object leaves the source and arrives on the target (pure).

Exported: the object as the source stores it, ``status`` included. Imported: the metadata the
target assigns itself is dropped (uid, resourceVersion, timestamps, managedFields, owners), so are
annotations that must not travel (``delete-for-move``, kubectl's last-applied, the pivot driver's
own marks); ``lattice.dev/source-uid`` records where it came from, which is the source→target UID
map kept on the objects; owner references are rebuilt with target UIDs, and a label whose value is
a remapped owner's UID (Metacontroller's ``controller-uid``) follows it. ``status`` is written
separately, after the create, through the status subresource: clusterctl leaves it to the
controllers, but some providers keep state only there (CAPO's network IDs, for instance), and the
target's LatticeCluster hook can report Ready at once.

Finalizers travel (Cluster API's own), so the target's controllers protect the objects from the
first moment.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import attrs

from crds import KubeObject
from lattice_move import names


@attrs.frozen
class OwnerRef:
    """An owner reference as the source knows it."""

    source_uid: str
    api_version: str
    kind: str
    name: str
    controller: bool = False
    block_owner_deletion: bool = False

    @classmethod
    def from_reference(cls, ref: Mapping[str, Any]) -> OwnerRef:
        return cls(str(ref.get("uid") or ""), str(ref.get("apiVersion") or ""), str(ref.get("kind") or ""),
                   str(ref.get("name") or ""), bool(ref.get("controller")), bool(ref.get("blockOwnerDeletion")))

    def reference(self, target_uid: str) -> dict[str, Any]:
        ref: dict[str, Any] = {"apiVersion": self.api_version, "kind": self.kind, "name": self.name,
                               "uid": target_uid}
        if self.controller:
            ref["controller"] = True
        if self.block_owner_deletion:
            ref["blockOwnerDeletion"] = True
        return ref


def owner_refs(obj: KubeObject) -> list[OwnerRef]:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return [OwnerRef.from_reference(r) for r in refs if isinstance(r, Mapping) and r.get("uid")]


def source_uid(obj: KubeObject) -> str:
    meta = obj.get("metadata") or {}
    return str((meta.get("annotations") or {}).get(names.SOURCE_UID) or "")


def for_import(obj: KubeObject, *, source: str, namespace: str | None, owners: list[dict[str, Any]],
               remapped: Mapping[str, str]) -> tuple[KubeObject, Any]:
    """(the object to create on the target, its status or None). ``source``: its UID on the
    source; ``namespace``: the target namespace (None: cluster-scoped); ``owners``: the rebuilt
    owner references; ``remapped``: source→target UIDs of those owners (for labels)."""
    out = copy.deepcopy(dict(obj))
    status = out.pop("status", None)
    meta = dict(out.get("metadata") or {})
    for key in names.SERVER_METADATA:
        meta.pop(key, None)
    if namespace is not None:
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in names.DROPPED_ANNOTATIONS}
    annotations[names.SOURCE_UID] = source
    meta["annotations"] = annotations
    labels = meta.get("labels")
    if isinstance(labels, dict):
        meta["labels"] = {k: remapped.get(v, v) if isinstance(v, str) else v for k, v in labels.items()}
    if owners:
        meta["ownerReferences"] = owners
    out["metadata"] = meta
    return out, status


def without_server_fields(obj: KubeObject) -> KubeObject:
    """A copy fit for a create elsewhere (manifests carried by MoveComplete)."""
    out = copy.deepcopy(dict(obj))
    out.pop("status", None)
    meta = {k: v for k, v in (out.get("metadata") or {}).items() if k not in names.SERVER_METADATA}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in names.DROPPED_ANNOTATIONS}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    out["metadata"] = meta
    return out
