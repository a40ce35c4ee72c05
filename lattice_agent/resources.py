"""Distributable resources, child side: apply the parent's set in ``lattice-system`` (server-side
apply, field manager ``lattice-sync``) and delete what this parent handed down before but is no
longer in it. The child's own objects win: an object of the same name without the inherited label
is left alone (and reported). Only the distributable kinds, in ``lattice-system``, exactly as
``lattice_tunnel.distributed`` lists them (``lattice_move.agent_rights.DISTRIBUTABLE_KINDS``, which the
agent's Role is made from): a set with anything else is refused whole, naming it, before anything
is written."""

from __future__ import annotations

import logging
import urllib.parse

from lattice_move import agent_rights
from lattice_proto import agent_pb2 as pb
from lattice_tunnel import distributed
from lattice_tunnel.kube_api import KubeApi

log = logging.getLogger(__name__)

FIELD_MANAGER = "lattice-sync"
APPLY = "application/apply-patch+yaml"


async def apply_resources(kube: KubeApi, origin: str, resources: pb.DistributableResources) -> int:
    """Apply the set from parent ``origin``; returns how many objects were applied."""
    decoded = distributed.decode(resources)
    refusals = [reason for kind, obj in decoded if (reason := _refusal(kind, obj)) is not None]
    if refusals:
        raise agent_rights.Refused(f"the resources from {origin} are refused: {'; '.join(refusals)}")
    await kube.ensure_namespace(distributed.NAMESPACE)
    wanted: dict[str, set[str]] = {k.kind: set() for k in distributed.KINDS}
    applied = 0
    query = f"?fieldManager={FIELD_MANAGER}&force=true"
    for kind, obj in decoded:
        name = str(obj["metadata"]["name"])
        wanted[kind.kind].add(name)
        path = f"{kind.plural}/{urllib.parse.quote(name, safe='')}"
        existing = await kube.request("GET", path, version=kind.api_version, namespace=distributed.NAMESPACE,
                                      allow=(404,))
        labels = ((existing or {}).get("metadata") or {}).get("labels") or {}
        if existing is not None and labels.get(distributed.INHERITED) != "true":
            log.warning("%s %s/%s from %s not applied: this cluster has its own of that name", kind.kind,
                        distributed.NAMESPACE, name, origin)
            continue
        await kube.request("PATCH", path + query, version=kind.api_version, namespace=distributed.NAMESPACE,
                           body=obj, content_type=APPLY)
        applied += 1
    selector = urllib.parse.quote(f"{distributed.INHERITED}=true,{distributed.ORIGIN}={origin}")
    for kind in distributed.KINDS:
        listing = await kube.request("GET", f"{kind.plural}?labelSelector={selector}", version=kind.api_version,
                                     namespace=distributed.NAMESPACE, allow=(404,))
        for item in (listing or {}).get("items") or []:
            name = str(item["metadata"]["name"])
            if name not in wanted[kind.kind]:
                await kube.request("DELETE", f"{kind.plural}/{urllib.parse.quote(name, safe='')}",
                                   version=kind.api_version, namespace=distributed.NAMESPACE, allow=(404,))
                log.info("deleted %s %s: %s no longer hands it down", kind.kind, name, origin)
    return applied


def _refusal(kind: distributed.Kind, obj: object) -> str | None:
    if not isinstance(obj, dict):
        return f"a {kind.kind} that is not an object"
    reason = agent_rights.refusal(obj, "sync")
    if reason is None and (obj.get("apiVersion"), obj.get("kind")) != (kind.api_version, kind.kind):
        reason = f"{obj.get('kind')} ({obj.get('apiVersion')}) sent as a {kind.kind}"
    meta = obj.get("metadata")
    if reason is None and not (isinstance(meta, dict) and meta.get("name")
                               and meta.get("namespace", distributed.NAMESPACE) == distributed.NAMESPACE):
        reason = f"{kind.kind} {meta.get('name') if isinstance(meta, dict) else None!r} outside {distributed.NAMESPACE}"
    return reason
