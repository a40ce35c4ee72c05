"""Generic object access for a move, on ``lattice_tunnel.kube_api`` (kr8s): lists, reads and writes
of any kind, the move kinds from the CRDs, and discovery (kind → plural) cached per group version.

Errors: ``KubeApiError`` with the HTTP status; ``retryable`` says whether trying again may help.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from typing import Any

import httpx

from crds import KubeObject
from lattice_move.graph import MoveError
from lattice_move.resources import ResourceType, group_of, move_types
from lattice_tunnel.kube_api import KubeApi, KubeApiError

MERGE_PATCH = "application/merge-patch+json"
CRDS = ResourceType("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
                    namespaced=False)


def retryable(exc: BaseException) -> bool:
    if isinstance(exc, KubeApiError):
        return exc.status == 429 or exc.status >= 500
    return isinstance(exc, httpx.TransportError | OSError | asyncio.TimeoutError)


def _path(rtype: ResourceType, name: str = "", sub: str = "") -> str:
    return "/".join(p for p in (rtype.plural, urllib.parse.quote(name, safe=""), sub) if p)


class MoveApi:
    """One API server, as a move sees it."""

    def __init__(self, kube: KubeApi, types_ttl: float = 60.0) -> None:
        self.kube = kube
        self.types_ttl = types_ttl
        self._discovered: dict[str, dict[str, ResourceType]] = {}
        self._types: tuple[float, list[ResourceType]] | None = None

    def _ns(self, rtype: ResourceType, namespace: str | None) -> str | None:
        return namespace if rtype.namespaced else None

    async def move_types(self) -> list[ResourceType]:
        """The move kinds; the CRD list (megabytes of schemas) is read at most once a minute."""
        now = time.monotonic()
        if self._types is None or now - self._types[0] > self.types_ttl:
            listing = await self.kube.request("GET", CRDS.plural, version=CRDS.api_version)
            self._types = (now, move_types((listing or {}).get("items") or []))
        return list(self._types[1])

    async def resource(self, api_version: str, kind: str) -> ResourceType:
        """The kind's plural and scope from the API server's discovery."""
        known = self._discovered.get(api_version)
        if known is None:
            url = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            group, _, version = api_version.rpartition("/")
            doc = await self.kube.request("GET", "", version=api_version, allow=(404,))
            if doc is None:
                raise MoveError(f"{url} is not served here: install the {api_version} CRDs first")
            known = {str(r["kind"]): ResourceType(group, version, str(r["kind"]), str(r["name"]),
                                                  namespaced=bool(r.get("namespaced")))
                     for r in doc.get("resources") or [] if "/" not in str(r.get("name"))}
            self._discovered[api_version] = known
        if kind not in known:
            raise MoveError(f"kind {kind} is not served in {api_version} here: install its CRD first")
        return known[kind]

    async def resource_of(self, obj: KubeObject) -> ResourceType:
        return await self.resource(str(obj.get("apiVersion") or ""), str(obj.get("kind") or ""))

    async def list(self, rtype: ResourceType, namespace: str | None, selector: str = "") -> list[KubeObject]:
        """Every object of the kind in the namespace, each with apiVersion and kind (core lists
        leave them out); [] when the kind is not served."""
        url = rtype.plural + (f"?labelSelector={urllib.parse.quote(selector)}" if selector else "")
        listing = await self.kube.request("GET", url, version=rtype.api_version,
                                          namespace=self._ns(rtype, namespace), allow=(404,))
        items = (listing or {}).get("items") or []
        for item in items:
            item.setdefault("apiVersion", rtype.api_version)
            item.setdefault("kind", rtype.kind)
        return list(items)

    async def get(self, rtype: ResourceType, namespace: str | None, name: str) -> KubeObject | None:
        obj = await self.kube.request("GET", _path(rtype, name), version=rtype.api_version,
                                      namespace=self._ns(rtype, namespace), allow=(404,))
        if obj is not None:
            obj.setdefault("apiVersion", rtype.api_version)
            obj.setdefault("kind", rtype.kind)
        return obj

    async def create(self, rtype: ResourceType, obj: KubeObject) -> KubeObject | None:
        """The created object, or None when one of that name exists (409)."""
        namespace = (obj.get("metadata") or {}).get("namespace")
        return await self.kube.request("POST", rtype.plural, version=rtype.api_version,
                                       namespace=self._ns(rtype, namespace), body=obj, allow=(409,))

    async def replace(self, rtype: ResourceType, obj: KubeObject, sub: str = "") -> KubeObject | None:
        """PUT (``sub="status"``: the status subresource); None when absent (404: no such object,
        or the kind has no status subresource)."""
        meta = obj.get("metadata") or {}
        return await self.kube.request("PUT", _path(rtype, str(meta.get("name")), sub), version=rtype.api_version,
                                       namespace=self._ns(rtype, meta.get("namespace")), body=obj, allow=(404,))

    async def merge_patch(self, rtype: ResourceType, namespace: str | None, name: str,
                          patch: dict[str, Any]) -> KubeObject | None:
        return await self.kube.request("PATCH", _path(rtype, name), version=rtype.api_version,
                                       namespace=self._ns(rtype, namespace), body=patch, content_type=MERGE_PATCH,
                                       allow=(404,))

    async def delete(self, rtype: ResourceType, namespace: str | None, name: str, uid: str = "") -> bool:
        """False when it was already gone (or replaced by another object of that name)."""
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}
        if uid:
            body["preconditions"] = {"uid": uid}
        done = await self.kube.request("DELETE", _path(rtype, name), version=rtype.api_version,
                                       namespace=self._ns(rtype, namespace), body=body, allow=(404, 409))
        return done is not None


def api_group(api_version: str) -> str:
    return group_of(api_version)
