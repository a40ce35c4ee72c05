"""The discovery list (`GET /clusters`) and the kubeconfig (`GET /kubeconfig`), built from what the
cell knows. Pure: the front passes in the subtree, the agent records and the caller."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lattice_cell.proxy.identity import Identity
from lattice_tunnel.subtree import ClusterInfo

API_VERSION = "lattice.dev/v1alpha1"
EXEC_API_VERSION = "client.authentication.k8s.io/v1"


def _rfc3339(epoch: float) -> str | None:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)) if epoch else None


def depth_of(name: str, cell: str, parents: Mapping[str, str]) -> int:
    """How many hops below the cell `name` is (0 for the cell), following recorded parents."""
    depth, current = 0, name
    while current != cell and depth <= len(parents):
        current = parents.get(current, cell)
        depth += 1
    return depth


def cluster_entries(cell: str, subtree: Iterable[tuple[ClusterInfo, str]], base_url: str,
                    agents: Mapping[str, Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One entry per cluster (the cell first), ordered by depth then name. `subtree` is every
    descendant with its next hop; `agents` the direct children's records (registry summary)."""
    descendants = list(subtree)
    parents = {info.name: info.parent or cell for info, _ in descendants}
    entries: list[dict[str, Any]] = [{
        "name": cell, "parent": "", "depth": 0, "self": True, "phase": "Ready", "connected": True,
        "pivoted": False, "labels": {}, "via": "", "server": f"{base_url}/clusters/{cell}",
    }]
    for info, via in descendants:
        entry: dict[str, Any] = {
            "name": info.name, "parent": info.parent or cell, "depth": depth_of(info.name, cell, parents),
            "self": False, "phase": info.phase, "connected": info.connected, "pivoted": info.pivoted,
            "labels": dict(info.labels), "via": via, "server": f"{base_url}/clusters/{info.name}",
        }
        record = (agents or {}).get(info.name)
        if record is not None:
            entry["agent"] = {
                "connectivity": record.get("connectivity", "disconnected"),
                "lastHeartbeat": _rfc3339(float(record.get("last_heartbeat") or 0.0)),
                "connectedAt": _rfc3339(float(record.get("connected_at") or 0.0)),
                "agentVersion": record.get("agent_version", ""),
                "kubernetesVersion": record.get("kubernetes_version", ""),
                "connections": record.get("connections", 0),
            }
        entries.append(entry)
    return sorted(entries, key=lambda e: (e["depth"], e["name"]))


def cluster_list(cell: str, identity: Identity, entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION, "kind": "ClusterAccessList", "cluster": cell,
        "user": {"username": identity.username, "groups": list(identity.groups)},
        "items": list(entries),
    }


def exec_args(identity: Identity, sa_audiences: Sequence[str], issuer_ca: str | None = None,
              extra_scopes: Sequence[str] = ()) -> list[str]:
    """The `lattice token` arguments that get this caller a token again (docs/proxy.md). `issuer_ca`
    and `extra_scopes`: from the caller's OIDCProvider (its issuer's CA bundle, PEM; its `extraScopes`)."""
    sa = identity.service_account
    if sa is not None:
        args = ["token", f"--service-account={sa[0]}/{sa[1]}"]
        return [*args, f"--audience={sa_audiences[0]}"] if sa_audiences else args
    if identity.issuer:
        args = ["token", f"--oidc-issuer-url={identity.issuer}", f"--oidc-client-id={identity.client_id}"]
        if issuer_ca:
            args.append(f"--certificate-authority-data={base64.b64encode(issuer_ca.encode()).decode()}")
        return [*args, *(f"--oidc-extra-scope={s}" for s in extra_scopes)]
    return ["token"]


def kubeconfig(cell: str, entries: Sequence[Mapping[str, Any]], ca_pem: bytes | None,
               args: Sequence[str]) -> dict[str, Any]:
    """A kubeconfig with one cluster and context per entry, and the `lattice token` exec user."""
    user = f"lattice-{cell}"
    clusters = []
    for e in entries:
        cluster: dict[str, Any] = {"server": e["server"]}
        if ca_pem:
            cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
        clusters.append({"name": e["name"], "cluster": cluster})
    names = [e["name"] for e in entries]
    return {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": clusters,
        "contexts": [{"name": n, "context": {"cluster": n, "user": user}} for n in names],
        "current-context": cell if cell in names else (names[0] if names else ""),
        "users": [{"name": user, "user": {"exec": {
            "apiVersion": EXEC_API_VERSION, "command": "lattice", "args": list(args),
            "interactiveMode": "IfAvailable", "provideClusterInfo": False,
        }}}],
    }
