"""Observed Cluster API objects → LatticeCluster status (Cluster API v1beta2 status shapes)."""

from __future__ import annotations

from typing import Any

import pytest

from crds.cluster import ClusterPhase, PivotPhase
from hooks.cluster import ObservedCapi, PivotProgress, cluster_status

from .support import cluster, compile_doc, example_docs

DOCS = example_docs()
NOW = "2026-12-06T10:00:00Z"
LATER = "2026-12-06T10:05:00Z"


def capi_cluster(*, infra: bool = False, cp_init: bool = False, cp_ready: int = 0, phase: str = "Provisioning",
                 message: str = "") -> dict[str, Any]:
    conds = [{"type": "InfrastructureReady", "status": "True" if infra else "False",
              "reason": "Ready" if infra else "NotReady", "message": message, "lastTransitionTime": NOW}]
    return {
        "apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster", "metadata": {"name": "production"},
        "spec": {"controlPlaneEndpoint": {"host": "lb.example.com", "port": 6443}},
        "status": {"phase": phase, "conditions": conds,
                   "initialization": {"infrastructureProvisioned": infra, "controlPlaneInitialized": cp_init},
                   "controlPlane": {"desiredReplicas": 3, "readyReplicas": cp_ready}},
    }


def md(name: str, replicas: int, ready: int, spec_replicas: int | None = None) -> dict[str, Any]:
    spec = {} if spec_replicas is None else {"replicas": spec_replicas}
    return {"metadata": {"name": name}, "spec": spec, "status": {"replicas": replicas, "readyReplicas": ready}}


def status(observed: ObservedCapi, pivot: PivotProgress | None = PivotProgress(), **kw: Any):  # type: ignore[no-untyped-def]
    c = cluster(DOCS["aws"])
    return cluster_status(c, compile_doc(DOCS["aws"]), observed, pivot=pivot, now=NOW, **kw)


def _conds(s: Any) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status.value, c.message) for c in s.conditions}


def test_failed_on_validation_errors() -> None:
    doc = {**DOCS["aws"], "spec": {**DOCS["aws"]["spec"], "providerRef": "docker"}}
    c = cluster(doc)
    s = cluster_status(c, compile_doc(doc), ObservedCapi(), now=NOW)
    assert s.phase is ClusterPhase.FAILED
    assert s.message == "spec.providerRef: CloudProvider 'docker' is of type docker, but spec.provider.config is aws"
    assert _conds(s) == {"Ready": ("False", s.message)}


def test_pending_while_the_cloud_provider_is_missing() -> None:
    c = cluster(DOCS["aws"])
    s = cluster_status(c, compile_doc(DOCS["aws"], provider=None), ObservedCapi(), now=NOW)
    assert (s.phase, s.message) == (ClusterPhase.PENDING, "CloudProvider 'aws-prod' not found in lattice-system")
    assert s.provider == "aws"


def test_provisioning_before_anything_is_observed() -> None:
    s = status(ObservedCapi())
    assert (s.phase, s.message) == (ClusterPhase.PROVISIONING, "creating Cluster API objects")


def test_waiting_for_infrastructure_with_capi_detail() -> None:
    s = status(ObservedCapi(cluster=capi_cluster(message="creating load balancer")))
    assert s.phase is ClusterPhase.PROVISIONING
    assert s.message is not None and s.message.startswith("waiting for infrastructure: creating load balancer")
    assert _conds(s)["InfrastructureReady"] == ("False", "creating load balancer")


def test_waiting_for_control_plane_counts() -> None:
    s = status(ObservedCapi(cluster=capi_cluster(infra=True, cp_init=True, cp_ready=2)))
    assert s.message is not None and s.message.startswith("waiting for control plane 2/3")
    assert _conds(s)["ControlPlaneReady"] == ("False", "control plane 2/3 ready")
    assert _conds(s)["ControlPlaneInitialized"][0] == "True"
    assert s.ready_control_plane == 2
    assert s.endpoint == "https://lb.example.com:6443"


def test_workers_and_pools() -> None:
    mds = [md("production-pool-general", 10, 7), md("production-pool-gpu", 3, 3, spec_replicas=3)]
    s = status(ObservedCapi(cluster=capi_cluster(infra=True, cp_init=True, cp_ready=3), machine_deployments=mds))
    assert s.message is not None and s.message.startswith("waiting for workers 10/13")
    general, gpu = s.worker_pools["general"], s.worker_pools["gpu"]
    assert (general.desired_replicas, general.current_replicas, general.ready_replicas) == (10, 10, 7)
    assert not general.autoscaling_enabled and general.message is None
    assert (gpu.desired_replicas, gpu.ready_replicas, gpu.autoscaling_enabled) == (3, 3, True)
    assert gpu.message == "worker pool 'gpu': replicas (2) ignored, the autoscaler manages it within [1, 8]"
    assert s.ready_workers == 10
    assert _conds(s)["WorkersReady"] == ("False", "workers 10/13 ready")


def test_pivoting_then_ready() -> None:
    mds = [md("production-pool-general", 10, 10), md("production-pool-gpu", 1, 1)]  # gpu: autoscaler at min
    observed = ObservedCapi(cluster=capi_cluster(infra=True, cp_init=True, cp_ready=3), machine_deployments=mds)
    waiting = status(observed)
    assert waiting.phase is ClusterPhase.PIVOTING
    assert waiting.message is not None and waiting.message.startswith("waiting for the cluster's agent to connect")
    assert _conds(waiting)["AgentConnected"][0] == "False"
    assert waiting.bootstrap_secret == "production-lattice-bootstrap" and waiting.pivot is None
    connected = status(observed, PivotProgress(agent_connected=True))
    assert connected.message is not None and connected.message.startswith("the agent is connected; waiting for")
    assert _conds(connected)["AgentConnected"][0] == "True"
    assert connected.bootstrap_complete and not waiting.bootstrap_complete  # the agent's install worked
    moving = status(observed, PivotProgress(agent_connected=True, phase=PivotPhase.STARTED))
    assert moving.phase is ClusterPhase.PIVOTING and moving.pivot is not None
    assert moving.pivot.phase is PivotPhase.STARTED
    assert moving.message is not None and moving.message.startswith("moving the Cluster API objects")
    # Objects vanish from this side while they move: still Pivoting, never "creating" them again.
    gone = status(ObservedCapi(), PivotProgress(agent_connected=True, phase=PivotPhase.STARTED))
    assert (gone.phase, gone.message) == (ClusterPhase.PIVOTING, "moving the Cluster API objects into the cluster")
    done = status(ObservedCapi(), PivotProgress(agent_connected=True, phase=PivotPhase.COMPLETE), previous=moving)
    assert done.phase is ClusterPhase.PIVOTED and done.pivot_complete
    assert done.pivot is not None and done.pivot.phase is PivotPhase.COMPLETE
    assert done.bootstrap_secret is None and done.credential_copies == []
    assert all(c.status.value == "True" for c in done.conditions)


def test_self_managed_cluster_is_ready_and_asks_for_no_token() -> None:
    mds = [md("production-pool-general", 10, 10), md("production-pool-gpu", 1, 1)]
    observed = ObservedCapi(cluster=capi_cluster(infra=True, cp_init=True, cp_ready=3), machine_deployments=mds)
    c = cluster(DOCS["aws"])
    s = cluster_status(c, compile_doc(DOCS["aws"]), observed, pivot=PivotProgress(phase=PivotPhase.COMPLETE),
                       self_managed=True, now=NOW)
    assert s.phase is ClusterPhase.READY and s.message is not None
    assert s.message.startswith("cluster is self-managing")
    assert s.bootstrap_secret is None
    assert s.pivot_complete  # its Cluster API objects live in the cluster itself
    assert [(x.source.name, x.target.namespace) for x in s.credential_copies] == [("aws-credentials", "capa-system")]
    assert "AgentConnected" not in _conds(s)
    before = cluster_status(c, compile_doc(DOCS["aws"]), ObservedCapi(), self_managed=True, now=NOW)
    assert not before.pivot_complete  # nothing imported (yet)


def test_without_agent_ready_after_provisioning() -> None:
    mds = [md("production-pool-general", 10, 10), md("production-pool-gpu", 1, 1)]
    s = status(ObservedCapi(cluster=capi_cluster(infra=True, cp_init=True, cp_ready=3), machine_deployments=mds),
               pivot=None)
    assert s.phase is ClusterPhase.READY and not s.pivot_complete
    assert s.message is not None and s.message.startswith("cluster provisioned")


def test_transition_times_are_kept_while_the_status_holds() -> None:
    first = status(ObservedCapi(cluster=capi_cluster(infra=True)))
    c = cluster(DOCS["aws"])
    second = cluster_status(c, compile_doc(DOCS["aws"]), ObservedCapi(cluster=capi_cluster(infra=True, cp_init=True)),
                            pivot=PivotProgress(), previous=first, now=LATER)
    times = {x.type: x.last_transition_time for x in second.conditions}
    assert times["InfrastructureReady"] == NOW  # unchanged
    assert times["ControlPlaneInitialized"] == LATER  # False -> True


def test_capi_failure_and_deletion() -> None:
    failed = status(ObservedCapi(cluster=capi_cluster(phase="Failed")))
    assert failed.phase is ClusterPhase.FAILED and failed.message is not None
    assert failed.message.startswith("Cluster API reports the Cluster failed")
    c = cluster(DOCS["aws"])
    c.metadata.deletion_timestamp = NOW
    s = cluster_status(c, compile_doc(DOCS["aws"]), ObservedCapi(cluster=capi_cluster()), now=NOW)
    assert (s.phase, s.message) == (ClusterPhase.DELETING,
                                    "waiting for Cluster API to delete Cluster capi-production/production")


@pytest.mark.parametrize("example", sorted(DOCS))
def test_every_example_has_a_status_at_each_stage(example: str) -> None:
    c = cluster(DOCS[example])
    plan = compile_doc(DOCS[example])
    for observed in (ObservedCapi(), ObservedCapi(cluster=capi_cluster(infra=True, cp_init=True, cp_ready=9))):
        s = cluster_status(c, plan, observed, pivot=PivotProgress())
        assert s.phase in (ClusterPhase.PROVISIONING, ClusterPhase.PIVOTING)


def test_status_from_what_the_real_capi_managers_wrote() -> None:
    """data/in_memory_available.json: the Cluster, KubeadmControlPlane and MachineDeployments of
    examples/clusters/docker-in-memory.yaml as Cluster API v1.13.6 (core, kubeadm) and CAPD v1.13.7's
    in-memory backend left them once Available (metadata trimmed to names; recorded 2026-12-06)."""
    import json
    from pathlib import Path

    data = json.loads((Path(__file__).parent / "data" / "in_memory_available.json").read_text())
    observed = ObservedCapi(cluster=data["cluster"], control_plane=data["controlPlane"],
                            machine_deployments=data["machineDeployments"])
    doc = DOCS["docker-in-memory"]
    s = cluster_status(cluster(doc), compile_doc(doc), observed, pivot=None, now=NOW)
    assert (s.phase, s.message) == (ClusterPhase.READY, "cluster provisioned")
    assert (s.ready_control_plane, s.ready_workers) == (3, 3)
    assert {k: (p.desired_replicas, p.ready_replicas, p.autoscaling_enabled) for k, p in s.worker_pools.items()} == {
        "default": (2, 2, False), "scaled": (1, 1, True)}  # the autoscaled pool started at its minimum
    assert s.endpoint == "https://127.0.0.1:20000"
    waiting = cluster_status(cluster(doc), compile_doc(doc), observed, pivot=PivotProgress(), now=NOW)
    assert waiting.phase is ClusterPhase.PIVOTING
