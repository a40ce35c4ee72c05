"""Ingress through Gateway API (Envoy Gateway by default), with cert-manager TLS.

- Gateway ``<svc>-gateway`` (class ``gatewayClass``): per host an ``http-<i>`` listener on 80
  and, with ``tls``, an ``https-<i>`` listener on 443 terminating with the Secret ``secretName``
  (manual) or ``<svc>-tls`` (auto). One listener per host binds each listener to exactly the
  declared hostname (wildcards such as ``*.example.com`` included).
- HTTPRoute ``<svc>-route``: the hosts, one rule matching every path (``PathPrefix /`` by
  default), backend = the Service on its first port by port name.
- Certificate ``<svc>-cert`` (auto TLS): ``<svc>-tls`` for every host from ``issuerRef``.
- BackendTrafficPolicy ``<svc>-ratelimit`` for ``rateLimit``: an Envoy Gateway local limit on the
  route, one bucket per client address (``sourceCIDR`` ``Distinct``, IPv4 and IPv6), per proxy
  replica; ``burst`` cannot be expressed (docs/mesh.md).
- ``allow-gateway-to-<svc>``: Envoy Gateway sends to the endpoints (pod IPs) directly, so the
  proxy identity is checked by ztunnel at the pod (selector policy, container ports). Its
  principal is any ServiceAccount of ``envoy-gateway-system`` (Envoy Gateway names proxy
  ServiceAccounts with a hash), i.e. ``<trust domain>/ns/envoy-gateway-system/sa/*``.
- A CiliumNetworkPolicy ingress rule from this Gateway's proxies (``ingress_rule``), on the
  container ports and on HBONE 15008 (the proxies are in the mesh, so ztunnel tunnels them).
- Score ``route`` resources (``hooks.context.Route``): each is one more HTTP listener host on the
  same Gateway (created for routes alone too, class ``eg``) and one HTTPRoute
  ``<svc>-route-<resource>`` (``PathPrefix`` path, backend = the Service on the route's port).
"""

from __future__ import annotations

from collections.abc import Sequence

from crds import KubeObject
from crds.service import IngressSpec, LatticeService, TlsMode
from hooks.context import ClusterIdentity, Key, Route
from hooks.labels import new_object
from hooks.mesh import vocabulary as m
from hooks.mesh.authorization_policy import allow_policy, selector
from hooks.mesh.traffic import per_unit


def gateway_name(service: str) -> str:
    return f"{service}-gateway"


def route_name(service: str) -> str:
    return f"{service}-route"


def tls_secret(service: str, ingress: IngressSpec) -> str | None:
    if ingress.tls is None:
        return None
    if ingress.tls.mode is TlsMode.MANUAL and ingress.tls.secret_name:
        return ingress.tls.secret_name
    return f"{service}-tls"


DEFAULT_GATEWAY_CLASS = "eg"


def build_ingress(key: Key, svc: LatticeService, cluster: ClusterIdentity,
                  routes: Sequence[Route] = ()) -> list[KubeObject]:
    ingress = svc.spec.ingress
    table = m.port_table(svc)
    if (ingress is None and not routes) or not table:
        return []
    ns, name = key
    out = [_gateway(ns, name, ingress, routes)]
    out += [_score_route(ns, name, r) for r in routes]
    pod_ports = [p for p, proto in m.container_ports(svc) if proto == "TCP"]
    out.append(allow_policy(ns, f"allow-gateway-to-{name}", selector(name), [m.ingress_principal(cluster)], pod_ports))
    if ingress is None:
        return out
    out.append(_route(ns, name, ingress, table[0][1]))
    tls = ingress.tls
    if tls is not None and tls.mode is TlsMode.AUTO and tls.issuer_ref is not None:
        cert = new_object(m.CERT_MANAGER_API, "Certificate", f"{name}-cert", ns)
        cert["spec"] = {
            "secretName": f"{name}-tls",
            "dnsNames": _hosts(ingress),
            "issuerRef": {"name": tls.issuer_ref.name, "kind": tls.issuer_ref.kind, "group": "cert-manager.io"},
        }
        out.append(cert)
    if ingress.rate_limit is not None:
        out.append(_rate_limit(ns, name, ingress))
    return out


def ingress_rule(key: Key, svc: LatticeService, routes: Sequence[Route] = ()) -> list[KubeObject]:
    """The CiliumNetworkPolicy ingress rule admitting this service's Gateway proxies."""
    if (svc.spec.ingress is None and not routes) or not m.port_table(svc):
        return []
    ports = sorted(set(m.container_ports(svc)) | {(m.HBONE_PORT, "TCP")})
    return [{"fromEndpoints": [{"matchLabels": m.ingress_pods(key[0], gateway_name(key[1]))}],
             "toPorts": m.cilium_ports(ports)}]


def _gateway(ns: str, name: str, ingress: IngressSpec | None, routes: Sequence[Route]) -> KubeObject:
    secret = tls_secret(name, ingress) if ingress is not None else None
    hosts = list(dict.fromkeys([*(_hosts(ingress) if ingress is not None else []), *(r.host for r in routes)]))
    listeners: list[KubeObject] = []
    for i, host in enumerate(hosts):
        listeners.append({"name": f"http-{i}", "hostname": host, "port": 80, "protocol": "HTTP",
                          "allowedRoutes": _same_namespace()})
    if secret is not None and ingress is not None:
        for i, host in enumerate(_hosts(ingress)):
            listeners.append({
                "name": f"https-{i}", "hostname": host, "port": 443, "protocol": "HTTPS",
                "tls": {"mode": "Terminate", "certificateRefs": [{"group": "", "kind": "Secret", "name": secret}]},
                "allowedRoutes": _same_namespace(),
            })
    obj = new_object(m.GATEWAY_API, "Gateway", gateway_name(name), ns)
    gateway_class = ingress.gateway_class if ingress is not None else DEFAULT_GATEWAY_CLASS
    obj["spec"] = {"gatewayClassName": gateway_class, "listeners": listeners}
    return obj


def score_route_name(service: str, resource: str) -> str:
    return f"{service}-route-{resource}"


def _score_route(ns: str, name: str, r: Route) -> KubeObject:
    obj = new_object(m.GATEWAY_API, "HTTPRoute", score_route_name(name, r.resource), ns)
    obj["spec"] = {
        "parentRefs": [{"group": m.GATEWAY_GROUP, "kind": "Gateway", "name": gateway_name(name)}],
        "hostnames": [r.host],
        "rules": [{
            "matches": [{"path": {"type": "PathPrefix", "value": r.path}}],
            "backendRefs": [{"group": "", "kind": "Service", "name": name, "port": r.port}],
        }],
    }
    return obj


def _hosts(ingress: IngressSpec) -> list[str]:
    """The hosts in declared order, each once (listeners must be unique per host)."""
    return list(dict.fromkeys(ingress.hosts))


def _same_namespace() -> KubeObject:
    return {"namespaces": {"from": "Same"}}


def _route(ns: str, name: str, ingress: IngressSpec, port: int) -> KubeObject:
    matches = [{"path": {"type": str(p.path_type), "value": p.path}} for p in ingress.paths]
    obj = new_object(m.GATEWAY_API, "HTTPRoute", route_name(name), ns)
    obj["spec"] = {
        "parentRefs": [{"group": m.GATEWAY_GROUP, "kind": "Gateway", "name": gateway_name(name)}],
        "hostnames": _hosts(ingress),
        "rules": [{
            "matches": matches or [{"path": {"type": "PathPrefix", "value": "/"}}],
            "backendRefs": [{"group": "", "kind": "Service", "name": name, "port": port}],
        }],
    }
    return obj


def _rate_limit(ns: str, name: str, ingress: IngressSpec) -> KubeObject:
    assert ingress.rate_limit is not None
    requests, unit = per_unit(ingress.rate_limit.requests_per_interval, ingress.rate_limit.interval_seconds)
    obj = new_object(m.ENVOY_GATEWAY_API, "BackendTrafficPolicy", f"{name}-ratelimit", ns)
    obj["spec"] = {
        "targetRefs": [{"group": m.GATEWAY_GROUP, "kind": "HTTPRoute", "name": route_name(name)}],
        "rateLimit": {"type": "Local", "local": {"rules": [
            {"clientSelectors": [{"sourceCIDR": {"type": "Distinct", "value": cidr}}],
             "limit": {"requests": requests, "unit": unit}}
            for cidr in ("0.0.0.0/0", "::/0")
        ]}},
    }
    return obj
