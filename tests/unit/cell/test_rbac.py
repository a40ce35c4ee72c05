"""lattice_cell.rbac: the cell's rights, in manifests/ and in the bootstrap manifests (the API server
enforcing them is tests/integration/test_agent_leases.py)."""

from lattice_cell import rbac
from lattice_cell.manifests import AgentInstall, agent_manifests


def test_manifest_is_current() -> None:
    assert rbac.main(["--check"]) == 0, "run: .venv/bin/python -m lattice_cell.rbac"


def test_bootstrap_manifests_give_a_child_s_agent_the_cell_role() -> None:
    install = AgentInstall(cluster="c", grpc_endpoint="h:1", bootstrap_url="https://h:2", server_name="h",
                           ca_bundle_pem=b"pem", token="t")
    docs = agent_manifests(install)
    bindings = [d for d in docs if d["kind"] in ("RoleBinding", "ClusterRoleBinding")
                and d["roleRef"]["name"] == rbac.ROLE]
    assert {(b["kind"], b["metadata"]["name"]) for b in bindings} == {
        ("RoleBinding", "lattice-agent-cell"), ("ClusterRoleBinding", "lattice-agent-cell")}
    assert all(b["subjects"] == [{"kind": "ServiceAccount", "name": "lattice-agent", "namespace": "lattice-system"}]
               for b in bindings)
    role = next(d for d in docs if d["kind"] == "Role" and d["metadata"]["name"] == rbac.ROLE)
    assert {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["list", "create", "patch"]} \
        in role["rules"]


def test_secrets_only_in_the_cell_s_namespace_and_where_each_cluster_grants_them() -> None:
    from hooks.cluster import cell_access
    from lattice_cell.manifests import AGENT_NAME

    docs = rbac.cell_rbac(rbac.OPERATOR_SERVICE_ACCOUNT)
    cluster_role = next(d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == rbac.ROLE)
    assert not any("secrets" in r["resources"] for r in cluster_role["rules"])  # never cluster-wide
    role = next(d for d in docs if d["kind"] == "Role")
    assert role["metadata"]["namespace"] == rbac.NAMESPACE and any("secrets" in r["resources"] for r in role["rules"])
    # The per-cluster RoleBindings (hooks.cluster.cell_access) name these ClusterRoles and identities.
    assert set(cell_access.CLUSTER_ROLES) == {rbac.CLUSTER_SECRETS_ROLE, rbac.CREDENTIALS_COPY_ROLE}
    assert (cell_access.CLUSTER_SECRETS_ROLE, cell_access.CREDENTIALS_COPY_ROLE) == (
        rbac.CLUSTER_SECRETS_ROLE, rbac.CREDENTIALS_COPY_ROLE)
    assert set(cell_access.CELL_SERVICE_ACCOUNTS) == {rbac.OPERATOR_SERVICE_ACCOUNT, AGENT_NAME}
    assert cell_access.CELL_NAMESPACE == rbac.NAMESPACE
    shipped = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ClusterRole"}
    assert set(cell_access.CLUSTER_ROLES) <= set(shipped)
    for name in cell_access.CLUSTER_ROLES:  # bound per namespace only, never by a ClusterRoleBinding
        assert not any(d["kind"] == "ClusterRoleBinding" and d["roleRef"]["name"] == name for d in docs)
    assert [r["resources"] for r in shipped[rbac.CREDENTIALS_COPY_ROLE]["rules"]] == [["secrets"]]


WRITES = {"create", "update", "patch", "delete"}


def test_configmaps_and_cluster_api_writes_only_where_each_cluster_grants_them() -> None:
    from lattice_move.agent_rights import PIVOT_KINDS

    docs = rbac.cell_rbac(rbac.OPERATOR_SERVICE_ACCOUNT)
    shipped = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ClusterRole"}
    cluster_wide = shipped[rbac.ROLE]["rules"]
    # No ConfigMap at all cluster-wide; lattice-proxy is in the Role of the cell's namespace.
    assert not any("configmaps" in r["resources"] for r in cluster_wide)
    role = next(d for d in docs if d["kind"] == "Role")
    assert {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["lattice-proxy"],
            "verbs": ["update"]} in role["rules"]
    # Cluster API cluster-wide: reads of everything; writes only of named cluster-scoped kinds.
    scoped = {k.plural for k in PIVOT_KINDS if k.group and not k.namespaced}
    for rule in cluster_wide:
        if not any(g.endswith("cluster.x-k8s.io") for g in rule["apiGroups"]):
            continue
        if WRITES & set(rule["verbs"]):
            assert "*" not in rule["resources"]
            assert {r.removesuffix("/status") for r in rule["resources"]} <= scoped
    assert {"apiGroups": rbac.CAPI_GROUPS, "resources": ["*"], "verbs": ["get", "list"]} in cluster_wide
    # capi-<cluster>: Secrets, ConfigMaps and every Cluster API resource, every write verb.
    granted = shipped[rbac.CLUSTER_SECRETS_ROLE]["rules"]
    assert [(r["apiGroups"], r["resources"]) for r in granted] == [
        ([""], ["secrets"]), ([""], ["configmaps"]), (rbac.CAPI_GROUPS, ["*"])]
    assert all(set(r["verbs"]) == WRITES | {"get", "list"} for r in granted)
