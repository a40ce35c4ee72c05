"""Where the cell may write Secrets, ConfigMaps and Cluster API objects for one cluster:
RoleBindings, children of its LatticeCluster.

The cell's provisioning shell writes each cluster's bootstrap token and credentials copies, and the
pivot and the unpivot move (and delete, with ``delete-for-move``) the Secrets, ConfigMaps and Cluster
API objects of ``capi-<cluster>``. Instead of a cluster-wide grant, the cluster compiler emits, next
to the Cluster API objects:

* in ``capi-<cluster>``: a RoleBinding of ClusterRole :data:`CLUSTER_SECRETS_ROLE` (Secrets,
  ConfigMaps and every resource of the Cluster API groups: get, list, create, update, patch, delete;
  its name predates all but the Secrets, and a RoleBinding's roleRef cannot change) — it exists
  exactly while the namespace does;
* for a copy outside ``capi-<cluster>`` (AWS: CAPA's namespace): a RoleBinding of ClusterRole
  :data:`CREDENTIALS_COPY_ROLE` (Secrets get, create, update) in that namespace.

Both ClusterRoles are shipped with the cell's RBAC (``lattice_cell.rbac``, which checks it uses
these names); a RoleBinding to a ClusterRole grants its rules in one namespace only. They are
ClusterRoles, not a Role per namespace, because whoever creates a Role must already hold its rules
(or ``escalate``): Lattice's Metacontroller holds no Secret or ConfigMap rights at all and only ``bind`` on these
two names (``hooks.controllers_manifest``).

Subjects: the ServiceAccounts a cell runs as — ``lattice-operator`` (a root cluster,
``manifests/cell-rbac.yaml``) and ``lattice-agent`` (a child that became a parent of its own).
"""

from __future__ import annotations

from hooks.cluster import apis, names
from hooks.cluster.apis import Obj

RBAC_GROUP = "rbac.authorization.k8s.io"
ROLE_BINDING = apis.Kind(RBAC_GROUP, "v1", "RoleBinding")
CLUSTER_SECRETS_ROLE = "lattice-cell-cluster-secrets"
CREDENTIALS_COPY_ROLE = "lattice-cell-credentials-copy"
CLUSTER_ROLES = (CLUSTER_SECRETS_ROLE, CREDENTIALS_COPY_ROLE)
BINDING = "lattice-cell-secrets"
CELL_NAMESPACE = "lattice-system"
CELL_SERVICE_ACCOUNTS = ("lattice-operator", "lattice-agent")


def copy_binding_name(cluster: str) -> str:
    """The RoleBinding in a namespace shared by clusters (one per cluster, so one owner each)."""
    return f"lattice-cell-{cluster}-credentials"


def _binding(name: str, namespace: str, role: str, labels: dict[str, str]) -> Obj:
    obj = apis.new_object(ROLE_BINDING, name, namespace, labels)
    obj["roleRef"] = {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role}
    obj["subjects"] = [{"kind": "ServiceAccount", "name": sa, "namespace": CELL_NAMESPACE}
                       for sa in CELL_SERVICE_ACCOUNTS]
    return obj


def namespace_binding(cluster: str) -> Obj:
    """The cell's Secret, ConfigMap and Cluster API rights in ``capi-<cluster>``."""
    return _binding(BINDING, names.namespace(cluster), CLUSTER_SECRETS_ROLE, names.labels(cluster))


def bindings(cluster: str, copy_namespaces: list[str]) -> list[Obj]:
    """Every RoleBinding the cell needs for ``cluster``: its namespace, and each other namespace a
    credentials copy goes to."""
    out = [namespace_binding(cluster)]
    for ns in sorted(set(copy_namespaces) - {names.namespace(cluster), CELL_NAMESPACE}):
        out.append(_binding(copy_binding_name(cluster), ns, CREDENTIALS_COPY_ROLE, names.labels(cluster)))
    return out
