"""The target side of a move: create the objects batch by batch, owners first, and finish.

Owner references are rebuilt through the source→target UID map, which lives on the objects
themselves (``lattice.dev/source-uid``): an owner is found by name on the target and accepted only
if it came from that source UID, so the map survives any crash, and the in-memory copy is just a
cache. An owner outside the move that is cluster-scoped (the LatticeCluster Metacontroller made
these objects for) is found by name; if it does not exist yet — the target's copy of the
LatticeCluster comes with ``MoveComplete``, so that its controller sees the objects only when all
of them are there — the reference is added then. An object that already exists is updated if it
came from the same source object (a repeated batch), refused otherwise — but for the move's own
Namespace when it came from nowhere (the bootstrap manifests create ``capi-<cluster>`` with the
agent's RoleBinding in it): that one is adopted, keeping its labels. Once the target's
LatticeCluster says ``lattice.dev/import-complete``, batches change nothing (a driver that crashed
after the complete acknowledgement may send the move again).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

import crds
from crds import KubeObject
from lattice_move import agent_rights, names
from lattice_move.exporter import Exporter, bounded
from lattice_move.graph import MoveError
from lattice_move.kube import MoveApi, retryable
from lattice_move.manifest import OwnerRef, for_import, source_uid, without_server_fields
from lattice_move.resources import ResourceType
from lattice_move.wire import manifest_of, owners_of
from lattice_proto import agent_pb2 as pb
from lattice_tunnel.kube_api import KubeApiError

log = logging.getLogger(__name__)

LATTICE_CLUSTER = ResourceType(crds.GROUP, crds.VERSION, "LatticeCluster", "latticeclusters", namespaced=False)
RETRIES = 4


@attrs.define
class _Pending:
    rtype: ResourceType
    namespace: str | None
    name: str
    owners: list[OwnerRef]


@attrs.define
class _Move:
    uids: dict[str, str] = attrs.field(factory=dict)  # source UID -> target UID (a cache of the annotations)
    pending: list[_Pending] = attrs.field(factory=list)
    absent: set[str] = attrs.field(factory=set)  # source UIDs of cluster-scoped owners not here (yet)
    released: bool | None = None  # the move already finished here (asked once per move)


class ObjectFailed(Exception):
    def __init__(self, message: str, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


async def _retrying(what: str, step: Callable[[], Awaitable[Any]]) -> Any:
    for attempt in range(RETRIES):
        try:
            return await step()
        except ObjectFailed:
            raise
        except Exception as exc:
            if not retryable(exc) or attempt == RETRIES - 1:
                raise ObjectFailed(f"{what}: {exc}", retryable(exc)) from exc
            await asyncio.sleep(0.25 * (attempt + 1))
    raise AssertionError("unreachable")


class Importer:
    def __init__(self, api: MoveApi, concurrency: int = 16) -> None:
        self.api = api
        self.concurrency = concurrency
        self._moves: dict[str, _Move] = {}

    def _move(self, move_id: str) -> _Move:
        return self._moves.setdefault(move_id, _Move())

    async def released(self, cluster: str) -> bool:
        """Whether the move of ``cluster`` already finished here."""
        own = await self.api.get(LATTICE_CLUSTER, None, cluster)
        return own is not None and _annotations(own).get(names.IMPORT_COMPLETE) == "true"

    # ---- batches ----
    async def apply_batch(self, batch: pb.MoveObjectBatch) -> pb.MoveObjectAck:
        move = self._move(batch.move_id)
        ack = pb.MoveObjectAck()
        if move.released is None:
            move.released = await self.released(batch.cluster_name) if batch.cluster_name else False
        frozen = move.released
        results = await bounded(self.concurrency, [
            functools.partial(self._one, move, o, batch.target_namespace, frozen) for o in batch.objects])
        for obj, result in zip(batch.objects, results, strict=True):
            if isinstance(result, ObjectFailed):
                ack.errors.append(pb.MoveObjectError(source_uid=obj.source_uid, message=str(result),
                                                     retryable=result.retry))
            else:
                ack.mappings.append(pb.UidMapping(source_uid=obj.source_uid, target_uid=result))
        return ack

    async def _one(self, move: _Move, msg: pb.MoveObject, target_namespace: str, frozen: bool) -> str | ObjectFailed:
        try:
            manifest = manifest_of(msg)
            refused = _refusal(manifest, target_namespace)
            if refused is not None:
                log.warning("move %s refused: %s", target_namespace, refused)
                return ObjectFailed(refused, retry=False)
            what = f"{manifest.get('kind')} {(manifest.get('metadata') or {}).get('name')}"
            rtype = await _retrying(what, lambda: self.api.resource_of(manifest))
            namespace = (target_namespace or (manifest.get("metadata") or {}).get("namespace")) \
                if rtype.namespaced else None
            if frozen:
                return str(await self._existing_uid(rtype, namespace, manifest, msg.source_uid))
            # The bootstrap manifests made the move's namespace (with the agent's RoleBinding in it).
            prepared = (not rtype.group and rtype.kind == "Namespace" and bool(target_namespace)
                        and (manifest.get("metadata") or {}).get("name") == target_namespace)
            return str(await self._import(move, msg, manifest, rtype, namespace, what, adopt=prepared))
        except ObjectFailed as exc:
            return exc
        except (MoveError, ValueError) as exc:
            return ObjectFailed(str(exc), retry=False)

    async def _existing_uid(self, rtype: ResourceType, namespace: str | None, manifest: KubeObject,
                            source: str) -> str:
        name = str((manifest.get("metadata") or {}).get("name"))
        found = await self.api.get(rtype, namespace, name)
        if found is None or source_uid(found) != source:
            raise ObjectFailed(f"{rtype.kind} {name} is not on this cluster, yet its move is complete", retry=False)
        return str(found["metadata"]["uid"])

    async def _owner_uid(self, move: _Move, owner: OwnerRef, namespace: str | None) -> str | None:
        """The owner's UID here, or None when it is a cluster-scoped owner that does not exist yet."""
        if owner.source_uid in move.uids:
            return move.uids[owner.source_uid]
        if owner.source_uid in move.absent:
            return None
        rtype = await _retrying(f"owner {owner.kind} {owner.name}",
                                lambda: self.api.resource(owner.api_version, owner.kind))
        found = await _retrying(f"owner {owner.kind} {owner.name}",
                                lambda: self.api.get(rtype, namespace if rtype.namespaced else None, owner.name))
        if found is not None and (source_uid(found) in ("", owner.source_uid) if not rtype.namespaced
                                  else source_uid(found) == owner.source_uid):
            move.uids[owner.source_uid] = str(found["metadata"]["uid"])
            return move.uids[owner.source_uid]
        if rtype.namespaced:
            raise ObjectFailed(f"its owner {owner.kind} {owner.name} has not been moved here (yet)", retry=True)
        move.absent.add(owner.source_uid)
        return None

    async def _import(self, move: _Move, msg: pb.MoveObject, manifest: KubeObject, rtype: ResourceType,
                      namespace: str | None, what: str, adopt: bool = False) -> str:
        """``adopt``: an existing object of that name not moved from anywhere (no source UID) is
        taken over, its labels and annotations kept under the source's."""
        owners, remapped, waiting = [], {}, []
        for owner in owners_of(msg):
            uid = await self._owner_uid(move, owner, namespace)
            if uid is None:
                waiting.append(owner)
            else:
                owners.append(owner.reference(uid))
                remapped[owner.source_uid] = uid
        body, status = for_import(manifest, source=msg.source_uid, namespace=namespace, owners=owners,
                                  remapped=remapped)
        created = await _retrying(what, lambda: self.api.create(rtype, body))
        if created is None:  # it exists: a repeated batch, or a stranger of the same name
            existing = await _retrying(what, lambda: self.api.get(rtype, namespace, body["metadata"]["name"]))
            if existing is None:
                raise ObjectFailed(f"{what}: exists and does not exist (deleted meanwhile?)", retry=True)
            if adopt and not source_uid(existing):
                meta, old_meta = body["metadata"], existing.get("metadata") or {}
                for key in ("labels", "annotations"):
                    meta[key] = {**(old_meta.get(key) or {}), **(meta.get(key) or {})}
            elif source_uid(existing) != msg.source_uid:
                raise ObjectFailed(f"{what} already exists here and was not moved from this source "
                                   f"(its {names.SOURCE_UID} is {source_uid(existing) or 'unset'})", retry=False)
            body["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
            body["metadata"]["uid"] = existing["metadata"]["uid"]
            if waiting:  # keep the references a previous complete added for owners still missing from the batch
                names_waiting = {(o.kind, o.name) for o in waiting}
                kept = [r for r in (existing.get("metadata") or {}).get("ownerReferences") or []
                        if (r.get("kind"), r.get("name")) in names_waiting]
                body["metadata"]["ownerReferences"] = [*owners, *kept]
            created = await _retrying(what, lambda: self.api.replace(rtype, body))
            if created is None:
                raise ObjectFailed(f"{what}: deleted while being updated", retry=True)
        if status is not None and rtype.group:  # core kinds carry none of their own (a Namespace's is the server's)
            await self._write_status(rtype, namespace, created, status, what)
        uid = str(created["metadata"]["uid"])
        move.uids[msg.source_uid] = uid
        if waiting:
            move.pending.append(_Pending(rtype, namespace, str(body["metadata"]["name"]), waiting))
        return uid

    async def _write_status(self, rtype: ResourceType, namespace: str | None, current: KubeObject, status: Any,
                            what: str) -> None:
        """PUT the status subresource; on a conflict (someone wrote the object since), read it again."""
        for _ in range(RETRIES):
            try:
                await _retrying(f"{what} status", functools.partial(self.api.replace, rtype,
                                                                     {**current, "status": status}, "status"))
                return
            except ObjectFailed as exc:
                cause = exc.__cause__
                if not (isinstance(cause, KubeApiError) and cause.status == 409):
                    raise
            fresh = await _retrying(what, functools.partial(self.api.get, rtype, namespace,
                                                            str(current["metadata"]["name"])))
            if fresh is None:
                raise ObjectFailed(f"{what}: deleted while its status was written", retry=True)
            current = fresh
        raise ObjectFailed(f"{what}: its status kept changing under us", retry=True)

    # ---- the end ----
    async def complete(self, move_id: str, namespace: str, cluster: str, manifests: list[KubeObject],
                       apply_resources: Callable[[], Awaitable[int]] | None = None, source: str = "") -> int:
        """Apply the distributable resources, create ``manifests`` (the target's copy of the
        LatticeCluster), add the owner references that waited for them and resume Cluster API.
        Returns how many resources were applied. ``source``: the cluster the move came from, recorded
        on the LatticeCluster (``lattice.dev/imported-from``)."""
        for manifest in manifests:  # before anything is written: all of it, or a refusal naming the kind
            agent_rights.check(manifest, "complete")
            if (manifest.get("metadata") or {}).get("name") != cluster:
                raise agent_rights.Refused(f"MoveComplete may create only this cluster's own LatticeCluster "
                                           f"{cluster!r}, not {(manifest.get('metadata') or {}).get('name')!r}")
        if await self.released(cluster):
            self._moves.pop(move_id, None)
            return 0
        # The resources first: the LatticeCluster's controller finds its CloudProvider at once.
        created = await apply_resources() if apply_resources is not None else 0
        for manifest in manifests:
            rtype = await self.api.resource_of(manifest)
            body = without_server_fields(manifest)
            if rtype.key == LATTICE_CLUSTER.key and source:  # which LatticeCluster is this cluster's own, later
                body["metadata"].setdefault("annotations", {})[names.IMPORTED_FROM] = source
            what = f"{rtype.kind} {body['metadata'].get('name')}"
            await _retrying(what, functools.partial(self.api.create, rtype, body))
        move = self._move(move_id)
        move.absent.clear()  # the manifests may have created them
        await bounded(self.concurrency, [functools.partial(self._adopt, move, p) for p in move.pending])
        exporter = Exporter(self.api, self.concurrency)
        await exporter.set_paused(namespace, cluster, False)
        await self.api.merge_patch(LATTICE_CLUSTER, None, cluster,
                                   {"metadata": {"annotations": {names.IMPORT_COMPLETE: "true"}}})
        self._moves.pop(move_id, None)
        return created

    async def _adopt(self, move: _Move, pending: _Pending) -> None:
        refs, remapped = [], {}
        for owner in pending.owners:
            uid = await self._owner_uid(move, owner, pending.namespace)
            if uid is None:
                raise MoveError(f"{pending.rtype.kind} {pending.name}: its owner {owner.kind} {owner.name} "
                                "does not exist here")
            refs.append(owner.reference(uid))
            remapped[owner.source_uid] = uid
        current = await self.api.get(pending.rtype, pending.namespace, pending.name)
        if current is None:
            raise MoveError(f"{pending.rtype.kind} {pending.name} disappeared before its owners were added")
        meta = current.get("metadata") or {}
        known = {r.get("uid") for r in meta.get("ownerReferences") or []}
        owners = [*(meta.get("ownerReferences") or []), *(r for r in refs if r["uid"] not in known)]
        labels = {k: remapped.get(v, v) for k, v in (meta.get("labels") or {}).items()}
        await self.api.merge_patch(pending.rtype, pending.namespace, pending.name,
                                   {"metadata": {"ownerReferences": owners, "labels": labels}})


def _refusal(manifest: KubeObject, target_namespace: str) -> str | None:
    """Why a batch object is not imported at all: a kind outside the allow-list
    (``agent_rights.PIVOT_KINDS``, which the agent's ClusterRole is made from), or a Namespace other
    than the move's own."""
    refused = agent_rights.refusal(manifest, "pivot")
    name = (manifest.get("metadata") or {}).get("name")
    if refused is None and manifest.get("kind") == "Namespace" and target_namespace and name != target_namespace:
        refused = f"Namespace {name!r} is not this move's namespace {target_namespace!r}"
    return refused


def _annotations(obj: KubeObject) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("annotations") or {})

