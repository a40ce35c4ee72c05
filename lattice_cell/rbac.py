"""What a cell may do on its own cluster's API server, and nothing more: one Role in the cell's
namespace and one ClusterRole, bound to the ServiceAccount the cell runs as. Each rule and why:

* Secrets: get, list, create, update — the CA (``lattice-ca``) and the bootstrap tokens
  (``lattice-bootstrap-<child>``, listed by label: the registered children).
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
* Cluster-wide Secrets: get, list, create, update, delete, and Namespaces: get — the cluster
  provisioning shell writes each new cluster's one-time bootstrap token and its provider credentials
  copies into ``capi-<cluster>``, a namespace that only exists once that LatticeCluster does, and
  deletes copies whose cluster is gone (found by label). RBAC cannot grant "namespaces named
  ``capi-*``", so these writes are cluster-wide (as are the pivot's, below).
* CloudProviders: list, patch (in the cell's namespace) — it records what it saw of each provider's
  credentials Secret as an annotation, for the CloudProvider hook to report.
* SecretsProviders: list (and CloudProviders, CedarPolicies, OIDCProviders above) — the
  distributable resources the resource sync hands to every child (docs/pivot.md).

The pivot and the unpivot (``pivot_driver``, ``unpivot``, on ``lattice_move``) move a cluster's
objects out of and back into ``capi-<cluster>``, a namespace per cluster, so these are cluster-wide:

* CustomResourceDefinitions: list — which kinds move (the CRDs of the Cluster API groups, or
  labelled for move).
* The Cluster API groups (``cluster.x-k8s.io`` and its ``controlplane``, ``bootstrap``,
  ``infrastructure``, ``addons``, ``ipam`` and ``runtime`` subgroups), every resource: get, list,
  create, update, patch, delete — pause, collect, mark ``delete-for-move`` and delete the source of a
  pivot; create an unpivot's objects with their status. A kind of another group labelled for move is
  refused (403), and the pivot fails naming it.
* Secrets: also patch (the ``delete-for-move`` mark); ConfigMaps: get, list, create, update, patch,
  delete — both kinds move with their cluster.
* Namespaces: create, update — an unpivot brings ``capi-<cluster>`` back with its labels.
* LatticeClusters: get, patch, delete — the handshake annotations (``lattice.dev/pivot-*``); an
  unpivoted cluster's LatticeCluster is deleted once its objects are back (its controller then
  tears the infrastructure down).

Used twice: ``manifests/cell-rbac.yaml`` binds it to ``lattice-operator`` (written by
``python -m lattice_cell.rbac``; a test fails on drift), and the bootstrap manifests bind it to a
child's ``lattice-agent``, so a child that becomes a parent runs its cell with exactly these rights.
``tests/integration/test_agent_leases.py`` runs a real cell as ``lattice-operator`` and checks
with ``kubectl auth can-i`` what it may not do.
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
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "create", "update", "patch", "delete"]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "create", "update", "patch", "delete"]},
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "create", "update"]},
    {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": ["list"]},
    {"apiGroups": CAPI_GROUPS, "resources": ["*"], "verbs": ["get", "list", "create", "update", "patch", "delete"]},
]


def _meta(name: str, labels: dict[str, str], namespace: str | None = None) -> KubeObject:
    meta: KubeObject = {"name": name, "labels": dict(labels)}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def cell_rbac(service_account: str, *, binding: str = ROLE, namespace: str = NAMESPACE,
              labels: dict[str, str] | None = None) -> list[KubeObject]:
    """The Role, ClusterRole and their bindings to ``namespace/service_account`` (bindings named ``binding``)."""
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
