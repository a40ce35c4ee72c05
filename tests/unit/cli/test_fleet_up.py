"""cli.fleet_up: the children it asks for and the kubeconfig it prints."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import yaml

import crds
from cli.fleet_up import child_doc, merged_kubeconfig
from crds import LatticeCluster


def test_children_are_valid_docker_clusters() -> None:
    parsed = crds.parse(child_doc("child-1", 2))
    assert not parsed.errors and isinstance(parsed.obj, LatticeCluster)
    assert parsed.obj.spec.nodes.worker_pools["default"].replicas == 2


def test_one_context_per_cluster(tmp_path: Path) -> None:
    clusters = {}
    for name in ("root", "child-1"):
        path = tmp_path / f"{name}.kubeconfig"
        path.write_text(yaml.safe_dump({"clusters": [{"name": "x", "cluster": {"server": f"https://{name}"}}],
                                        "users": [{"name": "admin", "user": {"token": name}}]}))
        clusters[name] = SimpleNamespace(cp=SimpleNamespace(kubeconfig=path))
    merged = yaml.safe_load(merged_kubeconfig(clusters, tmp_path / "fleet").read_text())
    assert [c["name"] for c in merged["contexts"]] == ["root", "child-1"] and merged["current-context"] == "root"
    assert merged["clusters"][1]["cluster"]["server"] == "https://child-1"
    assert merged["users"][1] == {"name": "child-1-admin", "user": {"token": "child-1"}}
