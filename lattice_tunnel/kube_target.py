"""Which Kubernetes API server a cell or an agent talks to, and with what credentials: kubectl's
order (``--kubeconfig``, ``$KUBECONFIG``, in-cluster, ``~/.kube/config``), resolved once into a
``KubeTarget``.

Two clients use it: the last hop of the tunnel (``kube_exec``, raw byte forwarding with per-request
impersonation, which kr8s has no API for) and the cell's and agent's own state (``kube_api``, on
kr8s, which is given the same kubeconfig file and context).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import attrs
import yaml

SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class KubeConfigError(Exception):
    """The kubeconfig (or in-cluster environment) cannot be used; the message says why."""


@attrs.frozen
class KubeTarget:
    server: str
    ca_pem: bytes | None = None
    token: str | None = None
    token_file: str | None = None
    client_cert_pem: bytes | None = None
    client_key_pem: bytes | None = None
    insecure: bool = False
    kubeconfig: str | None = None  # the file it came from (None: in-cluster)
    context: str | None = None  # the kubeconfig context it came from

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
        kubeconfig=str(file),
        context=ctx_name,
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
