"""lattice_cell.proxy.discovery: the cluster list and the kubeconfig."""

from __future__ import annotations

import base64

from lattice_cell.proxy.discovery import cluster_entries, exec_args, kubeconfig
from lattice_cell.proxy.identity import Identity
from lattice_tunnel.subtree import ClusterInfo

BASE = "https://proxy.example:8082"


def test_entries_have_depth_via_and_agent_facts_for_direct_children() -> None:
    subtree = [(ClusterInfo("gc", "child", "Ready", {"tier": "prod"}), "child"),
               (ClusterInfo("child", "root"), "child"), (ClusterInfo("other", "root", connected=False), "other")]
    agents = {"child": {"connectivity": "connected", "last_heartbeat": 0.0, "connected_at": 1.7e9,
                        "agent_version": "0.1.0", "kubernetes_version": "v1.35.4", "connections": 2}}
    entries = cluster_entries("root", subtree, BASE, agents)
    assert [(e["name"], e["depth"], e["via"]) for e in entries] == [
        ("root", 0, ""), ("child", 1, "child"), ("other", 1, "other"), ("gc", 2, "child")]
    child = entries[1]
    assert child["agent"]["connectedAt"] == "2023-11-14T22:13:20Z" and child["agent"]["lastHeartbeat"] is None
    assert entries[3]["server"] == f"{BASE}/clusters/gc" and entries[3]["labels"] == {"tier": "prod"}
    assert "agent" not in entries[3] and entries[2]["connected"] is False


def test_exec_args_follow_how_the_caller_authenticated() -> None:
    oidc = Identity("a@x", method="oidc:sso", issuer="https://sso", client_id="cli")
    sa = Identity("system:serviceaccount:ci:deployer", method="serviceaccount")
    assert exec_args(oidc, ["lattice-proxy"]) == ["token", "--oidc-issuer-url=https://sso", "--oidc-client-id=cli"]
    assert exec_args(sa, ["lattice-proxy"]) == ["token", "--service-account=ci/deployer", "--audience=lattice-proxy"]
    # an issuer with a private CA: `lattice token` gets it, as base64 of the PEM
    ca_arg = f"--certificate-authority-data={base64.b64encode(b'PEM').decode()}"
    assert exec_args(oidc, ["lattice-proxy"], "PEM")[3] == ca_arg
    assert exec_args(sa, ["lattice-proxy"], "PEM") == exec_args(sa, ["lattice-proxy"])
    # the OIDCProvider's extraScopes come back as one flag each
    assert exec_args(oidc, ["lattice-proxy"], None, ["groups", "email"])[3:] == [
        "--oidc-extra-scope=groups", "--oidc-extra-scope=email"]


def test_kubeconfig_has_a_context_per_entry_and_the_ca() -> None:
    entries = cluster_entries("root", [(ClusterInfo("child", "root"), "child")], BASE)
    config = kubeconfig("root", entries, b"PEM", ["token"])
    assert [c["name"] for c in config["contexts"]] == ["root", "child"] and config["current-context"] == "root"
    assert base64.b64decode(config["clusters"][1]["cluster"]["certificate-authority-data"]) == b"PEM"
    assert config["users"][0]["user"]["exec"]["command"] == "lattice"
    only_child = kubeconfig("root", entries[1:], None, ["token"])
    assert only_child["current-context"] == "child" and "certificate-authority-data" not in (
        only_child["clusters"][0]["cluster"])
