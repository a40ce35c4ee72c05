"""What a cell may do on its own cluster's API server, and nothing more: one Role in the cell's
namespace, one ClusterRole, bound to the ServiceAccount the cell runs as, and two ClusterRoles bound
nowhere cluster-wide (per cluster, below). Each rule and why:

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

Secrets, ConfigMaps and the Cluster API objects of a cluster: never cluster-wide (Secrets anywhere
would be close to cluster-admin: every ServiceAccount token, every TLS key; ConfigMaps and Cluster
API objects anywhere would let a cell rewrite any workload's configuration and any cluster).
Each cluster's LatticeCluster controller creates, as children next to the Cluster API objects,
RoleBindings of two ClusterRoles defined here (``hooks.cluster.cell_access``; a RoleBinding grants a
ClusterRole's rules in its namespace only):

* ``lattice-cell-cluster-secrets`` in ``capi-<cluster>`` (the name predates the ConfigMaps and Cluster
  API rules; a RoleBinding's roleRef cannot change, so existing bindings keep it):

  * Secrets: get, list, create, update, patch, delete — the bootstrap token Secret and credentials
    copies the provisioning shell writes; the pivot's list, ``delete-for-move`` mark (patch) and
    deletion of the source's Secrets; the unpivot's import.
  * ConfigMaps: the same verbs — they move with their cluster (pivot: list, mark, delete; unpivot:
    create, update when a batch repeats).
  * The Cluster API groups (``cluster.x-k8s.io`` and its ``controlplane``, ``bootstrap``,
    ``infrastructure``, ``addons``, ``ipam`` and ``runtime`` subgroups), every resource (status
    included): the same verbs — the pivot pauses (patch ``spec.paused``), collects, marks
    ``delete-for-move`` and deletes the source; the unpivot creates the objects with their status,
    patches the owner references that waited, and resumes the Cluster. A kind of another group
    labelled for move is refused (403), and the pivot fails naming it.

  The hook binds it as soon as the namespace is its child, and holds it through a pivot; for an
  unpivot, as soon as the imported namespace appears (the receiver waits for it before importing
  anything else). It lives and dies with the namespace.
* ``lattice-cell-credentials-copy`` where a provider reads credentials outside ``capi-<cluster>``
  (AWS: CAPA's namespace): Secrets get, create, update, delete — the copy, which carries an owner
  reference to its LatticeCluster, so the garbage collector deletes it with the cluster.

The pivot and the unpivot (``pivot_driver``, ``unpivot``, on ``lattice_move``) write only in
``capi-<cluster>``, apart from what is cluster-scoped; cluster-wide (the ClusterRole) stays:

* CustomResourceDefinitions: list — which kinds move (the CRDs of the Cluster API groups, or
  labelled for move).
* The Cluster API groups, every resource: get, list, and no write — the pivot's export lists every
  move kind: the namespaced ones in ``capi-<cluster>``, the cluster-scoped ones (ExtensionConfigs, a
  provider's identities, kinds no table names in advance) cluster-wide; the importer reads a
  cluster-scoped owner by name. RBAC cannot scope ``*`` to cluster-scoped kinds, so reading the
  namespaced kinds elsewhere comes with it (Cluster API objects hold no secret values: those are in
  Secrets).
* The cluster-scoped Cluster API kinds a move carries (the AWS cluster identities,
  ``lattice_move.agent_rights.PIVOT_KINDS``; CAPA labels them ``move-hierarchy``), each named: get,
  list, create, update, patch, delete, status update — the pivot deletes them from the source, the
  unpivot creates them; a RoleBinding cannot grant a cluster-scoped kind.
* Namespaces: create, update — an unpivot brings ``capi-<cluster>`` back with its labels.
* LatticeClusters: get, patch, delete — the handshake annotations (``lattice.dev/pivot-*``); an
  unpivoted cluster's LatticeCluster is deleted once its objects are back (its controller then
  tears the infrastructure down).

No ConfigMap cluster-wide: the cell's only other ConfigMap is ``lattice-proxy`` in its own namespace
(the Role above).

Used twice: ``manifests/cell-rbac.yaml`` binds it to ``lattice-operator`` (written by
``python -m lattice_cell.rbac``; a test fails on drift), and the bootstrap manifests bind it to a
child's ``lattice-agent``, so a child that becomes a parent runs its cell with exactly these rights
(the per-cluster RoleBindings name both ServiceAccounts).
``tests/integration/test_agent_leases.py`` runs a real cell as ``lattice-operator`` and checks
with ``kubectl auth can-i`` what it may not do; ``tests/integration/test_cluster_provisioning.py``
checks where it may write Secrets, ConfigMaps and Cluster API objects once a LatticeCluster grants
it, and runs the provisioning shell as ``lattice-operator`` against the real LatticeCluster controller.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from crds import KubeObject
from lattice_move.agent_rights import PIVOT_KINDS

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
WRITE_VERBS = ["get", "list", "create", "update", "patch", "delete"]


def _cluster_scoped_capi_rules() -> list[KubeObject]:
    """Writes of the cluster-scoped Cluster API kinds a move may carry (the AWS identities), named:
    a RoleBinding cannot grant a cluster-scoped kind, and ``*`` here would reach every namespace."""
    by_group: dict[str, list[str]] = {}
    for kind in PIVOT_KINDS:
        if kind.group and not kind.namespaced:
            by_group.setdefault(kind.group, []).append(kind.plural)
    rules: list[KubeObject] = []
    for group, plurals in sorted(by_group.items()):
        rules.append({"apiGroups": [group], "resources": plurals, "verbs": list(WRITE_VERBS)})
        rules.append({"apiGroups": [group], "resources": [f"{p}/status" for p in plurals], "verbs": ["update"]})
    return rules


CLUSTER_RULES: list[KubeObject] = [
    {"apiGroups": ["lattice.dev"], "resources": ["latticeclusters"], "verbs": ["get", "list", "patch", "delete"]},
    {"apiGroups": ["lattice.dev"], "resources": ["latticeclusters/status"], "verbs": ["patch"]},
    {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "create", "update"]},
    {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": ["list"]},
    {"apiGroups": CAPI_GROUPS, "resources": ["*"], "verbs": ["get", "list"]},
    *_cluster_scoped_capi_rules(),
]
# Bound per namespace by the LatticeCluster controller (hooks.cluster.cell_access, same names). The
# first keeps its name from when it granted Secrets alone: a RoleBinding's roleRef cannot change, so
# a new name would leave every existing cluster's binding unable to follow.
CLUSTER_SECRETS_ROLE = "lattice-cell-cluster-secrets"
CREDENTIALS_COPY_ROLE = "lattice-cell-credentials-copy"
SECRET_ROLES: dict[str, list[KubeObject]] = {
    CLUSTER_SECRETS_ROLE: [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": list(WRITE_VERBS)},
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": list(WRITE_VERBS)},
        {"apiGroups": CAPI_GROUPS, "resources": ["*"], "verbs": list(WRITE_VERBS)},
    ],
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
