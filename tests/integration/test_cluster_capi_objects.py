"""Every object the cluster compiler generates is created (not dry-run: several CRDs carry CEL
rules) on a real kube-apiserver with the upstream Cluster API CRDs installed: core, kubeadm and
CAPD v1.13, CAPA v2.13.0, CAPO v0.13.0, CAPMOX v0.7.0 and CAPRKE2 v0.21.0 (testbed/crds.sh). The
apiserver must neither refuse, warn about (deprecated kinds) nor prune anything we send.

No Cluster API controller runs here; that is the controller step's integration test.
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import crds
from crds import CloudProvider, LatticeCluster
from crds.cloud_provider import AwsAccount
from hooks.cluster import AgentBootstrap, ClusterInputs, ClusterPlan, compile_cluster
from lattice_dev import ControlPlane

ROOT = Path(__file__).resolve().parents[2]

CAPI_CRDS = frozenset({
    "clusters.cluster.x-k8s.io", "machinedeployments.cluster.x-k8s.io", "machinesets.cluster.x-k8s.io",
    "machines.cluster.x-k8s.io",
    "kubeadmcontrolplanes.controlplane.cluster.x-k8s.io", "kubeadmconfigtemplates.bootstrap.cluster.x-k8s.io",
    "rke2controlplanes.controlplane.cluster.x-k8s.io", "rke2configtemplates.bootstrap.cluster.x-k8s.io",
    "devclusters.infrastructure.cluster.x-k8s.io", "devmachinetemplates.infrastructure.cluster.x-k8s.io",
    "awsclusters.infrastructure.cluster.x-k8s.io", "awsmachinetemplates.infrastructure.cluster.x-k8s.io",
    "awsclusterstaticidentities.infrastructure.cluster.x-k8s.io",
    "awsclusterroleidentities.infrastructure.cluster.x-k8s.io",
    "openstackclusters.infrastructure.cluster.x-k8s.io", "openstackmachinetemplates.infrastructure.cluster.x-k8s.io",
    "proxmoxclusters.infrastructure.cluster.x-k8s.io", "proxmoxmachinetemplates.infrastructure.cluster.x-k8s.io",
})
Obj = dict[str, Any]


def crds_sh(*args: str) -> list[Path]:
    out = subprocess.run(["bash", str(ROOT / "testbed" / "crds.sh"), *args], capture_output=True, text=True,
                         timeout=300, check=True).stdout
    return [Path(p) for p in out.split()]


def _docs(path: Path) -> list[Obj]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def example_docs() -> dict[str, Obj]:
    docs = {p.stem: _docs(p)[0] for p in sorted((ROOT / "examples" / "clusters").glob("*.yaml"))}
    return {stem: d for stem, d in docs.items() if d.get("kind") == "LatticeCluster"}


def providers() -> dict[str, CloudProvider]:
    parsed = [crds.parse(d).obj for d in _docs(ROOT / "examples" / "clusters" / "cloud-providers.yaml")]
    return {p.name: p for p in parsed if isinstance(p, CloudProvider)}


def compile_doc(doc: Obj, provider: CloudProvider | None = None) -> ClusterPlan:
    cluster = crds.parse(copy.deepcopy(doc)).obj
    assert isinstance(cluster, LatticeCluster)
    provider = provider or providers()[cluster.spec.provider_ref]
    return compile_cluster(ClusterInputs(cluster, provider, AgentBootstrap()))


@pytest.fixture(scope="module")
def capi_plane(testbed_bin: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    files = [p for p in crds_sh() if "cluster-api" in str(p)] + crds_sh("--capi", "--providers")
    with ControlPlane.start(tmp_path_factory.mktemp("capi-objects"), controller_manager=False, upstream_crds=False,
                            bin_dir=testbed_bin) as cp:
        cp.install_crds(files, names=CAPI_CRDS)
        cp.kubectl("create", "namespace", "capa-system")  # the cell's RoleBinding for an AWS credentials copy
        yield cp


def _missing(sent: Any, stored: Any, path: str = "") -> list[str]:
    """Leaves we sent that the server did not keep (pruned or changed)."""
    if isinstance(sent, dict):
        if not isinstance(stored, dict):
            return [path]
        return [m for k, v in sent.items() for m in _missing(v, stored.get(k), f"{path}.{k}")]
    if isinstance(sent, list):
        if not isinstance(stored, list) or len(stored) != len(sent):
            return [path]
        return [m for i, v in enumerate(sent) for m in _missing(v, stored[i], f"{path}[{i}]")]
    return [] if sent == stored else [path]


def _create_all(cp: ControlPlane, objects: list[Obj]) -> None:
    proc = cp.kubectl("create", "-f", "-", "-o", "json", input=yaml.safe_dump_all(objects))
    assert "Warning" not in proc.stderr, proc.stderr
    items, text, decoder = [], proc.stdout.strip(), json.JSONDecoder()
    while text:  # one JSON document per created object
        obj, end = decoder.raw_decode(text)
        items.append(obj)
        text = text[end:].strip()
    assert len(items) == len(objects)
    for sent, stored in zip(objects, items, strict=True):
        body = {k: v for k, v in sent.items() if k != "metadata"}
        lost = _missing(body, stored) + _missing(sent["metadata"].get("labels", {}), stored["metadata"].get("labels"))
        assert not lost, f"{sent['kind']} {sent['metadata']['name']}: not kept by the apiserver: {lost}"


@pytest.mark.parametrize("example", sorted(example_docs()))
def test_every_example_object_is_created(capi_plane: ControlPlane, example: str) -> None:
    plan = compile_doc(example_docs()[example])
    assert plan.ok, plan.errors
    _create_all(capi_plane, plan.objects)


def test_aws_role_identity_is_created(capi_plane: ControlPlane) -> None:
    base = providers()["aws-prod"]
    account = AwsAccount(role_arn="arn:aws:iam::123456789012:role/lattice-provisioner")
    with_role = CloudProvider(metadata=base.metadata, spec=type(base.spec)(
        type=base.spec.type, credentials_secret_ref=base.spec.credentials_secret_ref, aws=account))
    doc = example_docs()["aws"]
    doc["metadata"]["name"] = "assumed"
    plan = compile_doc(doc, provider=with_role)
    assert [o["kind"] for o in plan.objects].count("AWSClusterRoleIdentity") == 1
    _create_all(capi_plane, plan.objects)
