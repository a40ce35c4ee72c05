"""The cell's and the agent's own state in their cluster's API, on kr8s: Secrets (the cell's CA and
bootstrap tokens, the agent's parent config and credentials), the server version, and the few
Lattice objects a cell reads or marks (CedarPolicies to hand down, a LatticeCluster's bootstrap).

Built once per process (``KubeApi.connect``), as kr8s re-authenticates and writes its credential
files anew on every ``kr8s.asyncio.api()`` call. Requests go through kr8s' ``call_api`` (its
kubeconfig, auth and session): a single GET by name, never kr8s' ``get``, which lists and polls
for a missing object; a replace is a PUT carrying the ``resourceVersion`` it read, so a concurrent
writer makes it fail with 409 (``KubeApiError``).
The tunnel's last hop does not come here: it forwards raw bytes (``kube_exec``).
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import attrs
import httpx
import kr8s
import kr8s.asyncio

from lattice_tunnel.kube_target import KubeTarget

MANAGED_BY = {"app.kubernetes.io/managed-by": "lattice"}


class KubeApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"kube-apiserver answered {status}: {message}")
        self.status = status


def _status(exc: kr8s.ServerError) -> int:
    return exc.response.status_code if exc.response is not None else 500


class KubeApi:
    """One kr8s API session for a process; ``aclose`` it on the way out."""

    def __init__(self, api: kr8s.asyncio.Api) -> None:
        self.api = api

    @classmethod
    async def connect(cls, target: KubeTarget) -> KubeApi:
        """The same server and credentials as ``target``: its kubeconfig file and context, or the
        pod's service account when it was resolved in-cluster."""
        if target.kubeconfig is not None:
            api = await kr8s.asyncio.api(kubeconfig=target.kubeconfig, context=target.context)
        else:
            sa_dir = str(Path(target.token_file).parent) if target.token_file else None
            api = await kr8s.asyncio.api(serviceaccount=sa_dir)
        return cls(api)

    async def aclose(self) -> None:
        session = getattr(self.api, "_session", None)  # kr8s exposes no close of its own
        if isinstance(session, httpx.AsyncClient):
            await session.aclose()

    async def _request(self, method: str, url: str, *, version: str = "v1", base: str = "",
                       namespace: str | None = None, body: Any = None, content_type: str = "application/json",
                       allow: tuple[int, ...] = (), params: dict[str, str] | None = None) -> dict[str, Any] | None:
        """The decoded answer, or None when its status is in ``allow``. A 429 (also "storage is
        (re)initializing" right after a CRD is created) is retried a few times; any other error
        becomes a ``KubeApiError``."""
        content = json.dumps(body) if body is not None else None
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        for attempt in range(6):
            try:
                async with self.api.call_api(method, version=version, base=base, namespace=namespace, url=url,
                                             content=content, headers=headers, params=params) as resp:
                    answer: dict[str, Any] = resp.json()
                    return answer
            except kr8s.ServerError as exc:
                code = _status(exc)
                if code in allow:
                    return None
                if code != 429 or attempt == 5:
                    raise KubeApiError(code, f"{method} {url}: {exc}") from exc
                retry_after = exc.response.headers.get("retry-after", "") if exc.response is not None else ""
                await asyncio.sleep(min(float(retry_after) if retry_after.isdigit() else 0.2, 1.0) * (attempt + 1))
        raise AssertionError("unreachable")

    async def server_version(self) -> str:
        info = await self.api.version()
        return str(info.get("gitVersion", ""))

    async def ensure_namespace(self, name: str) -> None:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        await self._request("POST", "namespaces", body=body, allow=(409,))

    async def get_secret(self, namespace: str, name: str) -> tuple[dict[str, bytes], str] | None:
        """(decoded data, resourceVersion) or None when absent."""
        obj = await self._request("GET", f"secrets/{name}", namespace=namespace, allow=(404,))
        if obj is None:
            return None
        data = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
        return data, str(obj["metadata"]["resourceVersion"])

    async def put_secret(self, namespace: str, name: str, data: dict[str, bytes],
                         resource_version: str | None = None, secret_type: str = "Opaque",
                         labels: dict[str, str] | None = None) -> str:
        """Create, or replace with optimistic concurrency when ``resource_version`` is given (a 409
        then means someone else wrote first). Returns the new resourceVersion."""
        meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": {**MANAGED_BY, **(labels or {})}}
        body = {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": secret_type,
                "data": {k: base64.b64encode(v).decode() for k, v in data.items()}}
        if resource_version is None:
            created = await self._request("POST", "secrets", namespace=namespace, body=body, allow=(409,))
            if created is not None:
                return str(created["metadata"]["resourceVersion"])
            current = await self.get_secret(namespace, name)
            resource_version = current[1] if current else None
        meta["resourceVersion"] = resource_version
        replaced = await self._request("PUT", f"secrets/{name}", namespace=namespace, body=body)
        assert replaced is not None
        return str(replaced["metadata"]["resourceVersion"])

    async def secret_labels(self, namespace: str, selector: str) -> list[dict[str, str]]:
        """The labels of every Secret in ``namespace`` matching the label ``selector`` (no data)."""
        listing = await self._request("GET", "secrets", namespace=namespace, params={"labelSelector": selector})
        assert listing is not None
        return [dict((item.get("metadata") or {}).get("labels") or {}) for item in listing.get("items") or []]

    async def drop_secret_keys(self, namespace: str, name: str, keys: list[str]) -> bool:
        """Remove `keys` from a Secret's data (a JSON merge patch); False when it does not exist."""
        patch = {"data": dict.fromkeys(keys)}
        patched = await self._request("PATCH", f"secrets/{name}", namespace=namespace, body=patch,
                                      content_type="application/merge-patch+json", allow=(404,))
        return patched is not None

    async def list_objects(self, group_version: str, plural: str,
                           namespace: str | None) -> list[dict[str, Any]] | None:
        """The objects of a custom kind (``namespace`` None: cluster-scoped); None when the kind
        is not served."""
        listing = await self._request("GET", plural, version=group_version, base="/apis", namespace=namespace,
                                      allow=(404,))
        return None if listing is None else list(listing.get("items") or [])

    async def merge_patch_status(self, group_version: str, plural: str, name: str, status: dict[str, Any]) -> bool:
        """Merge ``status`` into a cluster-scoped object's status; False when it does not exist."""
        patched = await self._request("PATCH", f"{plural}/{name}/status", version=group_version, base="/apis",
                                      body={"status": status}, content_type="application/merge-patch+json",
                                      allow=(404,))
        return patched is not None


@attrs.define
class SecretCaStorage:
    """``pki.CaStorage`` in a Secret (default lattice-system/lattice-ca)."""

    client: KubeApi
    namespace: str = "lattice-system"
    name: str = "lattice-ca"

    async def load(self) -> dict[str, bytes] | None:
        found = await self.client.get_secret(self.namespace, self.name)
        return found[0] if found else None

    async def save(self, data: dict[str, bytes]) -> None:
        await self.client.ensure_namespace(self.namespace)
        await self.client.put_secret(self.namespace, self.name, data)
