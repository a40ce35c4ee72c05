"""Small builders for the mesh tests: services and external services from short specs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

import crds
from crds import KubeObject
from crds.external_service import LatticeExternalService
from crds.service import LatticeService
from hooks.context import ClusterIdentity, ServiceContext

CLUSTER = ClusterIdentity(name="test")
EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "services"


def readme_context(name: str) -> ServiceContext:
    """One example service (namespace platform) with every other example as related objects."""
    objs = [crds.parse(yaml.safe_load(p.read_text())).obj for p in sorted(EXAMPLES.glob("*.yaml"))]
    services = {(o.namespace, o.name): o for o in objs if isinstance(o, LatticeService)}
    externals = {(o.namespace, o.name): o for o in objs if isinstance(o, LatticeExternalService)}
    return ServiceContext(service=services[("platform", name)], services=services,
                          external_services=externals, cluster=CLUSTER)


def dep(direction: str = "outbound", *, type: str = "service", **extra: Any) -> KubeObject:
    return {"type": type, "direction": direction, **extra}


def svc(name: str, ns: str = "shop", resources: dict[str, KubeObject] | None = None, *,
        ports: dict[str, KubeObject] | None = None, **spec: Any) -> LatticeService:
    body: KubeObject = {"containers": {"main": {"image": "nginx:1.27"}}, "resources": resources or {}, **spec}
    if ports is None:
        ports = {"http": {"port": 8080}}
    if ports:
        body["service"] = {"ports": ports}
    doc = {"apiVersion": crds.API_VERSION, "kind": "LatticeService",
           "metadata": {"name": name, "namespace": ns}, "spec": body}
    obj, errors = crds.parse_as(LatticeService, doc)
    assert obj is not None and not errors, [str(e) for e in errors]
    return obj


def ext(name: str, ns: str = "shop", endpoints: dict[str, str] | None = None, requesters: list[str] | None = None,
        resolution: str = "dns") -> LatticeExternalService:
    doc = {"apiVersion": crds.API_VERSION, "kind": "LatticeExternalService",
           "metadata": {"name": name, "namespace": ns, "generation": 3},
           "spec": {"endpoints": endpoints or {"api": "https://api.example.com"},
                    "allowedRequesters": requesters or [], "resolution": resolution}}
    obj, errors = crds.parse_as(LatticeExternalService, doc)
    assert obj is not None and not errors, [str(e) for e in errors]
    return obj


def context(me: LatticeService, peers: list[LatticeService] = (),  # type: ignore[assignment]
            externals: list[LatticeExternalService] = ()) -> ServiceContext:  # type: ignore[assignment]
    return ServiceContext(
        service=me,
        services={(p.namespace, p.name): p for p in peers},
        external_services={(e.namespace, e.name): e for e in externals},
        cluster=CLUSTER,
    )


def named(children: list[KubeObject], kind: str, name: str) -> KubeObject:
    found = [c for c in children if c["kind"] == kind and c["metadata"]["name"] == name]
    assert len(found) == 1, f"{len(found)} {kind}/{name} in {[(c['kind'], c['metadata']['name']) for c in children]}"
    return found[0]


def names_of(children: list[KubeObject], kind: str) -> list[str]:
    return sorted(c["metadata"]["name"] for c in children if c["kind"] == kind)


def cnp(children: list[KubeObject]) -> KubeObject:
    found = [c for c in children if c["kind"] == "CiliumNetworkPolicy"]
    assert len(found) == 1
    return found[0]


def _pods(selectors: list[KubeObject]) -> set[tuple[str, str]]:
    out = set()
    for s in selectors:
        labels = s["matchLabels"]
        if "k8s:app.kubernetes.io/name" in labels:
            out.add((labels["k8s:io.kubernetes.pod.namespace"], labels["k8s:app.kubernetes.io/name"]))
    return out


def ingress_peers(children: list[KubeObject]) -> set[tuple[str, str]]:
    """(namespace, service) whose pods the service's CiliumNetworkPolicy admits."""
    return {p for r in cnp(children)["spec"].get("ingress", []) for p in _pods(r.get("fromEndpoints", []))}


def egress_peers(children: list[KubeObject]) -> set[tuple[str, str]]:
    """(namespace, service) whose pods the service's CiliumNetworkPolicy may reach."""
    return {p for r in cnp(children)["spec"].get("egress", []) for p in _pods(r.get("toEndpoints", []))}


def l7_callers(children: list[KubeObject], service: str) -> list[str]:
    """Principals ``allow-to-<service>`` admits (empty when there is no such policy)."""
    for c in children:
        if c["kind"] == "AuthorizationPolicy" and c["metadata"]["name"] == f"allow-to-{service}":
            return list(c["spec"]["rules"][0]["from"][0]["source"]["principals"])
    return []
