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
