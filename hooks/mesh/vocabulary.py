"""API versions, labels, selectors and identities shared by the mesh compilers.

One place decides how a pod, a waypoint, an ingress proxy and a service identity are named in
Cilium selectors and Istio principals, so the caller's policies and the callee's policies always
spell the same thing. All functions are pure.
"""


from crds import KubeObject
from crds.service import LatticeService
from hooks import names
from hooks.context import ClusterIdentity
from hooks.labels import SELECTOR

# API versions served by current Cilium, Istio, Gateway API, cert-manager and Envoy Gateway.
CILIUM_API = "cilium.io/v2"
ISTIO_SECURITY_API = "security.istio.io/v1"
ISTIO_NETWORKING_API = "networking.istio.io/v1"
ENVOY_FILTER_API = "networking.istio.io/v1alpha3"  # EnvoyFilter is only served as v1alpha3
GATEWAY_API = "gateway.networking.k8s.io/v1"
GATEWAY_GROUP = "gateway.networking.k8s.io"
CERT_MANAGER_API = "cert-manager.io/v1"
ENVOY_GATEWAY_API = "gateway.envoyproxy.io/v1alpha1"

HBONE_PORT = 15008
WAYPOINT_CLASS = "istio-waypoint"
WAYPOINT_FOR_LABEL = "istio.io/waypoint-for"
DATAPLANE_MODE_LABEL = "istio.io/dataplane-mode"
USE_WAYPOINT_LABEL = names.USE_WAYPOINT_LABEL
# Istio and Envoy Gateway label the proxy pods they deploy for a Gateway with these.
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
EG_OWNER_NAME_LABEL = "gateway.envoyproxy.io/owning-gateway-name"
EG_OWNER_NAMESPACE_LABEL = "gateway.envoyproxy.io/owning-gateway-namespace"
# Where Envoy Gateway runs the proxies of every Gateway (its default deployment mode).
INGRESS_NAMESPACE = "envoy-gateway-system"

KUBE_DNS = {"k8s:io.kubernetes.pod.namespace": "kube-system", "k8s:k8s-app": "kube-dns"}



def pods(namespace: str, **labels: str) -> dict[str, str]:
    """A Cilium endpoint selector for pods with ``labels`` in ``namespace``."""
    return {"k8s:io.kubernetes.pod.namespace": namespace, **{f"k8s:{k}": v for k, v in labels.items()}}


def service_pods(namespace: str, service: str) -> dict[str, str]:
    return pods(namespace, **{SELECTOR: service})


def waypoint_pods(namespace: str) -> dict[str, str]:
    return pods(namespace, **{GATEWAY_NAME_LABEL: names.waypoint_name(namespace)})


def ingress_pods(namespace: str, gateway: str) -> dict[str, str]:
    """The Envoy Gateway proxies of one Gateway (they run in ``INGRESS_NAMESPACE``)."""
    return pods(INGRESS_NAMESPACE, **{EG_OWNER_NAME_LABEL: gateway, EG_OWNER_NAMESPACE_LABEL: namespace})


def service_principal(cluster: ClusterIdentity, namespace: str, service: str) -> str:
    return cluster.principal(namespace, names.service_account_name(service))


def waypoint_principal(cluster: ClusterIdentity, namespace: str) -> str:
    """Istio runs a waypoint under a ServiceAccount named after its Gateway."""
    return cluster.principal(namespace, names.waypoint_name(namespace))


def ingress_principal(cluster: ClusterIdentity) -> str:
    """Any ServiceAccount of the Envoy Gateway proxy namespace (a prefix match in Istio)."""
    return cluster.principal(INGRESS_NAMESPACE, "*")


def cilium_ports(ports: list[tuple[int, str]]) -> list[KubeObject]:
    """``toPorts`` entry for (port, protocol) pairs; ports are strings in CiliumNetworkPolicy."""
    return [{"ports": [{"port": str(p), "protocol": proto} for p, proto in ports]}]


def service_target_ref(service: str) -> KubeObject:
    return {"group": "", "kind": "Service", "name": service}


def port_table(svc: LatticeService) -> list[tuple[str, int, int, str]]:
    """(name, service port, container port, protocol) of each declared port, by name."""
    ports = svc.spec.service.ports if svc.spec.service else {}
    return [
        (name, p.port, p.target_port or p.port, str(p.protocol or "TCP"))
        for name, p in sorted(ports.items())
    ]


def container_ports(svc: LatticeService) -> list[tuple[int, str]]:
    """Where traffic lands at the pod (Cilium and ztunnel see the container port)."""
    return sorted({(target, proto) for _, _, target, proto in port_table(svc)})


def service_ports(svc: LatticeService) -> list[int]:
    """What a waypoint sees: it matches the Service VIP and the Service port."""
    return sorted({port for _, port, _, proto in port_table(svc) if proto == "TCP"})
