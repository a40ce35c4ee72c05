"""Namespace owner, LatticeCluster, CedarPolicy, SecretsProvider and the secret-stores decorator."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from hooks import wire
from hooks.controllers import cedarpolicy, latticecluster, latticenamespace, secretsprovider
from hooks.controllers._base import HookConfig
from hooks.service.context import ClusterIdentity
from tests.unit.hooks.support import FakeMetacontroller, docs, in_process

CFG = HookConfig(cluster=ClusterIdentity(name="prod", provider="aws"))
API = "lattice.dev/v1alpha1"
SERVICE = {"apiVersion": API, "kind": "LatticeService", "metadata": {"name": "a", "namespace": "shop"},
           "spec": {"containers": {"main": {"image": "a:1"}}}}
MESH_LABELS = {"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "shop-waypoint"}


def _ns(labels: dict[str, str] | None = None, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "shop", "labels": {"kubernetes.io/metadata.name": "shop", **(labels or {})}, **meta}}


def _decorate(ns: dict[str, Any], services: list[dict[str, Any]]) -> wire.DecoratorSyncResponse:
    related = {"LatticeService.lattice.dev/v1alpha1": {wire.object_key(s): s for s in services}}
    return latticenamespace.CONTROLLER.run_sync(wire.DecoratorSyncRequest(object=ns, related=related), CFG).response


def test_namespace_customize_asks_for_its_services() -> None:
    answer = latticenamespace.CONTROLLER.run("customize", orjson.dumps({"parent": _ns()}), CFG)
    assert answer.response.to_json() == {"relatedResources": [
        {"apiVersion": API, "resource": "latticeservices", "namespace": "shop"}]}


def test_a_namespace_with_a_service_gets_the_waypoint_and_the_labels() -> None:
    response = _decorate(_ns(), [SERVICE])
    assert sorted((a["kind"], a["metadata"]["name"]) for a in response.attachments) == [
        ("AuthorizationPolicy", "allow-to-waypoint"), ("Gateway", "shop-waypoint")]
    assert all(a["metadata"]["namespace"] == "shop" for a in response.attachments)
    assert response.labels == MESH_LABELS


def test_the_last_service_gone_removes_attachments_and_only_our_labels() -> None:
    response = _decorate(_ns({**MESH_LABELS, "istio.io/use-waypoint": "hand-made"}), [])
    assert response.attachments == []
    assert response.labels == {"istio.io/dataplane-mode": None}  # the hand-set waypoint label stays


def test_a_terminating_namespace_gets_nothing_new() -> None:
    response = _decorate(_ns(deletionTimestamp="2026-01-01T00:00:00Z"), [SERVICE])
    assert response.attachments == [] and response.labels == {}


def test_system_namespaces_are_not_targets() -> None:
    (target,) = latticenamespace.CONTROLLER.targets
    expr = target.label_selector["matchExpressions"][0]  # type: ignore[index]
    assert expr["operator"] == "NotIn" and "kube-system" in expr["values"] and "lattice-system" in expr["values"]


CLUSTER = """
apiVersion: lattice.dev/v1alpha1
kind: LatticeCluster
metadata: {name: dev}
spec:
  providerRef: docker
  provider:
    kubernetes: {version: "1.32.0"}
    config: {docker: {}}
  nodes: {controlPlane: 1}
"""


def test_a_valid_cluster_is_pending_with_its_provider() -> None:
    mc = FakeMetacontroller(in_process(CFG))
    mc.apply_yaml(CLUSTER)
    answer = mc.sync("LatticeCluster", "", "dev")
    assert answer["children"] == []
    status = answer["status"]
    assert (status["phase"], status["message"], status["provider"]) == ("Pending", latticecluster.AWAITING, "docker")
    assert status["conditions"][0]["reason"] == "AwaitingProvisioning"


def test_an_invalid_cluster_is_failed_with_every_error() -> None:
    mc = FakeMetacontroller(in_process(CFG))
    cluster = docs(CLUSTER)[0]
    cluster["spec"]["nodes"] = {"controlPlane": 2}
    cluster["spec"]["provider"]["config"] = {"docker": {}, "aws": {
        "region": "x", "cpInstanceType": "m5", "workerInstanceType": "m5", "sshKeyName": "k"}}
    mc.apply(cluster)
    status = mc.sync("LatticeCluster", "", "dev")["status"]
    assert status["phase"] == "Failed"
    assert "spec.nodes.controlPlane: must be odd" in status["message"]
    assert "exactly one of aws, docker, openstack, proxmox" in status["message"]


def test_a_cluster_status_beyond_pending_is_left_alone() -> None:
    mc = FakeMetacontroller(in_process(CFG))
    cluster = docs(CLUSTER)[0]
    cluster["status"] = {"phase": "Ready", "endpoint": "https://dev:6443"}
    mc.apply(cluster)
    mc.objects[("LatticeCluster", "", "dev")]["status"] = cluster["status"]
    assert mc.sync("LatticeCluster", "", "dev")["status"] == {"phase": "Ready", "endpoint": "https://dev:6443"}


@pytest.mark.parametrize(("policies", "phase"), [
    ('permit(principal, action, resource);', "Valid"),
    ('permit(principal, action, resource', "Invalid"),
])
def test_cedar_policy_status(policies: str, phase: str) -> None:
    mc = FakeMetacontroller(in_process(CFG))
    mc.apply({"apiVersion": API, "kind": "CedarPolicy", "metadata": {"name": "p", "namespace": "lattice-system"},
              "spec": {"policies": policies}})
    answer = mc.sync("CedarPolicy", "lattice-system", "p")
    assert answer["status"]["phase"] == phase
    assert answer["children"] == [] and answer["resyncAfterSeconds"] > 0


def test_cedar_policy_failure_is_counted() -> None:
    raw = {"apiVersion": API, "kind": "CedarPolicy", "metadata": {"name": "p", "namespace": "lattice-system"},
           "spec": {"policies": "permit(principal"}}
    assert cedarpolicy.CONTROLLER.run_sync(wire.SyncRequest(parent=raw), CFG).failure == "InvalidPolicy"


PROVIDERS = """
apiVersion: lattice.dev/v1alpha1
kind: SecretsProvider
metadata: {name: vault, namespace: lattice-system}
spec: {server: "https://vault:8200", authMethod: kubernetes}
---
apiVersion: lattice.dev/v1alpha1
kind: SecretsProvider
metadata: {name: broken, namespace: lattice-system}
spec: {server: "https://vault:8200", authMethod: token}
"""


def test_secrets_provider_status_follows_the_store() -> None:
    mc = FakeMetacontroller(in_process(CFG))
    mc.apply_yaml(PROVIDERS)
    rules = mc.customize(mc.get("SecretsProvider", "lattice-system", "vault"))["relatedResources"]
    assert {"apiVersion": "external-secrets.io/v1", "resource": "clustersecretstores", "names": ["vault"]} in rules
    # No ESO CRD among the objects: Pending, waiting for ESO
    assert mc.sync("SecretsProvider", "lattice-system", "vault")["status"]["phase"] == "Pending"
    broken = mc.sync("SecretsProvider", "lattice-system", "broken")["status"]
    assert broken["phase"] == "Failed" and "credentialsSecretRef" in broken["message"]


def test_secret_stores_decorator_owns_one_store_per_usable_provider() -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lattice-system"}}
    providers = {wire.object_key(p): p for p in docs(PROVIDERS)}
    req = wire.DecoratorSyncRequest(object=ns, related={"SecretsProvider.lattice.dev/v1alpha1": providers})
    response = secretsprovider.STORES.run_sync(req, CFG).response
    assert [(a["kind"], a["metadata"]["name"]) for a in response.attachments] == [("ClusterSecretStore", "vault")]
    assert "namespace" not in response.attachments[0]["metadata"]
    rules = secretsprovider.STORES.run("customize", orjson.dumps({"parent": ns}), CFG).response.to_json()
    assert rules == {"relatedResources": [{"apiVersion": API, "resource": "secretsproviders",
                                           "namespace": "lattice-system"}]}
