"""hooks.controllers.latticecluster: validation and a Pending (awaiting provisioning) status."""

from __future__ import annotations

from hooks.context import ClusterIdentity
from hooks.controllers import latticecluster
from hooks.controllers.definition import HookConfig
from tests.unit.hooks.support import FakeMetacontroller, docs, in_process

CFG = HookConfig(cluster=ClusterIdentity(name="prod", provider="aws"))


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
