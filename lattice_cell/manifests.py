"""What the bootstrap webhook hands a new child: the objects that install its agent.

Pure builders (no I/O): namespace, the agent's ServiceAccount + its RBAC
(``lattice_move.agent_rights``, never cluster-admin; the pivot's writes bound in ``capi-<cluster>``
only, which is created here) + Deployment, the
parent-config Secret the agent reads on start, then CRDs and policies propagated from the parent.
"""

from __future__ import annotations

import base64
import importlib.resources
from collections.abc import Iterable

import attrs
import yaml

from crds import KubeObject
from lattice_cell.rbac import cell_rbac
from lattice_move.agent_rights import agent_rbac
from lattice_tunnel.parent_config import NAMESPACE, PARENT_CONFIG_SECRET, ParentConfig

AGENT_NAME = "lattice-agent"
DEFAULT_IMAGE = "ghcr.io/lattice-dev/lattice:latest"
CAPI_READERS_GROUP = "lattice:capi-readers"  # the group the read-only CAPI proxy impersonates



@attrs.frozen
class AgentInstall:
    cluster: str
    grpc_endpoint: str  # host:port the agent dials
    bootstrap_url: str  # https://host:port of this webhook (for the CSR)
    server_name: str  # TLS name to verify the cell against
    ca_bundle_pem: bytes
    token: str  # the same one-time token; authorizes the CSR until it expires
    image: str = DEFAULT_IMAGE

    def parent_config(self) -> ParentConfig:
        return ParentConfig(cluster=self.cluster, grpc_endpoint=self.grpc_endpoint, bootstrap_url=self.bootstrap_url,
                            server_name=self.server_name, ca_pem=self.ca_bundle_pem, token=self.token)


def _b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def _labels() -> dict[str, str]:
    return {"app.kubernetes.io/name": AGENT_NAME, "app.kubernetes.io/managed-by": "lattice"}


def parent_config_secret(install: AgentInstall) -> KubeObject:
    return {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": PARENT_CONFIG_SECRET, "namespace": NAMESPACE, "labels": _labels()},
        "type": "Opaque",
        "data": {key: _b64(value) for key, value in install.parent_config().to_data().items()},
    }


def agent_deployment(install: AgentInstall) -> KubeObject:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": AGENT_NAME, "namespace": NAMESPACE, "labels": _labels()},
        "spec": {
            "replicas": 1,  # one stream per cluster: the cell keeps only the newest anyway
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app.kubernetes.io/name": AGENT_NAME}},
            "template": {
                "metadata": {"labels": _labels()},
                "spec": {
                    "serviceAccountName": AGENT_NAME,
                    "containers": [{
                        "name": "agent", "image": install.image,
                        "command": ["lattice-agent", "--cluster", install.cluster, "--health-port", "8080"],
                        "ports": [{"name": "health", "containerPort": 8080}],
                        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "health"}, "periodSeconds": 10},
                        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "health"}, "periodSeconds": 5},
                        "resources": {"requests": {"cpu": "50m", "memory": "96Mi"},
                                      "limits": {"memory": "512Mi"}},
                        "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                                            "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}},
                    }],
                },
            },
        },
    }


def agent_manifests(install: AgentInstall, extra: Iterable[KubeObject] = ()) -> list[KubeObject]:
    """CRDs/policies from `extra` go last; CRDs are sorted before instances of anything."""
    extra = list(extra)
    crds = [m for m in extra if m.get("kind") == "CustomResourceDefinition"]
    rest = [m for m in extra if m.get("kind") != "CustomResourceDefinition"]
    return [
        *crds,
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE, "labels": _labels()}},
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": AGENT_NAME, "namespace": NAMESPACE, "labels": _labels()}},
        # What the agent itself writes (pivot import, unpivot export, the distributable resources,
        # its identity), kind by kind: lattice_move.agent_rights; the pivot's writes only in
        # capi-<cluster>, which is made here with their RoleBinding. Tunnelled requests run as
        # lattice-proxy (impersonator_rbac), which may only impersonate.
        *agent_rbac(_labels(), service_account=AGENT_NAME, namespace=NAMESPACE, cluster=install.cluster),
        *capi_reader_rbac(),
        # The cell's own rights, for when this child runs lattice-operator (a parent of its own).
        *cell_rbac(AGENT_NAME, binding="lattice-agent-cell", labels=_labels()),
        *impersonator_rbac(),
        parent_config_secret(install),
        agent_deployment(install),
        *rest,
    ]


def capi_reader_rbac() -> list[KubeObject]:
    """Read-only access for the parent's CAPI proxy identity (impersonated by the agent)."""
    name = "lattice-capi-reader"
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": name, "labels": _labels()},
         "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]},
                   {"nonResourceURLs": ["*"], "verbs": ["get"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": name, "labels": _labels()},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": CAPI_READERS_GROUP}]},
    ]


IMPERSONATOR = "lattice-proxy"  # the ServiceAccount the tunnel's last hop authenticates as


def impersonator_rbac() -> list[KubeObject]:
    """The last hop's identity (`lattice_tunnel.impersonator`): ServiceAccount lattice-proxy may
    impersonate users, groups, service accounts, uids and user extras, and do nothing else. The
    same objects are `manifests/proxy-rbac.yaml` (a test keeps them equal)."""
    role = f"{IMPERSONATOR}-impersonator"
    labels = {"app.kubernetes.io/name": IMPERSONATOR, "app.kubernetes.io/managed-by": "lattice"}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": IMPERSONATOR, "namespace": NAMESPACE, "labels": labels},
         "automountServiceAccountToken": False},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": role, "labels": labels},
         "rules": [{"apiGroups": [""], "resources": ["users", "groups", "serviceaccounts"], "verbs": ["impersonate"]},
                   # userextras/<key> and uids: nothing else in this group takes the impersonate verb
                   {"apiGroups": ["authentication.k8s.io"], "resources": ["*"], "verbs": ["impersonate"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": role, "labels": labels},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
         "subjects": [{"kind": "ServiceAccount", "name": IMPERSONATOR, "namespace": NAMESPACE}]},
    ]


def bundled_crds() -> list[KubeObject]:
    """CRD YAML shipped in the `crds` package (crds/*.yaml), if it has been generated."""
    try:
        root = importlib.resources.files("crds")
    except ModuleNotFoundError:
        return []
    docs: list[KubeObject] = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".yml")):
            docs.extend(d for d in yaml.safe_load_all(entry.read_text()) if d)
    return [d for d in docs if d.get("kind") == "CustomResourceDefinition"]


def propagated_policies(items: Iterable[KubeObject], origin: str) -> list[KubeObject]:
    """CedarPolicies with spec.propagate (and not disabled), renamed `<origin>--<name>` and
    labelled with their origin, as the child must not confuse them with its own."""
    out = []
    for item in items:
        spec = item.get("spec") or {}
        if not spec.get("propagate") or spec.get("enabled") is False:
            continue
        meta = item.get("metadata") or {}
        name = meta.get("name", "")
        original = (meta.get("labels") or {}).get("lattice.dev/original-name", name)
        out.append({
            "apiVersion": item.get("apiVersion", "lattice.dev/v1alpha1"), "kind": item.get("kind", "CedarPolicy"),
            "metadata": {
                "name": f"{origin}--{original}", "namespace": NAMESPACE,
                "labels": {"lattice.dev/origin-cluster": origin, "lattice.dev/original-name": original,
                           "lattice.dev/inherited": "true"},
            },
            "spec": spec,
        })
    return out


def yaml_stream(docs: Iterable[KubeObject]) -> str:
    return "\n---\n".join(yaml.safe_dump(d, sort_keys=False) for d in docs)
