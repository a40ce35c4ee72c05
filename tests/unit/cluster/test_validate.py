"""Bad or unsupported inputs: every problem collected, each naming its field; never an exception.
A missing or failed CloudProvider is waiting (Pending), not an error."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import crds
from crds import CloudProvider, Phase
from crds.cloud_provider import CloudProviderStatus

from .support import base_doc, compile_doc, example_docs, providers

DOCS = example_docs()


def _errors(doc: dict[str, Any], **kwargs: Any) -> list[str]:
    return [str(e) for e in compile_doc(doc, **kwargs).errors]


def test_rke2_on_the_in_memory_backend() -> None:
    doc = base_doc({"docker": {"backend": "inMemory"}}, bootstrap="rke2")
    assert _errors(doc) == [
        "spec.provider.kubernetes.bootstrap: rke2 cannot run on spec.provider.config.docker.backend inMemory: the "
        "in-memory backend simulates kubeadm nodes only (use backend docker, or bootstrap kubeadm)"]


def test_provider_type_must_match_the_cloud_provider() -> None:
    doc = copy.deepcopy(DOCS["aws"])
    doc["spec"]["providerRef"] = "docker"
    assert _errors(doc) == [
        "spec.providerRef: CloudProvider 'docker' is of type docker, but spec.provider.config is aws"]


def test_missing_cloud_provider_is_waiting() -> None:
    plan = compile_doc(DOCS["aws"], provider=None)
    assert plan.errors == [] and plan.objects == []
    assert plan.waiting == "CloudProvider 'aws-prod' not found in lattice-system"


def test_failed_cloud_provider_is_waiting() -> None:
    p = providers()["aws-prod"]
    p.status = CloudProviderStatus(phase=Phase.FAILED, message="Secret aws-credentials not found")
    plan = compile_doc(DOCS["aws"], provider=p)
    assert plan.waiting == "CloudProvider 'aws-prod' is not ready: Secret aws-credentials not found"


def test_name_too_long_and_pool_name_too_long() -> None:
    doc = base_doc({"docker": {}})
    doc["metadata"]["name"] = "c" * 50
    doc["spec"]["nodes"]["workerPools"] = {"p" * 10: {"replicas": 1}}
    errors = _errors(doc)
    assert errors[0].startswith("metadata.name: must be a DNS label of at most 49 characters")
    assert errors[1].startswith(f"spec.nodes.workerPools.{'p' * 10}: '{'c' * 50}-pool-{'p' * 10}' (the "
                                "MachineDeployment, a label value) is longer than 63 characters")


def test_node_class_where_the_provider_has_no_sizes() -> None:
    doc = base_doc({"docker": {}})
    doc["spec"]["nodes"]["workerPools"]["default"]["nodeClass"] = "big"
    assert _errors(doc) == ["spec.nodes.workerPools.default.nodeClass: not supported by provider docker (all nodes "
                            "are the same containers)"]


def test_kubelet_restricted_labels() -> None:
    doc = base_doc({"docker": {}})
    doc["spec"]["nodes"]["workerPools"]["default"]["labels"] = {
        "kubernetes.io/role": "x", "node-role.kubernetes.io/web": "", "topology.kubernetes.io/zone": "a",
        "lattice.dev/pool": "other", "example.com/tier": "1", "node.kubernetes.io/exclude": "1"}
    assert _errors(doc) == [
        "spec.nodes.workerPools.default.labels.kubernetes.io/role: the kubelet may not set labels in the "
        "kubernetes.io / k8s.io domains (use node-role.kubernetes.io/<role>, which Cluster API sets, or your own "
        "domain)",
        "spec.nodes.workerPools.default.labels.lattice.dev/pool: reserved: Lattice sets lattice.dev/pool=<pool id> "
        "itself",
    ]


def test_proxmox_needs_a_source_node_for_template_ids() -> None:
    doc = copy.deepcopy(DOCS["proxmox"])
    del doc["spec"]["provider"]["config"]["proxmox"]["sourceNode"]
    p = providers()["proxmox-lab"]
    assert p.spec.proxmox is not None
    p.spec.proxmox.node = None
    assert _errors(doc, provider=p) == [
        "spec.provider.config.proxmox.sourceNode: required to clone by templateId (or set templateTags, or the "
        "CloudProvider's proxmox.node)"]
    assert _errors(doc) == []  # the example CloudProvider names node pve1


def test_several_errors_are_all_reported() -> None:
    doc = base_doc({"docker": {"backend": "inMemory"}}, bootstrap="rke2")
    doc["metadata"]["name"] = "x" * 60
    doc["spec"]["nodes"]["workerPools"]["default"]["nodeClass"] = "big"
    doc["spec"]["nodes"]["workerPools"]["default"]["labels"] = {"k8s.io/x": "y"}
    fields = [e.split(":")[0] for e in _errors(doc)]
    assert fields == ["metadata.name", "spec.nodes.workerPools.default",
                      "spec.nodes.workerPools.default.labels.k8s.io/x", "spec.provider.kubernetes.bootstrap",
                      "spec.nodes.workerPools.default.nodeClass"]


@pytest.mark.parametrize(("patch", "expected"), [
    ({"nodes": {"controlPlane": 1, "workerPools": {"a": {}}}},
     ["spec.nodes.workerPools.a.replicas: required unless the pool is autoscaled (min and max set)"]),
    ({"provider": {"kubernetes": {"version": "1.32"}, "config": {"docker": {}}}},
     ["spec.provider.kubernetes.version: invalid Kubernetes version '1.32' (expected a release like '1.32.0' or "
      "'v1.32.0')"]),
    ({"provider": {"kubernetes": {"version": "1.32.0"}, "config": {"docker": {"backend": "podman"}}}},
     ["spec.provider.config.docker.backend: invalid value 'podman' (expected one of: docker, inMemory)"]),
    ({"nodes": {"controlPlane": 1, "workerPools": {"a": {"replicas": 1, "labels": {"bad key!": "v"}}}}},
     ["spec.nodes.workerPools.a.labels: invalid label key 'bad key!' (expected [prefix/]name, e.g. 'gpu' or "
      "'example.com/tier')"]),
])
def test_model_rules(patch: dict[str, Any], expected: list[str]) -> None:
    doc = base_doc({"docker": {}}, **patch)
    assert [str(e) for e in crds.parse(doc).errors] == expected


def test_never_raises_on_a_provider_of_another_type() -> None:
    for example, doc in DOCS.items():
        for provider in providers().values():
            plan = compile_doc(doc, provider=provider)
            assert plan.objects or plan.errors, example


def test_cloud_provider_model_is_what_the_examples_use() -> None:
    assert all(isinstance(p, CloudProvider) for p in providers().values())
