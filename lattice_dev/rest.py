"""A small synchronous client for one control plane's API (httpx, the plane's admin token and
CA): create, read, list, patch, status writes and deletes of any kind, with the kind's plural
found by discovery. For the local cloud and the fleet, which write many objects and cannot
afford a kubectl process per object."""

from __future__ import annotations

import ssl
import urllib.parse
from pathlib import Path
from typing import Any

import httpx

Obj = dict[str, Any]


class RestError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class Rest:
    def __init__(self, server: str, token: str, ca_file: Path | str) -> None:
        self.client = httpx.Client(base_url=server, verify=ssl.create_default_context(cafile=str(ca_file)), timeout=30,
                                   headers={"Authorization": f"Bearer {token}"})
        self._plurals: dict[tuple[str, str], tuple[str, bool]] = {}

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Rest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        key = (api_version, kind)
        if key not in self._plurals:
            base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            for r in self._call("GET", base).get("resources") or []:
                if "/" not in r["name"]:
                    self._plurals[(api_version, r["kind"])] = (r["name"], bool(r.get("namespaced")))
        if key not in self._plurals:
            raise RestError(404, f"{kind} is not served in {api_version}")
        return self._plurals[key]

    def path(self, api_version: str, kind: str, namespace: str | None = None, name: str = "", sub: str = "") -> str:
        plural, namespaced = self._resource(api_version, kind)
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        parts = [base]
        if namespaced and namespace:
            parts += ["namespaces", namespace]
        parts.append(plural)
        if name:
            parts.append(urllib.parse.quote(name, safe=""))
        if sub:
            parts.append(sub)
        return "/".join(parts)

    def _call(self, method: str, path: str, body: Any = None, content_type: str = "application/json",
              allow: tuple[int, ...] = ()) -> Any:
        resp = self.client.request(method, path, json=body, headers={"Content-Type": content_type})
        if resp.status_code in allow:
            return None
        if resp.status_code >= 400:
            raise RestError(resp.status_code, f"{method} {path}: {resp.text[:500]}")
        return resp.json()

    def create(self, obj: Obj) -> Obj:
        meta = obj.get("metadata") or {}
        result: Obj = self._call("POST", self.path(obj["apiVersion"], obj["kind"], meta.get("namespace")), obj)
        return result

    def ensure(self, obj: Obj) -> Obj:
        """Create, or return the existing object of that name."""
        meta = obj.get("metadata") or {}
        created = self._call("POST", self.path(obj["apiVersion"], obj["kind"], meta.get("namespace")), obj,
                             allow=(409,))
        if created is not None:
            return dict(created)
        existing = self.get(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
        assert existing is not None
        return existing

    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> Obj | None:
        found = self._call("GET", self.path(api_version, kind, namespace, name), allow=(404,))
        return dict(found) if found is not None else None

    def list(self, api_version: str, kind: str, namespace: str | None = None, selector: str = "") -> list[Obj]:
        query = f"?labelSelector={urllib.parse.quote(selector)}" if selector else ""
        listing = self._call("GET", self.path(api_version, kind, namespace) + query, allow=(404,))
        items = list((listing or {}).get("items") or [])
        for item in items:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return items

    def merge_patch(self, api_version: str, kind: str, namespace: str | None, name: str, patch: Obj,
                    sub: str = "") -> Obj | None:
        found = self._call("PATCH", self.path(api_version, kind, namespace, name, sub), patch,
                           "application/merge-patch+json", allow=(404,))
        return dict(found) if found is not None else None

    def delete(self, api_version: str, kind: str, namespace: str | None, name: str) -> bool:
        return self._call("DELETE", self.path(api_version, kind, namespace, name), allow=(404,)) is not None
