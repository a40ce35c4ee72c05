"""lattice_move.agent_rights: one table makes the agent's RBAC and its refusals (the API server
enforcing the role on a real agent is tests/integration/test_agent_rbac.py)."""

from __future__ import annotations

import pytest

from hooks.cluster import names as cluster_names
from hooks.controllers import kinds as compiler_kinds
from lattice_cell.manifests import AgentInstall, agent_manifests
from lattice_move import agent_rights
from lattice_move.agent_rights import PIVOT_KINDS, Refused, agent_rbac, check, refusal
from lattice_tunnel import distributed

INSTALL = AgentInstall(cluster="c", grpc_endpoint="h:1", bootstrap_url="https://h:2", server_name="h",
                       ca_bundle_pem=b"pem", token="t")
CRB = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "own"}}


def _grants(rules: list[dict], group: str, resource: str, verb: str) -> bool:
    return any(group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"]
               and "resourceNames" not in r for r in rules)


def _doc(docs: list[dict], kind: str, name: str = "lattice-agent") -> dict:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def test_the_roles_grant_each_pivot_kind_of_the_table_by_name_with_explicit_verbs() -> None:
    docs = agent_rbac()
    cluster_rules = _doc(docs, "ClusterRole")["rules"]
    pivot_rules = _doc(docs, "ClusterRole", "lattice-agent-pivot")["rules"]
    for kind in PIVOT_KINDS:
        namespace = kind.kind == "Namespace"  # never listed or deleted
        # namespaced kinds only where the pivot writes (a RoleBinding in capi-<cluster>), the rest cluster-wide
        rules, elsewhere = (pivot_rules, cluster_rules) if kind.namespaced else (cluster_rules, pivot_rules)
        for verb in ("get", "create", "update", "patch") if namespace else ("get", "list", "create", "update", "patch",
                                                                    "delete"):
            assert _grants(rules, kind.group, kind.plural, verb), (kind, verb)
            if verb not in ("get", "list") or not kind.group:
                assert not _grants(elsewhere, kind.group, kind.plural, verb), (kind, verb)
        if kind.group:
            assert _grants(rules, kind.group, f"{kind.plural}/status", "update"), kind
    for rule in cluster_rules + pivot_rules:
        assert "*" not in rule["apiGroups"] and "*" not in rule["verbs"], rule
        assert "*" not in rule["resources"] or set(rule["verbs"]) == {"get", "list"}, rule  # reads only
        assert "*" not in rule["resources"] or all(g.endswith("cluster.x-k8s.io") for g in rule["apiGroups"]), rule
    groups = {g for r in cluster_rules for g in r["apiGroups"]}
    assert groups == {"", "cluster.x-k8s.io", "bootstrap.cluster.x-k8s.io", "controlplane.cluster.x-k8s.io",
                      "infrastructure.cluster.x-k8s.io", "addons.cluster.x-k8s.io", "ipam.cluster.x-k8s.io",
                      "runtime.cluster.x-k8s.io", "lattice.dev", "apiextensions.k8s.io"}
    assert not _grants(cluster_rules, "rbac.authorization.k8s.io", "clusterrolebindings", "create")
    assert not _grants(cluster_rules, "", "namespaces", "delete")
    assert cluster_rules[-1] == {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"],
                                 "verbs": ["list"]}  # read only: the agent applies no CRDs


def test_no_secret_or_configmap_is_granted_cluster_wide() -> None:
    cluster_rules = _doc(agent_rbac(), "ClusterRole")["rules"]
    core = [r for r in cluster_rules if "" in r["apiGroups"]]
    assert core == [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "create", "update", "patch"]}]
    pivot_rules = _doc(agent_rbac(), "ClusterRole", "lattice-agent-pivot")["rules"]
    assert {"apiGroups": [""], "resources": ["secrets", "configmaps"],
            "verbs": ["get", "list", "create", "update", "patch", "delete"]} in pivot_rules


def test_the_pivot_role_is_bound_in_capi_cluster_only_and_the_namespace_is_labelled_as_the_compiler_does() -> None:
    assert [d["kind"] for d in agent_rbac()].count("RoleBinding") == 1  # no cluster: no pivot binding
    docs = agent_rbac(cluster="c")
    bindings = [d for d in docs if d["kind"] in ("RoleBinding", "ClusterRoleBinding")
                and d["roleRef"]["name"] == "lattice-agent-pivot"]
    assert [(b["kind"], b["metadata"]["namespace"]) for b in bindings] == [("RoleBinding", "capi-c")]
    assert bindings[0]["roleRef"]["kind"] == "ClusterRole"
    assert bindings[0]["subjects"] == [{"kind": "ServiceAccount", "name": "lattice-agent",
                                        "namespace": "lattice-system"}]
    namespace = _doc(docs, "Namespace", "capi-c")
    assert namespace["metadata"]["labels"] == cluster_names.labels("c")
    assert docs.index(namespace) < docs.index(bindings[0])  # applied in order: the namespace first


def test_the_role_in_lattice_system_grants_the_distributable_kinds_the_identity_and_one_token() -> None:
    role = next(d for d in agent_rbac() if d["kind"] == "Role")
    assert role["metadata"]["namespace"] == "lattice-system"
    for verb in ("get", "list", "create", "update", "patch", "delete"):  # credentials, parent config, resources
        assert _grants(role["rules"], "", "secrets", verb), verb
    assert not _grants(role["rules"], "", "configmaps", "create")
    for kind in distributed.KINDS:
        if kind.api_version != "v1":
            assert _grants(role["rules"], "lattice.dev", kind.plural, "patch"), kind
    token = next(r for r in role["rules"] if r["resources"] == ["serviceaccounts/token"])
    assert token == {"apiGroups": [""], "resources": ["serviceaccounts/token"], "resourceNames": ["lattice-proxy"],
                     "verbs": ["create"]}


def test_the_distributable_table_is_what_the_resource_sync_sends() -> None:
    assert {(k.group, k.kind, k.plural) for k in agent_rights.DISTRIBUTABLE_KINDS} == {
        (k.api_version.rpartition("/")[0], k.kind, k.plural) for k in distributed.KINDS}


def test_every_cluster_api_kind_the_compiler_makes_may_be_pivoted() -> None:
    made = [k for k in vars(compiler_kinds).values()
            if isinstance(getattr(k, "api_version", None), str) and "cluster.x-k8s.io" in k.api_version]
    assert len(made) >= 10
    table = {(k.group, k.kind): k for k in PIVOT_KINDS}
    for k in made:
        group = k.api_version.rpartition("/")[0]
        assert (group, k.kind) in table, f"{k.kind}.{group} is made by the compiler but may not be pivoted"
        assert (table[(group, k.kind)].plural, table[(group, k.kind)].namespaced) == (k.resource, k.namespaced)


def test_bootstrap_manifests_bind_the_agent_role_and_never_cluster_admin() -> None:
    docs = agent_manifests(INSTALL)
    assert not [d for d in docs if (d.get("roleRef") or {}).get("name") == "cluster-admin"]
    binding = next(d for d in docs if d["kind"] == "ClusterRoleBinding" and d["metadata"]["name"] == "lattice-agent")
    assert binding["roleRef"]["name"] == "lattice-agent"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "lattice-agent", "namespace": "lattice-system"}]
    assert all(d in docs for d in agent_rbac({"app.kubernetes.io/name": "lattice-agent",
                                              "app.kubernetes.io/managed-by": "lattice"}, cluster="c"))
    pivot = next(d for d in docs if d["kind"] == "RoleBinding" and d["metadata"]["name"] == "lattice-agent-pivot")
    assert pivot["metadata"]["namespace"] == "capi-c"
    assert docs.index(_doc(docs, "Namespace", "capi-c")) < docs.index(pivot)


@pytest.mark.parametrize(("obj", "stage", "allowed"), [
    ({"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster"}, "pivot", True),
    ({"apiVersion": "v1", "kind": "Secret"}, "pivot", True),
    ({"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta2", "kind": "DevMachine"}, "pivot", True),
    (CRB, "pivot", False),
    ({"apiVersion": "v1", "kind": "Pod"}, "pivot", False),
    ({"apiVersion": "apps/v1", "kind": "Secret"}, "pivot", False),  # a known kind in another group
    ({"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeCluster"}, "pivot", False),
    ({"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeCluster"}, "complete", True),
    ({"apiVersion": "lattice.dev/v1alpha1", "kind": "CloudProvider"}, "sync", True),
    ({"apiVersion": "lattice.dev/v1alpha1", "kind": "CloudProvider"}, "pivot", False),
    (CRB, "sync", False),
])
def test_refusal_follows_the_table(obj: dict, stage: str, allowed: bool) -> None:
    assert (refusal(obj, stage) is None) == allowed


def test_a_refusal_names_the_kind_and_the_role() -> None:
    with pytest.raises(Refused) as err:
        check(CRB)
    assert "ClusterRoleBinding 'own' (rbac.authorization.k8s.io/v1)" in str(err.value)
    assert "lattice-agent" in str(err.value) and "cluster.x-k8s.io" in str(err.value)
