"""How ``lattice get clusters | cluster | hierarchy`` print a ``cli.fleet.Fleet``. Pure: text in, text out.

Tables as kubectl prints them (upper-case headers, columns two spaces apart, ages like ``45d`` or
``3h12m``); the detail view in the README's ``Label:  value`` form; the hierarchy as an ASCII tree
with ``[Phase]``, ``(parent)`` and ``(disconnected)`` markers. ``-o json|yaml`` give the same data
with camelCase keys, as Kubernetes objects have them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cli.fleet import Cluster, Connection, Fleet

COLUMNS = ("NAME", "PHASE", "PROVIDER", "K8S", "CP", "WORKERS", "ROLE", "AGENT", "HEARTBEAT", "AGE")
WIDE = ("DEPTH", "PARENT", "CHILDREN", "AGENT-VERSION", "CONTEXT")


def human_duration(seconds: float | None) -> str:
    """kubectl's short ages: 45s, 5m30s, 17m, 3h12m, 20h, 3d4h, 45d, 3y120d; ``-`` when unknown."""
    if seconds is None:
        return "-"
    s = max(int(seconds), 0)
    m, h, d = s // 60, s // 3600, s // 86400
    if s < 120:
        return f"{s}s"
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if h < 3:
        return f"{m}m"
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if d < 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 365 * 2:
        return f"{d}d"
    if d < 365 * 8:
        return f"{d // 365}y{d % 365}d" if d % 365 else f"{d // 365}y"
    return f"{d // 365}y"


def ratio(ready: int | None, total: int | None) -> str:
    if total is None:
        return "-"
    return f"{ready if ready is not None else 0}/{total}"


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """Left-aligned columns, two spaces apart, no trailing spaces."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]
    return "\n".join(lines) + "\n"


def _heartbeat(c: Cluster, now: float) -> str:
    if c.agent is None or c.agent.last_heartbeat is None:
        return "-"
    return human_duration(now - c.agent.last_heartbeat)


def cluster_row(c: Cluster, now: float, wide: bool = False) -> list[str]:
    row = [c.name, c.phase, c.provider or "-", c.kubernetes_version or "-",
           ratio(c.control_plane_ready, c.control_plane_total), ratio(c.workers_ready, c.workers_total), c.role,
           c.agent.connection if c.agent else Connection.NONE, _heartbeat(c, now),
           human_duration(now - c.created) if c.created else "-"]
    if wide:
        row += [str(c.depth), c.parent or "-", ",".join(c.children) or "-",
                (c.agent.agent_version or "-") if c.agent else "-", c.context]
    return row


def clusters_table(fleet: Fleet, now: float, wide: bool = False) -> str:
    if not fleet.clusters:
        return "No clusters found.\n"
    header = COLUMNS + WIDE if wide else COLUMNS
    return table([cluster_row(c, now, wide) for c in fleet.ordered()], header)


def _since(at: float | None, now: float) -> str:
    return f"{human_duration(now - at)} ago" if at is not None else "-"


def cluster_detail(fleet: Fleet, name: str, now: float) -> str:
    c = fleet.clusters[name]
    lines: list[tuple[str, str]] = [
        ("Name", c.name), ("Phase", c.phase), ("Provider", c.provider or "-"),
        ("K8s Version", c.kubernetes_version or "-"), ("Role", c.role),
        ("Control Plane", ratio(c.control_plane_ready, c.control_plane_total)),
        ("Workers", ratio(c.workers_ready, c.workers_total)),
    ]
    if c.endpoint:
        lines.append(("Endpoint", c.endpoint))
    if c.message:
        lines.append(("Message", c.message))
    lines += [("Pivot", "complete" if c.pivot_complete else "pending"),
              ("Bootstrap", "complete" if c.bootstrap_complete else "pending"),
              ("Age", human_duration(now - c.created) if c.created else "-"),
              ("Context", f"{c.context}" + ("" if c.source == "self" else " (the parent's copy)")),
              ("Parent", c.parent or "-"), ("Depth", str(c.depth)),
              ("Children", ", ".join(c.children) or "-")]
    if c.agent is not None:
        a = c.agent
        state = a.connection + (f" since {_since(a.connected_since, now)}"
                                if a.connection == Connection.CONNECTED and a.connected_since else "")
        if a.connection == Connection.DISCONNECTED and a.disconnected_at:
            state += f" since {_since(a.disconnected_at, now)}"
        lines += [("Agent", state), ("Last Heartbeat", _since(a.last_heartbeat, now)),
                  ("Agent Version", a.agent_version or "-"),
                  ("Reported K8s", a.kubernetes_version or "-"),
                  ("Protocol", str(a.protocol_version or "-")), ("Cell", a.cell or "-")]
    else:
        lines.append(("Agent", "- (no agent Lease: a root, or its parent's context was not read)"))
    width = max(len(k) for k, _ in lines) + 3  # the longest label, its colon and two spaces
    out = [f"{k + ':':<{width}}{v}" for k, v in lines]
    if c.worker_pools:
        out += ["", "Worker Pools:"]
        pw = max(len(p) for p, _ in c.worker_pools) + 2
        for pool, st in c.worker_pools:
            auto = " (autoscaling)" if st.get("autoscalingEnabled") else ""
            out.append(f"  {pool:<{pw}}{ratio(st.get('readyReplicas'), st.get('desiredReplicas'))}{auto}")
            if st.get("message"):
                out.append(f"  {'':<{pw}}{st['message']}")
    if c.conditions:
        out += ["", "Conditions:"]
        rows = [[str(x.get("type") or ""), str(x.get("status") or ""), str(x.get("reason") or ""),
                 str(x.get("message") or "")] for x in c.conditions]
        out += ["  " + line for line in table(rows, ("TYPE", "STATUS", "REASON", "MESSAGE")).splitlines()]
    return "\n".join(out) + "\n"


def hierarchy_tree(fleet: Fleet) -> str:
    if not fleet.clusters:
        return "No clusters found.\n"
    out = ["Cluster Hierarchy:", ""]

    def node(c: Cluster) -> str:
        marks = f"{c.name}  [{c.phase}]"
        if c.role == "parent":
            marks += " (parent)"
        if c.agent is not None and c.agent.connection != Connection.CONNECTED:
            marks += " (disconnected)" if c.agent.connection == Connection.DISCONNECTED else " (connection unknown)"
        return marks

    def walk(name: str, prefix: str, last: bool, top: bool) -> None:
        c = fleet.clusters[name]
        out.append(node(c) if top else f"{prefix}{'└── ' if last else '├── '}{node(c)}")
        inner = "" if top else prefix + ("    " if last else "│   ")
        for i, child in enumerate(c.children):
            walk(child, inner, i == len(c.children) - 1, False)

    for i, root in enumerate(fleet.roots):
        if i:
            out.append("")
        walk(root, "", True, True)
    return "\n".join(out) + "\n"


def _iso(epoch: float | None) -> str | None:
    """RFC 3339 in whole seconds, as Kubernetes prints a Time."""
    if epoch is None:
        return None
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def cluster_data(c: Cluster) -> dict[str, Any]:
    agent = None
    if c.agent is not None:
        a = c.agent
        agent = {"connection": a.connection, "connected": a.connection == Connection.CONNECTED,
                 "lastHeartbeat": _iso(a.last_heartbeat), "agentVersion": a.agent_version,
                 "kubernetesVersion": a.kubernetes_version, "protocolVersion": a.protocol_version,
                 "state": a.state, "cell": a.cell, "connectedSince": _iso(a.connected_since),
                 "disconnectedAt": _iso(a.disconnected_at)}
    return {
        "name": c.name, "phase": c.phase, "message": c.message, "provider": c.provider,
        "kubernetesVersion": c.kubernetes_version,
        "controlPlane": {"ready": c.control_plane_ready, "total": c.control_plane_total},
        "workers": {"ready": c.workers_ready, "total": c.workers_total},
        "role": c.role, "parent": c.parent, "children": list(c.children), "depth": c.depth,
        "creationTimestamp": _iso(c.created), "endpoint": c.endpoint,
        "pivotComplete": c.pivot_complete, "bootstrapComplete": c.bootstrap_complete,
        "conditions": [dict(x) for x in c.conditions],
        "workerPools": {name: dict(st) for name, st in c.worker_pools},
        "agent": agent, "context": c.context, "source": c.source,
    }


def clusters_data(fleet: Fleet) -> list[dict[str, Any]]:
    return [cluster_data(c) for c in fleet.ordered()]


def hierarchy_data(fleet: Fleet) -> list[dict[str, Any]]:
    """The tree, nested: each node with its ``children`` as nodes."""
    def nest(name: str) -> dict[str, Any]:
        c = fleet.clusters[name]
        return {"name": c.name, "phase": c.phase, "role": c.role,
                "connection": c.agent.connection if c.agent else None,
                "children": [nest(ch) for ch in c.children]}
    return [nest(r) for r in fleet.roots]


def dump(data: Any, output: str) -> str:
    """``json`` (indented, as kubectl) or ``yaml``."""
    if output == "json":
        import json

        return json.dumps(data, indent=2) + "\n"
    import yaml

    return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def service_rows(services: Sequence[Mapping[str, Any]], now: float) -> list[list[str]]:
    """NAMESPACE NAME PHASE INBOUND OUTBOUND AGE of LatticeService objects (mesh dependencies only:
    ``service`` and ``external-service`` resources, by their direction)."""
    from crds.agent_lease import parse_time

    rows = []
    for s in sorted(services, key=lambda x: ((x.get("metadata") or {}).get("namespace") or "",
                                             (x.get("metadata") or {}).get("name") or "")):
        meta = s.get("metadata") or {}
        resources = ((s.get("spec") or {}).get("resources") or {}).values()
        mesh = [r for r in resources if isinstance(r, Mapping) and r.get("type") in ("service", "external-service")]
        inbound = sum(1 for r in mesh if r.get("direction") in ("inbound", "both"))
        outbound = sum(1 for r in mesh if r.get("direction", "outbound") in ("outbound", "both"))
        created = parse_time(meta.get("creationTimestamp"))
        rows.append([str(meta.get("namespace") or ""), str(meta.get("name") or ""),
                     str((s.get("status") or {}).get("phase") or "Pending"), str(inbound), str(outbound),
                     human_duration(now - created) if created else "-"])
    return rows
