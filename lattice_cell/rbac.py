"""What a cell may do on its own cluster's API server, and nothing more: one Role in the cell's
namespace, one ClusterRole, bound to the ServiceAccount the cell runs as, and two ClusterRoles bound
nowhere cluster-wide (Secrets, below). Each rule and why:

* Secrets in its own namespace (the Role): get, list, create, update — the CA (``lattice-ca``), the
  bootstrap token records (``lattice-bootstrap-<child>``, listed by label: the registered children),
  the CloudProviders' credentials Secrets (checked, and read as the source of each credentials
  copy), and the Secrets the distributable resources reference (handed to every child).
* Leases: list, create, patch — the agent Leases (``lattice-agent-<child>``) and the cell's own
  (``lattice-cell``).
* ConfigMaps: create, and update of ``lattice-proxy`` — the API proxy publishes its URL and CA there.
* ServiceAccount ``lattice-proxy``: create a token — the last hop's impersonate-only identity
  (``manifests/proxy-rbac.yaml``).
* CedarPolicies: list, watch — policies handed to new children; the proxy's authorization.
* OIDCProviders: list, watch, and status: patch — the proxy's issuers and what it reports of them.
* LatticeClusters: list, and status: patch — registered children own their names;
  ``bootstrapComplete`` once a child fetched its manifests.
* TokenReviews: create — the proxy checks ServiceAccount tokens.
* Namespaces: get — the provisioning shell writes into ``capi-<cluster>`` only once it is active.
* CloudProviders: list, patch (in the cell's namespace) — it records what it saw of each provider's
  credentials Secret as an annotation, for the CloudProvider hook to report.
* SecretsProviders: list (and CloudProviders, CedarPolicies, OIDCProviders above) — the
  distributable resources the resource sync hands to every child (docs/pivot.md).

Secrets anywhere else: never cluster-wide (that would be close to cluster-admin: every
ServiceAccount token, every TLS key). Each cluster's LatticeCluster controller creates, as children
next to the Cluster API objects, RoleBindings of two ClusterRoles defined here
(``hooks.cluster.cell_access``; a RoleBinding grants a ClusterRole's rules in its namespace only):

* ``lattice-cell-cluster-secrets`` in ``capi-<cluster>``: Secrets get, list, create, update, patch,
  delete — the bootstrap token Secret and credentials copies the provisioning shell writes; the
  pivot's list, ``delete-for-move`` mark (patch) and deletion of the source's Secrets; the unpivot's
  import (the hook binds it as soon as the imported namespace appears; the receiver waits for it).
  It lives and dies with the namespace.
* ``lattice-cell-credentials-copy`` where a provider reads credentials outside ``capi-<cluster>``
  (AWS: CAPA's namespace): Secrets get, create, update, delete — the copy, which carries an owner
  reference to its LatticeCluster, so the garbage collector deletes it with the cluster.

The pivot and the unpivot (``pivot_driver``, ``unpivot``, on ``lattice_move``) move a cluster's
objects out of and back into ``capi-<cluster>``, a namespace per cluster whose name RBAC cannot
express, so these stay cluster-wide:

* CustomResourceDefinitions: list — which kinds move (the CRDs of the Cluster API groups, or
  labelled for move).
* The Cluster API groups (``cluster.x-k8s.io`` and its ``controlplane``, ``bootstrap``,
  ``infrastructure``, ``addons``, ``ipam`` and ``runtime`` subgroups), every resource: get, list,
  create, update, patch, delete — pause, collect, mark ``delete-for-move`` and delete the source of a
  pivot; create an unpivot's objects with their status. A kind of another group labelled for move is
  refused (403), and the pivot fails naming it.
* ConfigMaps: get, list, create, update, patch, delete — they move with their cluster.
* Namespaces: create, update — an unpivot brings ``capi-<cluster>`` back with its labels.
* LatticeClusters: get, patch, delete — the handshake annotations (``lattice.dev/pivot-*``); an
  unpivoted cluster's LatticeCluster is deleted once its objects are back (its controller then
  tears the infrastructure down).

Used twice: ``manifests/cell-rbac.yaml`` binds it to ``lattice-operator`` (written by
``python -m lattice_cell.rbac``; a test fails on drift), and the bootstrap manifests bind it to a
child's ``lattice-agent``, so a child that becomes a parent runs its cell with exactly these rights
(the per-cluster RoleBindings name both ServiceAccounts).
``tests/integration/test_agent_leases.py`` runs a real cell as ``lattice-operator`` and checks
with ``kubectl auth can-i`` what it may not do; ``tests/integration/test_cluster_provisioning.py``
runs the provisioning shell as ``lattice-operator`` against the real LatticeCluster controller.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from crds import KubeObject

ROLE = "lattice-cell"
NAMESPACE = "lattice-system"
OPERATOR_SERVICE_ACCOUNT = "lattice-operator"
MANIFEST = Path(__file__).resolve().parents[1] / "manifests" / "cell-rbac.yaml"

NAMESPACED_RULES: list[KubeObject] = [
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "create", "update"]},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["list", "create", "patch"]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]},
    {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["lattice-proxy"], "verbs": ["update"]},
    {"apiGroups": [""], "resources": ["serviceaccounts/token"], "resourceNames": ["lattice-proxy"],
     "verbs": ["create"]},
    {"apiGroups": ["lattice.dev"], "resources": ["cedarpolicies", "oidcproviders"], "verbs": ["list", "watch"]},
    {"apiGroups": ["lattice.dev"], "resources": ["oidcproviders/status"], "verbs": ["patch"]},
    {"apiGroups": ["lattice.dev"], "resources": ["cloudproviders"], "verbs": ["list", "patch"]},
    {"apiGroups": ["lattice.dev"], "resources": ["secretsproviders"], "verbs": ["list"]},
]
CAPI_GROUPS = ["cluster.x-k8s.io", *(f"{g}.cluster.x-k8s.io" for g in (
    "controlplane", "bootstrap", "infrastructure", "addons", "ipam", "runtime"))]
CLUSTER_RULES: list[KubeObject] = [
    {"apiGroups": ["lattice.dev"], "resources": ["latticeclusters"], "verbs": ["get", "list", "patch", "delete"]},
    {"apiGroups": ["lattice.dev"], "resources": ["latticeclusters/status"], "verbs": ["patch"]},
    {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "create", "update", "patch", "delete"]},
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "create", "update"]},
    {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": ["list"]},
    {"apiGroups": CAPI_GROUPS, "resources": ["*"], "verbs": ["get", "list", "create", "update", "patch", "delete"]},
]
# Bound per namespace by the LatticeCluster controller (hooks.cluster.cell_access, same names).
CLUSTER_SECRETS_ROLE = "lattice-cell-cluster-secrets"
CREDENTIALS_COPY_ROLE = "lattice-cell-credentials-copy"
SECRET_ROLES: dict[str, list[KubeObject]] = {
    CLUSTER_SECRETS_ROLE: [{"apiGroups": [""], "resources": ["secrets"],
                            "verbs": ["get", "list", "create", "update", "patch", "delete"]}],
    # delete: setting an owner reference needs it (OwnerReferencesPermissionEnforcement).
    CREDENTIALS_COPY_ROLE: [{"apiGroups": [""], "resources": ["secrets"],
                             "verbs": ["get", "create", "update", "delete"]}],
}


def _meta(name: str, labels: dict[str, str], namespace: str | None = None) -> KubeObject:
    meta: KubeObject = {"name": name, "labels": dict(labels)}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def cell_rbac(service_account: str, *, binding: str = ROLE, namespace: str = NAMESPACE,
              labels: dict[str, str] | None = None) -> list[KubeObject]:
    """The Role, ClusterRole and their bindings to ``namespace/service_account`` (bindings named
    ``binding``), and the Secret ClusterRoles the LatticeCluster controller binds per namespace."""
    labels = labels or {"app.kubernetes.io/name": "lattice-cell"}
    subject = [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}]
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": _meta(ROLE, labels, namespace),
         "rules": NAMESPACED_RULES},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": _meta(binding, labels, namespace),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ROLE}, "subjects": subject},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": _meta(ROLE, labels),
         "rules": CLUSTER_RULES},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": _meta(binding, labels),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": ROLE},
         "subjects": subject},
        *({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": _meta(name, labels),
           "rules": rules} for name, rules in SECRET_ROLES.items()),
    ]


def manifest_yaml() -> str:
    sa: KubeObject = {"apiVersion": "v1", "kind": "ServiceAccount",
                      "metadata": _meta(OPERATOR_SERVICE_ACCOUNT, {"app.kubernetes.io/name": "lattice-cell"},
                                        NAMESPACE)}
    header = ("# Generated by `python -m lattice_cell.rbac` (lattice_cell/rbac.py says why each rule is there).\n"
              "# The identity the cell (lattice-operator) runs as on its own cluster, and exactly what it may do.\n")
    return header + yaml.safe_dump_all([sa, *cell_rbac(OPERATOR_SERVICE_ACCOUNT)], sort_keys=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write manifests/cell-rbac.yaml.")
    parser.add_argument("--check", action="store_true", help="fail if manifests/cell-rbac.yaml is out of date")
    args = parser.parse_args(argv)
    text = manifest_yaml()
    current = MANIFEST.read_text() if MANIFEST.exists() else ""
    if args.check:
        if current != text:
            print(f"{MANIFEST} is out of date: run python -m lattice_cell.rbac")
            return 1
        return 0
    if current != text:
        MANIFEST.write_text(text)
        print(f"wrote {MANIFEST}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
