"""The LatticeCluster controller for real: Metacontroller (server-side apply) calling the hook server,
and the Cluster API v1.13.6 managers (core, kubeadm bootstrap, kubeadm control plane) with CAPD's
in-memory backend reconciling what it makes, all against one kube-apiserver
(tests/integration/cluster_plane.py).

What is simulated: the machines. CAPD's in-memory backend stands in for a cloud (fake VMs, nodes,
etcd and a partial workload API server inside the CAPD process); everything else is the real thing.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from cluster_plane import HOOKS_CLUSTER_NAME, ClusterPlane

ROOT = Path(__file__).resolve().parents[2]
NS = "capi-ci"
# A condition reason or message that says something went wrong (not merely "not yet").
TROUBLE = re.compile(r"error|fail|invalid|forbidden|denied|refused", re.IGNORECASE)
# What may be reported while the (simulated) machines are still coming up: "Remote connection not
# established yet", "KubeadmControlPlane ... is provisioning (ControlPlaneIsStable preflight check
# failed)", "DevCluster status.initialization.provisioned is false", ...
WAITING_FOR_INFRASTRUCTURE = re.compile(r"infrastructure|waiting|provisioning|\byet\b|not (ready|provisioned)|"
                                        r"connection to the workload cluster is down", re.IGNORECASE)
CAPI_KINDS = "cluster,kubeadmcontrolplane,machinedeployment,machineset,machine,kubeadmconfig,devcluster,devmachine"


def in_memory_cluster() -> dict[str, Any]:
    """examples/clusters/docker-in-memory.yaml with one control-plane node and one worker per pool
    (three simulated machines: the 2-core test machine is shared)."""
    doc: dict[str, Any] = yaml.safe_load((ROOT / "examples/clusters/docker-in-memory.yaml").read_text())
    doc["spec"]["nodes"] = {"controlPlane": 1,
                            "workerPools": {"default": {"replicas": 1}, "scaled": {"min": 1, "max": 3}}}
    return doc


def status(plane: ClusterPlane, name: str) -> dict[str, Any]:
    found = plane.get("latticecluster", name) or {}
    return dict(found.get("status") or {})


def troubles(plane: ClusterPlane) -> set[str]:
    """Every condition of every Cluster API object in capi-ci that reports a problem other than
    waiting for infrastructure."""
    out = set()
    for obj in plane.items(CAPI_KINDS, "-n", NS):
        for c in (obj.get("status") or {}).get("conditions") or []:
            text = f"{c.get('reason', '')} {c.get('message', '')}"
            if TROUBLE.search(text) and not WAITING_FOR_INFRASTRUCTURE.search(text):
                out.add(f"{obj['kind']}/{obj['metadata']['name']} {c['type']}={c['status']}: {text.strip()}")
    return out


@pytest.fixture(scope="module")
def provisioned(cluster_plane: ClusterPlane) -> dict[str, Any]:
    """The in-memory LatticeCluster ``ci``, applied and followed to Ready; what was seen on the way."""
    plane = cluster_plane
    plane.cp.apply(in_memory_cluster())
    seen: list[tuple[str, str]] = []
    problems: set[str] = set()

    def ready() -> bool:
        s = status(plane, "ci")
        step = (str(s.get("phase")), str(s.get("message")))
        if s and (not seen or seen[-1] != step):
            seen.append(step)
        problems.update(troubles(plane))
        return s.get("phase") == "Ready"

    plane.wait("LatticeCluster ci Ready", ready, timeout=300, interval=1.0)
    return {"phases": seen, "problems": problems}


def test_cloud_provider_docker_is_ready(cluster_plane: ClusterPlane) -> None:
    got = cluster_plane.wait("CloudProvider docker status",
                             lambda: (cluster_plane.get("cloudprovider", "docker", "-n", "lattice-system") or {})
                             .get("status"))
    assert (got["phase"], got["message"]) == ("Ready", "docker needs no credentials")


def test_a_lattice_cluster_goes_pending_provisioning_ready_following_capi(provisioned: dict[str, Any]) -> None:
    phases = [p for p, _ in provisioned["phases"]]
    assert phases[0] == "Provisioning" and phases[-1] == "Ready", provisioned["phases"]
    messages = [m for _, m in provisioned["phases"]]
    assert any(m.startswith("waiting for infrastructure") for m in messages), messages
    assert any(m.startswith("waiting for control plane 0/1") for m in messages), messages
    assert messages[-1] == "cluster provisioned"
    assert provisioned["problems"] == set()


def test_capi_accepted_and_reconciled_what_lattice_made(cluster_plane: ClusterPlane,
                                                        provisioned: dict[str, Any]) -> None:
    plane = cluster_plane
    owner = plane.get("latticecluster", "ci")
    for kind in ("cluster", "kubeadmcontrolplane", "machinedeployment", "devcluster", "devmachinetemplate",
                 "kubeadmconfigtemplate"):
        for obj in plane.items(kind, "-n", NS):
            controller = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("controller")]
            assert [(r["kind"], r["name"], r["uid"]) for r in controller] == [
                ("LatticeCluster", "ci", owner["metadata"]["uid"])], obj["metadata"]
            assert obj["metadata"]["labels"]["controller-uid"] == owner["metadata"]["uid"]
    # Cluster API took over from there: its owner references, one KubeadmConfig per Machine.
    for kind in ("kubeadmcontrolplane", "devcluster"):
        (obj,) = plane.items(kind, "-n", NS)
        assert any(r["kind"] == "Cluster" and r["name"] == "ci" for r in obj["metadata"]["ownerReferences"])
    machines = plane.items("machine", "-n", NS)
    configs = {c["metadata"]["name"]: c for c in plane.items("kubeadmconfig", "-n", NS)}
    assert len(machines) == 3
    for m in machines:
        ref = m["spec"]["bootstrap"]["configRef"]
        assert ref["kind"] == "KubeadmConfig" and ref["name"] in configs
        assert any(r["kind"] == "Machine" and r["name"] == m["metadata"]["name"]
                   for r in configs[ref["name"]]["metadata"]["ownerReferences"])
        assert m["status"]["phase"] == "Running"


def test_lattice_status_mirrors_capi(cluster_plane: ClusterPlane, provisioned: dict[str, Any]) -> None:
    s = status(cluster_plane, "ci")
    conds = {c["type"]: (c["status"], c["message"]) for c in s["conditions"]}
    assert conds["InfrastructureReady"] == ("True", "infrastructure provisioned")
    assert conds["ControlPlaneInitialized"][0] == "True"
    assert conds["ControlPlaneReady"] == ("True", "control plane 1/1 ready")
    assert conds["WorkersReady"] == ("True", "workers 2/2 ready")
    assert (s["readyControlPlane"], s["readyWorkers"]) == (1, 2)
    assert s["workerPools"]["scaled"] == {"autoscalingEnabled": True, "currentReplicas": 1, "desiredReplicas": 1,
                                          "readyReplicas": 1}
    capi = cluster_plane.get("cluster", "ci", "-n", NS)
    endpoint = capi["spec"]["controlPlaneEndpoint"]
    assert s["endpoint"] == f"https://{endpoint['host']}:{endpoint['port']}"
    assert "bootstrapSecret" not in s  # the in-memory backend runs nothing on its machines: no agent
    # The hook server's Event for the first success (kubectl describe latticecluster ci shows it).
    events = [e for e in cluster_plane.items("events", "-n", "default")
              if e["involvedObject"].get("kind") == "LatticeCluster" and e["involvedObject"]["name"] == "ci"]
    assert ("Normal", "Ready", "cluster provisioned") in {(e["type"], e["reason"], e["message"]) for e in events}


def test_scaling_a_static_pool_edits_its_machine_deployment(cluster_plane: ClusterPlane,
                                                            provisioned: dict[str, Any]) -> None:
    plane = cluster_plane
    doc = copy.deepcopy(in_memory_cluster())
    doc["spec"]["nodes"]["workerPools"]["default"]["replicas"] = 2
    plane.cp.apply(doc)
    plane.wait("MachineDeployment ci-pool-default at 2 replicas",
               lambda: (plane.get("machinedeployment", "ci-pool-default", "-n", NS) or {})
               .get("spec", {}).get("replicas") == 2, timeout=60)
    scaled = plane.get("machinedeployment", "ci-pool-scaled", "-n", NS)
    assert scaled["spec"]["replicas"] == 1  # the autoscaler's (CAPI started it at the minimum), not Lattice's
    plane.wait("workers 3/3 ready", lambda: status(plane, "ci").get("readyWorkers") == 3, timeout=180, interval=1.0)
    running = [m for m in plane.items("machine", "-n", NS, "-l", "lattice.dev/pool=default")
               if m.get("status", {}).get("phase") == "Running"]
    assert len(running) == 2
    s = status(plane, "ci")
    assert s["workerPools"]["default"]["desiredReplicas"] == 2 and s["phase"] == "Ready"


def test_deleting_the_lattice_cluster_deletes_its_capi_cluster_first(cluster_plane: ClusterPlane,
                                                                     provisioned: dict[str, Any]) -> None:
    plane = cluster_plane
    plane.cp.kubectl("delete", "latticecluster", "ci", "--wait=false")
    deleting = plane.wait("Deleting status", lambda: status(plane, "ci").get("phase") == "Deleting" and
                          status(plane, "ci"), timeout=30, interval=0.2)
    assert deleting["message"] in ("waiting for Cluster API to delete Cluster capi-ci/ci",
                                   f"deleting what is left in {NS}")
    plane.wait("CAPI Cluster ci gone", lambda: plane.get("cluster", "ci", "-n", NS) is None, timeout=180)
    plane.wait("LatticeCluster ci gone", lambda: plane.get("latticecluster", "ci") is None, timeout=120)
    plane.wait("no machines left", lambda: not plane.items("machine", "-n", NS), timeout=60)
    plane.wait(f"namespace {NS} deleted", lambda: (plane.get("namespace", NS) or {}).get("status", {})
               .get("phase") in (None, "Terminating"), timeout=60)


def test_a_cluster_with_children_cannot_be_deleted(cluster_plane: ClusterPlane) -> None:
    """The hook server runs "in" cluster mgmt: LatticeCluster mgmt is its own, and every other
    LatticeCluster here is its child. Both wait for a CloudProvider that does not exist (Pending),
    so no Cluster API object is involved."""
    plane = cluster_plane
    for name in (HOOKS_CLUSTER_NAME, "leaf"):
        doc = in_memory_cluster()
        doc["metadata"]["name"] = name
        doc["spec"]["providerRef"] = "nowhere"
        plane.cp.apply(doc)
    plane.wait("both Pending", lambda: all(status(plane, n).get("phase") == "Pending"
                                           for n in (HOOKS_CLUSTER_NAME, "leaf")), timeout=60)
    plane.cp.kubectl("delete", "latticecluster", HOOKS_CLUSTER_NAME, "--wait=false")
    blocked = plane.wait("deletion blocked", lambda: status(plane, HOOKS_CLUSTER_NAME).get("message", "")
                         .startswith("deletion blocked"), timeout=60, interval=0.2)
    assert blocked == status(plane, HOOKS_CLUSTER_NAME)["message"] or blocked
    s = status(plane, HOOKS_CLUSTER_NAME)
    assert (s["phase"], s["message"]) == ("Deleting", "deletion blocked: 1 child cluster exists: leaf; delete it first")
    assert plane.get("latticecluster", HOOKS_CLUSTER_NAME) is not None
    plane.cp.kubectl("delete", "latticecluster", "leaf", "--wait=false")
    plane.wait("leaf gone", lambda: plane.get("latticecluster", "leaf") is None, timeout=60)
    plane.wait(f"{HOOKS_CLUSTER_NAME} gone once its child is", lambda: plane.get("latticecluster",
                                                                                  HOOKS_CLUSTER_NAME) is None,
               timeout=60)
