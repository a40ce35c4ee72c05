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
from collections.abc import AsyncIterator
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

    async def request(self, method: str, url: str, *, version: str = "v1", namespace: str | None = None,
                      body: Any = None, content_type: str = "application/json",
                      allow: tuple[int, ...] = ()) -> dict[str, Any] | None:
        """Any API call, with the same retries and errors as the methods here (``lattice_move``
        reaches arbitrary kinds through it). ``version``: ``v1`` or ``group/version``."""
        return await self._request(method, url, version=version, namespace=namespace, body=body,
                                   content_type=content_type, allow=allow)

    async def server_version(self) -> str:
        info = await self.api.version()
        return str(info.get("gitVersion", ""))

    async def ensure_namespace(self, name: str) -> None:
        """Create the namespace if missing. Not allowed to (403, as the cell's own role): the install
        made it, and a missing one shows up as a 404 on the next write."""
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        await self._request("POST", "namespaces", body=body, allow=(409, 403))

    async def get_secret(self, namespace: str, name: str) -> tuple[dict[str, bytes], str] | None:
        """(decoded data, resourceVersion) or None when absent."""
        obj = await self._request("GET", f"secrets/{name}", namespace=namespace, allow=(404,))
        if obj is None:
            return None
        data = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
        return data, str(obj["metadata"]["resourceVersion"])

    async def put_secret(self, namespace: str, name: str, data: dict[str, bytes],
                         resource_version: str | None = None, secret_type: str = "Opaque",
                         labels: dict[str, str] | None = None,
                         owner_references: list[dict[str, Any]] | None = None) -> str:
        """Create, or replace with optimistic concurrency when ``resource_version`` is given (a 409
        then means someone else wrote first). Returns the new resourceVersion."""
        meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": {**MANAGED_BY, **(labels or {})}}
        if owner_references:
            meta["ownerReferences"] = owner_references
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

    async def put_configmap(self, namespace: str, name: str, data: dict[str, str]) -> None:
        """Create or replace a ConfigMap (public facts only: a Secret is for anything else)."""
        body = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY)}, "data": data}
        created = await self._request("POST", "configmaps", namespace=namespace, body=body, allow=(409,))
        if created is None:
            await self._request("PUT", f"configmaps/{name}", namespace=namespace, body=body)

    async def get_configmap(self, namespace: str, name: str) -> dict[str, str] | None:
        obj = await self._request("GET", f"configmaps/{name}", namespace=namespace, allow=(404,))
        return None if obj is None else {str(k): str(v) for k, v in (obj.get("data") or {}).items()}

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

    async def list_with_version(self, group_version: str, plural: str,
                                namespace: str | None) -> tuple[list[dict[str, Any]], str] | None:
        """(items, the list's resourceVersion) of a custom kind, to start a watch from; None when
        the kind is not served."""
        listing = await self._request("GET", plural, version=group_version, base="/apis", namespace=namespace,
                                      allow=(404,))
        if listing is None:
            return None
        return list(listing.get("items") or []), str((listing.get("metadata") or {}).get("resourceVersion", ""))

    async def watch(self, group_version: str, plural: str, namespace: str | None, resource_version: str,
                    timeout_seconds: int = 300) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """(type, object) events of a custom kind after ``resource_version`` until the server ends
        the watch (after ``timeout_seconds``). A 410 (history compacted) raises ``KubeApiError``
        with status 410: list again. Bookmarks are asked for and passed on (type BOOKMARK)."""
        params = {"watch": "true", "resourceVersion": resource_version, "allowWatchBookmarks": "true",
                  "timeoutSeconds": str(timeout_seconds)}
        try:
            async with self.api.call_api("GET", version=group_version, base="/apis", namespace=namespace,
                                         url=plural, params=params, stream=True, timeout=None) as resp:
                async for line in resp.aiter_lines():
                    if not line:
                        continue
                    event = json.loads(line)
                    obj = event.get("object") or {}
                    if event.get("type") == "ERROR":
                        raise KubeApiError(int(obj.get("code") or 500), str(obj.get("message", "watch error")))
                    yield str(event.get("type")), obj
        except kr8s.ServerError as exc:
            raise KubeApiError(_status(exc), f"watch {plural}: {exc}") from exc

    async def create(self, group_version: str, plural: str, body: dict[str, Any],
                     namespace: str | None = None, subresource: str = "") -> dict[str, Any]:
        """POST an object (or a create-only subresource such as ``serviceaccounts/x/token``, or
        a review such as ``tokenreviews``) and return the answer."""
        url = f"{plural}/{subresource}" if subresource else plural
        answer = await self._request("POST", url, version=group_version, namespace=namespace, body=body,
                                     base="/api" if group_version == "v1" else "/apis")
        assert answer is not None
        return answer

    async def openid_issuer(self) -> str | None:
        """The issuer of this API server's ServiceAccount tokens (its OIDC discovery), or None."""
        doc = await self._request("GET", "openid-configuration", version="", base="/.well-known",
                                  allow=(401, 403, 404))
        return str(doc["issuer"]) if doc and doc.get("issuer") else None

    async def merge_patch_status(self, group_version: str, plural: str, name: str, status: dict[str, Any],
                                 namespace: str | None = None) -> bool:
        """Merge ``status`` into an object's status (cluster-scoped unless ``namespace``); False when
        it does not exist."""
        patched = await self._request("PATCH", f"{plural}/{name}/status", version=group_version, base="/apis",
                                      namespace=namespace, body={"status": status},
                                      content_type="application/merge-patch+json", allow=(404,))
        return patched is not None

    async def list_labelled(self, group_version: str, plural: str, namespace: str,
                            selector: str) -> list[dict[str, Any]]:
        """The objects of a namespaced kind (``group/version``) matching a label selector."""
        listing = await self._request("GET", plural, version=group_version, base="/apis", namespace=namespace,
                                      params={"labelSelector": selector})
        assert listing is not None
        return list(listing.get("items") or [])

    async def create_if_absent(self, group_version: str, plural: str, namespace: str,
                               body: dict[str, Any]) -> dict[str, Any] | None:
        """Create a namespaced object; None when one of that name exists already (409)."""
        return await self._request("POST", plural, version=group_version, base="/apis", namespace=namespace,
                                   body=body, allow=(409,))

    async def merge_patch(self, group_version: str, plural: str, namespace: str, name: str,
                          patch: dict[str, Any]) -> dict[str, Any] | None:
        """JSON-merge-patch a namespaced object; None when it does not exist (404)."""
        return await self._request("PATCH", f"{plural}/{name}", version=group_version, base="/apis",
                                   namespace=namespace, body=patch, content_type="application/merge-patch+json",
                                   allow=(404,))
    # ---- what the cell's cluster provisioning shell reads and writes (lattice_cell.cluster_provisioning)

    async def list_cluster_objects(self, group_version: str, plural: str) -> list[dict[str, Any]] | None:
        """The objects of a cluster-scoped custom kind; None when the kind is not served."""
        listing = await self._request("GET", plural, version=group_version, base="/apis", allow=(404,))
        return None if listing is None else list(listing.get("items") or [])

    async def namespace_active(self, name: str) -> bool:
        """Whether the namespace exists and is not being deleted."""
        found = await self._request("GET", f"namespaces/{name}", allow=(404,))
        return found is not None and not (found.get("metadata") or {}).get("deletionTimestamp")

    async def delete_secret(self, namespace: str, name: str) -> None:
        await self._request("DELETE", f"secrets/{name}", namespace=namespace, allow=(404,))

    async def merge_patch_annotations(self, group_version: str, plural: str, namespace: str, name: str,
                                      annotations: dict[str, str | None]) -> bool:
        """Merge ``annotations`` into a namespaced custom object's metadata; False when it is gone."""
        patched = await self._request("PATCH", f"{plural}/{name}", version=group_version, base="/apis",
                                      namespace=namespace, body={"metadata": {"annotations": annotations}},
                                      content_type="application/merge-patch+json", allow=(404,))
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
