"""A thin async Kubernetes API client on httpx, configured from a kubeconfig or the pod's SA.

Why not kr8s here: the tunnel needs raw HTTP semantics (any path, raw query, streamed bodies,
Impersonate-* headers per request) and kr8s has no impersonation and a weak streaming story
(see docs/tunnel.md). This client only resolves credentials and exposes an httpx.AsyncClient,
plus the few Secret/Namespace helpers the cell and agent persist state with.
"""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path
from typing import Any

import attrs
import httpx
import orjson
import yaml

from lattice_tunnel import pki

SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class KubeConfigError(Exception):
    """The kubeconfig (or in-cluster environment) cannot be used; the message says why."""


class KubeApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"kube-apiserver answered {status}: {message}")
        self.status = status


@attrs.frozen
class KubeTarget:
    server: str
    ca_pem: bytes | None = None
    token: str | None = None
    token_file: str | None = None
    client_cert_pem: bytes | None = None
    client_key_pem: bytes | None = None
    insecure: bool = False

    def bearer(self) -> str | None:
        if self.token_file:  # projected SA tokens rotate; re-read them
            return Path(self.token_file).read_text().strip()
        return self.token


def _data_or_file(entry: dict[str, Any], key: str, base: Path) -> bytes | None:
    if entry.get(f"{key}-data"):
        return base64.b64decode(entry[f"{key}-data"])
    if entry.get(key):
        path = Path(entry[key])
        return (path if path.is_absolute() else base / path).read_bytes()
    return None


def _named(items: list[dict[str, Any]], name: str, what: str, path: str) -> dict[str, Any]:
    for item in items or []:
        if item.get("name") == name:
            return dict(item.get(what) or {})
    raise KubeConfigError(f"{path}: no {what} named {name!r}")


def load_kubeconfig(path: str | os.PathLike[str], context: str | None = None) -> KubeTarget:
    file = Path(path)
    try:
        doc = yaml.safe_load(file.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise KubeConfigError(f"cannot read kubeconfig {file}: {exc}") from exc
    ctx_name = context or doc.get("current-context")
    if not ctx_name:
        raise KubeConfigError(f"{file}: no --context given and no current-context set")
    ctx = _named(doc.get("contexts", []), ctx_name, "context", str(file))
    cluster = _named(doc.get("clusters", []), ctx.get("cluster", ""), "cluster", str(file))
    user = _named(doc.get("users", []), ctx.get("user", ""), "user", str(file)) if ctx.get("user") else {}
    if "exec" in user or "auth-provider" in user:
        raise KubeConfigError(f"{file}: user {ctx.get('user')!r} uses exec/auth-provider, which is not supported")
    if not cluster.get("server"):
        raise KubeConfigError(f"{file}: cluster {ctx.get('cluster')!r} has no server")
    base = file.parent
    return KubeTarget(
        server=cluster["server"].rstrip("/"),
        ca_pem=_data_or_file(cluster, "certificate-authority", base),
        token=user.get("token"),
        token_file=user.get("tokenFile"),
        client_cert_pem=_data_or_file(user, "client-certificate", base),
        client_key_pem=_data_or_file(user, "client-key", base),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
    )


def in_cluster() -> KubeTarget:
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host or not (SA_DIR / "token").exists():
        raise KubeConfigError("not running in a pod (no KUBERNETES_SERVICE_HOST or service-account token)")
    host = f"[{host}]" if ":" in host else host
    return KubeTarget(server=f"https://{host}:{port}", ca_pem=(SA_DIR / "ca.crt").read_bytes(),
                      token_file=str(SA_DIR / "token"))


def resolve(kubeconfig: str | None = None, context: str | None = None) -> KubeTarget:
    """kubectl's order: --kubeconfig, $KUBECONFIG (first file), in-cluster, ~/.kube/config."""
    if kubeconfig:
        return load_kubeconfig(kubeconfig, context)
    env = os.environ.get("KUBECONFIG")
    if env:
        return load_kubeconfig(env.split(os.pathsep)[0], context)
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return in_cluster()
    home = Path.home() / ".kube" / "config"
    if home.exists():
        return load_kubeconfig(home, context)
    raise KubeConfigError("no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a pod")


class _BearerAuth(httpx.Auth):
    def __init__(self, target: KubeTarget) -> None:
        self._target = target

    def auth_flow(self, request: httpx.Request):  # type: ignore[no-untyped-def]
        token = self._target.bearer()
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        yield request


def make_http_client(target: KubeTarget, timeout: float = 30.0, max_connections: int = 100) -> httpx.AsyncClient:
    ctx = pki.client_ssl_context(target.ca_pem, target.client_cert_pem, target.client_key_pem,
                                 verify=not target.insecure)
    return httpx.AsyncClient(
        base_url=target.server,
        verify=ctx,
        auth=_BearerAuth(target),
        timeout=httpx.Timeout(timeout, connect=10.0),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
    )


class KubeClient:
    """JSON helpers over one pooled connection set. `http` is exposed for raw/streamed calls."""

    def __init__(self, target: KubeTarget, timeout: float = 30.0) -> None:
        self.target = target
        self.http = make_http_client(target, timeout)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def request_json(self, method: str, path: str, body: Any = None,
                           allow: tuple[int, ...] = ()) -> dict[str, Any] | None:
        content = orjson.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        for attempt in range(6):
            resp = await self.http.request(method, path, content=content, headers=headers)
            # 429 also means "storage (re)initializing" right after a CRD is created.
            if resp.status_code != 429 or attempt == 5:
                break
            retry_after = resp.headers.get("retry-after", "")
            await asyncio.sleep(min(float(retry_after) if retry_after.isdigit() else 0.2, 1.0) * (attempt + 1))
        if resp.status_code in allow:
            return None
        if resp.status_code >= 400:
            try:
                message = resp.json().get("message", resp.text)
            except ValueError:
                message = resp.text
            raise KubeApiError(resp.status_code, f"{method} {path}: {message}")
        result: dict[str, Any] = resp.json()
        return result

    async def get(self, path: str) -> dict[str, Any] | None:
        return await self.request_json("GET", path, allow=(404,))

    async def server_version(self) -> str:
        info = await self.get("/version") or {}
        return str(info.get("gitVersion", ""))

    async def ensure_namespace(self, name: str) -> None:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        await self.request_json("POST", "/api/v1/namespaces", body, allow=(409,))

    async def get_secret(self, namespace: str, name: str) -> tuple[dict[str, bytes], str] | None:
        """(decoded data, resourceVersion) or None when absent."""
        obj = await self.get(f"/api/v1/namespaces/{namespace}/secrets/{name}")
        if obj is None:
            return None
        data = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
        return data, obj["metadata"]["resourceVersion"]

    async def put_secret(self, namespace: str, name: str, data: dict[str, bytes],
                         resource_version: str | None = None, secret_type: str = "Opaque",
                         labels: dict[str, str] | None = None) -> str:
        """Create, or replace with optimistic concurrency when `resource_version` is given
        (a 409 then means someone else wrote first). Returns the new resourceVersion."""
        meta: dict[str, Any] = {"name": name, "namespace": namespace,
                                "labels": {"app.kubernetes.io/managed-by": "lattice", **(labels or {})}}
        body = {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": secret_type,
                "data": {k: base64.b64encode(v).decode() for k, v in data.items()}}
        base = f"/api/v1/namespaces/{namespace}/secrets"
        if resource_version is None:
            created = await self.request_json("POST", base, body, allow=(409,))
            if created is not None:
                return str(created["metadata"]["resourceVersion"])
            current = await self.get_secret(namespace, name)
            resource_version = current[1] if current else None
        meta["resourceVersion"] = resource_version
        replaced = await self.request_json("PUT", f"{base}/{name}", body)
        assert replaced is not None
        return str(replaced["metadata"]["resourceVersion"])


@attrs.define
class SecretCaStorage:
    """`pki.CaStorage` in a Secret (default lattice-system/lattice-ca)."""

    client: KubeClient
    namespace: str = "lattice-system"
    name: str = "lattice-ca"

    async def load(self) -> dict[str, bytes] | None:
        found = await self.client.get_secret(self.namespace, self.name)
        return found[0] if found else None

    async def save(self, data: dict[str, bytes]) -> None:
        await self.client.ensure_namespace(self.namespace)
        await self.client.put_secret(self.namespace, self.name, data)
