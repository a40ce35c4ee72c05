"""Objects one namespace shares, owned once per namespace (a DecoratorController on Namespaces),
never re-emitted by every service in it:

- the waypoint: Gateway ``<ns>-waypoint`` (class ``istio-waypoint``, listener ``mesh`` on 15008
  HBONE, ``istio.io/waypoint-for: service``) that enforces the services' L7 policies;
- ``allow-to-waypoint``: ztunnel must let HBONE into the waypoint despite the mesh-wide
  allow-nothing policy; who may then pass the waypoint is decided by each service's
  ``allow-to-<svc>`` (no ``from``: any mesh identity may reach the waypoint itself);
- the namespace labels enrolling it in ambient mode and pointing its Services (and
  ServiceEntries) at that waypoint.
"""

from __future__ import annotations

import attrs

from crds import KubeObject
from hooks import names
from hooks.context import ClusterIdentity
from hooks.labels import new_object
from hooks.mesh import vocabulary as m
from hooks.mesh.authorization_policy import allow_policy


@attrs.frozen
class NamespaceResult:
    children: list[KubeObject]
    labels: dict[str, str]


def compile_namespace(namespace: str, cluster: ClusterIdentity) -> NamespaceResult:
    waypoint = names.waypoint_name(namespace)
    gateway = new_object(m.GATEWAY_API, "Gateway", waypoint, namespace, labels={m.WAYPOINT_FOR_LABEL: "service"})
    gateway["spec"] = {
        "gatewayClassName": m.WAYPOINT_CLASS,
        "listeners": [{"name": "mesh", "port": m.HBONE_PORT, "protocol": "HBONE",
                       "allowedRoutes": {"namespaces": {"from": "Same"}}}],
    }
    target = {"selector": {"matchLabels": {m.GATEWAY_NAME_LABEL: waypoint}}}
    allow = allow_policy(namespace, "allow-to-waypoint", target, [], [m.HBONE_PORT])
    labels = {m.DATAPLANE_MODE_LABEL: "ambient", m.USE_WAYPOINT_LABEL: waypoint}
    return NamespaceResult([gateway, allow], labels)
