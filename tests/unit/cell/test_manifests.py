"""lattice_cell.manifests: what a new child is handed, in an order kubectl can apply."""

from __future__ import annotations

import base64
from pathlib import Path

import yaml

from lattice_cell import manifests
from lattice_tunnel.parent_config import ParentConfig

ROOT = Path(__file__).resolve().parents[3]
INSTALL = manifests.AgentInstall("child", "cell.example:50051", "https://cell.example:8443", "cell.example",
                                 b"-----CA-----\n", "one-time-token", image="registry.example/lattice:1")


def test_the_parent_config_secret_is_what_the_agent_reads() -> None:
    secret = manifests.parent_config_secret(INSTALL)
    data = {k: base64.b64decode(v) for k, v in secret["data"].items()}
    assert ParentConfig.from_data(data, "test") == INSTALL.parent_config()
    assert (secret["metadata"]["namespace"], secret["metadata"]["name"]) == ("lattice-system", "lattice-parent-config")


def test_crds_come_first_then_the_agent_then_the_rest() -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "x"}}
    policy = {"apiVersion": "lattice.dev/v1alpha1", "kind": "CedarPolicy", "metadata": {"name": "p"}}
    docs = manifests.agent_manifests(INSTALL, [policy, crd])
    kinds = [d["kind"] for d in docs]
    assert kinds[0] == "CustomResourceDefinition" and kinds[-1] == "CedarPolicy"
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example/lattice:1"
    assert container["command"][:3] == ["lattice-agent", "--cluster", "child"]
    assert list(yaml.safe_load_all(manifests.yaml_stream(docs))) == docs


def test_only_propagating_policies_are_handed_down_renamed() -> None:
    items = [
        {"kind": "CedarPolicy", "metadata": {"name": "ops"}, "spec": {"propagate": True}},
        {"kind": "CedarPolicy", "metadata": {"name": "off"}, "spec": {"propagate": True, "enabled": False}},
        {"kind": "CedarPolicy", "metadata": {"name": "local"}, "spec": {}},
    ]
    (handed,) = manifests.propagated_policies(items, "root")
    assert handed["metadata"]["name"] == "root--ops"
    assert handed["metadata"]["labels"]["lattice.dev/origin-cluster"] == "root"


def test_the_lattice_crds_travel_with_the_package() -> None:
    names = {d["metadata"]["name"] for d in manifests.bundled_crds()}
    assert {"latticeservices.lattice.dev", "cedarpolicies.lattice.dev"} <= names


def test_the_impersonator_may_impersonate_and_nothing_else_and_matches_the_shipped_manifest() -> None:
    docs = manifests.impersonator_rbac()
    shipped = list(yaml.safe_load_all((ROOT / "manifests" / "proxy-rbac.yaml").read_text()))
    assert shipped == docs
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    assert {verb for rule in role["rules"] for verb in rule["verbs"]} == {"impersonate"}
    assert "proxy-rbac.yaml" in yaml.safe_load((ROOT / "manifests" / "kustomization.yaml").read_text())["resources"]
    # every child gets it with its agent
    assert all(d in manifests.agent_manifests(INSTALL) for d in docs)
