"""hooks.controllers.latticecluster: the Cluster API children, their status, scaling, the pivot
handshake and deletion, driven by the in-memory FakeMetacontroller."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from crds import KubeObject
from hooks.context import ClusterIdentity
from hooks.controllers import latticecluster
from hooks.controllers.definition import HookConfig
from tests.unit.hooks.support import FakeMetacontroller, docs, in_process

ROOT = Path(__file__).resolve().parents[4]
EXAMPLES = ROOT / "examples" / "clusters"
NOW = 1_800_000_000.0
CFG = HookConfig(cluster=ClusterIdentity(name="mgmt", provider="docker"), clock=lambda: NOW)
IN_MEMORY = ("LatticeCluster", "", "ci")
DEV = ("LatticeCluster", "", "dev")
AWS = ("LatticeCluster", "", "production")
CAPI_DATA = json.loads((ROOT / "tests/unit/cluster/data/in_memory_available.json").read_text())


def example(name: str) -> KubeObject:
    return docs((EXAMPLES / f"{name}.yaml").read_text())[0]


def providers() -> list[KubeObject]:
    return docs((EXAMPLES / "cloud-providers.yaml").read_text())


def fake(*objs: KubeObject, cfg: HookConfig = CFG) -> FakeMetacontroller:
    mc = FakeMetacontroller(in_process(cfg))
    mc.apply(*providers(), *objs)
    return mc


def kinds_of(answer: Any) -> list[str]:
    return sorted(f"{c['kind']}/{c['metadata']['name']}" for c in answer["children"])


def conditions(status: KubeObject) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["message"]) for c in status.get("conditions") or []}


def set_child_status(mc: FakeMetacontroller, parent: tuple[str, str, str], kind: str, name: str,
                     status: KubeObject) -> None:
    child = mc.child(parent, kind, name)
    assert child is not None, (kind, name, mc.child_names(parent))
    child["status"] = copy.deepcopy(status)


def provisioned(mc: FakeMetacontroller, parent: tuple[str, str, str], name: str) -> None:
    """Give the observed children the status the real Cluster API managers wrote once Available."""
    set_child_status(mc, parent, "Cluster", name, CAPI_DATA["cluster"]["status"])
    capi_cluster = mc.child(parent, "Cluster", name)
    assert capi_cluster is not None
    capi_cluster["spec"]["controlPlaneEndpoint"] = {"host": "127.0.0.1", "port": 20000}  # set by CAPD
    set_child_status(mc, parent, "KubeadmControlPlane", f"{name}-control-plane", CAPI_DATA["controlPlane"]["status"])
    for md in CAPI_DATA["machineDeployments"]:
        pool = md["metadata"]["name"].removeprefix("ci-pool-")
        if mc.child(parent, "MachineDeployment", f"{name}-pool-{pool}") is not None:
            set_child_status(mc, parent, "MachineDeployment", f"{name}-pool-{pool}", md["status"])


def test_customize_relates_the_provider_and_the_agent_lease() -> None:
    mc = fake(example("docker-in-memory"), example("docker"))
    rules = mc.customize(mc.get(*IN_MEMORY))["relatedResources"]
    assert rules == [{"apiVersion": "lattice.dev/v1alpha1", "resource": "cloudproviders",
                      "namespace": "lattice-system", "names": ["docker"]},
                     # an unpivot's imported namespace, for the cell's RoleBinding there
                     {"apiVersion": "v1", "resource": "namespaces", "names": ["capi-ci"]}]  # in-memory: no Lease
    rules = mc.customize(mc.get(*DEV))["relatedResources"]
    assert rules[2] == {"apiVersion": "coordination.k8s.io/v1", "resource": "leases",
                        "namespace": "lattice-system", "names": ["lattice-agent-dev"]}


def test_in_memory_cluster_compiles_to_its_cluster_api_set_and_follows_capi_to_ready() -> None:
    mc = fake(example("docker-in-memory"))
    answer = mc.sync(*IN_MEMORY, follow=False)  # the first answer, before any child exists
    names = kinds_of(answer)
    assert "Namespace/capi-ci" in names and "Cluster/ci" in names and "DevCluster/ci" in names
    assert "KubeadmControlPlane/ci-control-plane" in names
    assert {"MachineDeployment/ci-pool-default", "MachineDeployment/ci-pool-scaled"} <= set(names)
    assert all(c["metadata"]["namespace"] == "capi-ci" for c in answer["children"] if c["kind"] != "Namespace")
    status = answer["status"]
    assert (status["phase"], status["message"]) == ("Provisioning", "creating Cluster API objects")
    assert "bootstrapSecret" not in status and "credentialCopies" not in status  # nothing for the cell

    set_child_status(mc, IN_MEMORY, "Cluster", "ci", {"initialization": {"infrastructureProvisioned": False},
                                                      "conditions": [{"type": "InfrastructureReady",
                                                                      "status": "False", "message": "creating"}]})
    status = mc.sync(*IN_MEMORY)["status"]
    assert (status["phase"], status["message"]) == ("Provisioning", "waiting for infrastructure: creating")
    provisioned(mc, IN_MEMORY, "ci")
    status = mc.sync(*IN_MEMORY)["status"]
    assert (status["phase"], status["message"]) == ("Ready", "cluster provisioned")
    assert conditions(status)["WorkersReady"] == ("True", "workers 3/3 ready")
    assert status["workerPools"]["scaled"]["autoscalingEnabled"] is True
    assert status["endpoint"] == "https://127.0.0.1:20000"


def test_scaling_a_static_pool_edits_its_machine_deployment_and_autoscaled_pools_carry_no_replicas() -> None:
    mc = fake(example("docker-in-memory"))
    mc.sync(*IN_MEMORY)
    md = mc.child(IN_MEMORY, "MachineDeployment", "ci-pool-default")
    assert md is not None and md["spec"]["replicas"] == 2
    scaled = mc.child(IN_MEMORY, "MachineDeployment", "ci-pool-scaled")
    assert scaled is not None and "replicas" not in scaled["spec"]
    cluster = copy.deepcopy(mc.get(*IN_MEMORY))
    cluster["spec"]["nodes"]["workerPools"]["default"]["replicas"] = 5
    cluster["spec"]["nodes"]["workerPools"]["scaled"]["replicas"] = 3
    mc.apply(cluster)
    answer = mc.sync(*IN_MEMORY)
    md = mc.child(IN_MEMORY, "MachineDeployment", "ci-pool-default")
    assert md is not None and md["spec"]["replicas"] == 5
    scaled = mc.child(IN_MEMORY, "MachineDeployment", "ci-pool-scaled")
    assert scaled is not None and "replicas" not in scaled["spec"]
    assert "worker pool 'scaled': replicas (3) ignored, the autoscaler manages it within [1, 5]" in \
        answer["status"]["message"]


def test_a_template_still_in_use_is_kept_until_nothing_points_at_it() -> None:
    mc = fake(example("docker-in-memory"))
    mc.sync(*IN_MEMORY)
    old = [n for n in mc.child_names(IN_MEMORY) if n.startswith("KubeadmConfigTemplate/ci-pool-default-")]
    cluster = copy.deepcopy(mc.get(*IN_MEMORY))
    cluster["spec"]["nodes"]["workerPools"]["default"]["labels"] = {"tier": "web"}
    mc.apply(cluster)
    first = kinds_of(mc.sync(*IN_MEMORY, follow=False))  # the observed MachineDeployment still names the old template
    new = [n for n in first if n.startswith("KubeadmConfigTemplate/ci-pool-default-")]
    assert len(new) == 2 and old[0] in new
    second = kinds_of(mc.sync(*IN_MEMORY))  # now it names the new one
    assert [n for n in second if n.startswith("KubeadmConfigTemplate/ci-pool-default-")] == \
        [n for n in new if n != old[0]]


def test_missing_provider_is_pending_and_a_broken_edit_is_failed_and_both_keep_the_children() -> None:
    mc = fake(example("docker-in-memory"))
    mc.sync(*IN_MEMORY)
    before = mc.child_names(IN_MEMORY)
    mc.delete("CloudProvider", "lattice-system", "docker")
    answer = mc.sync(*IN_MEMORY)
    assert (answer["status"]["phase"], answer["status"]["message"]) == (
        "Pending", "CloudProvider 'docker' not found in lattice-system")
    assert kinds_of(answer) == before
    mc.apply(*providers())
    cluster = copy.deepcopy(mc.get(*IN_MEMORY))
    cluster["spec"]["nodes"]["controlPlane"] = 2
    mc.apply(cluster)
    answer = mc.sync(*IN_MEMORY)
    assert answer["status"]["phase"] == "Failed"
    assert "spec.nodes.controlPlane: must be odd" in answer["status"]["message"]
    assert kinds_of(answer) == before


def test_an_agent_cluster_tells_the_cell_what_it_needs() -> None:
    mc = fake(example("aws"))
    status = mc.sync(*AWS)["status"]
    assert status["bootstrapSecret"] == "production-lattice-bootstrap"
    assert status["credentialCopies"] == [{
        "source": {"name": "aws-credentials", "namespace": "lattice-system"},
        "target": {"name": "production-provider-credentials", "namespace": "capa-system"},
        "purpose": "AWSClusterStaticIdentity lattice-production (CAPA reads it from its own namespace)"}]
    assert "AWSClusterStaticIdentity/lattice-production" in mc.child_names(AWS)


def test_credentials_outside_lattice_system_are_refused() -> None:
    cluster = example("aws")
    cluster["spec"]["provider"]["credentialsSecretRef"] = {"name": "theirs", "namespace": "team-a"}
    mc = fake(cluster)
    status = mc.sync(*AWS)["status"]
    assert status["phase"] == "Failed"
    assert "spec.provider.credentialsSecretRef.namespace: must be lattice-system" in status["message"]


def lease(name: str, *, connected: bool = True, renewed: float = NOW - 5, duration: int = 40) -> KubeObject:
    stamp = dt.datetime.fromtimestamp(renewed, dt.UTC)
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": f"lattice-agent-{name}", "namespace": "lattice-system",
                         "annotations": {"lattice.dev/agent-connected": "true" if connected else "false"}},
            "spec": {"holderIdentity": "mgmt", "leaseDurationSeconds": duration,
                     "renewTime": stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}}


def provisioned_dev(mc: FakeMetacontroller) -> None:
    mc.sync(*DEV)
    provisioned(mc, DEV, "dev")


def test_pivoting_waits_for_a_fresh_lease() -> None:
    mc = fake(example("docker"))
    provisioned_dev(mc)
    answer = mc.sync(*DEV)
    status = answer["status"]
    assert (status["phase"], status["message"]) == ("Pivoting", "waiting for the cluster's agent to connect")
    assert conditions(status)["AgentConnected"][0] == "False"
    assert answer["resyncAfterSeconds"] == latticecluster.RECHECK_SECONDS
    mc.apply(lease("dev", renewed=NOW - 100))  # stale: the cell stopped renewing it
    assert conditions(mc.sync(*DEV)["status"])["AgentConnected"][0] == "False"
    mc.apply(lease("dev"))
    answer = mc.sync(*DEV)
    assert answer["status"]["message"] == "the agent is connected; waiting for the pivot to start"
    assert conditions(answer["status"])["AgentConnected"][0] == "True"
    assert answer["resyncAfterSeconds"] == pytest.approx(30.0)


def annotate(mc: FakeMetacontroller, key: tuple[str, str, str], phase: str | None) -> None:
    obj = copy.deepcopy(mc.get(*key))
    notes = obj["metadata"].setdefault("annotations", {})
    if phase is None:
        notes.pop("lattice.dev/pivot-phase", None)
    else:
        notes["lattice.dev/pivot-phase"] = phase
    mc.apply(obj)


def test_pivot_started_echoes_exactly_what_is_observed() -> None:
    mc = fake(example("docker"), lease("dev"))
    provisioned_dev(mc)
    annotate(mc, DEV, "Started")
    answer = mc.sync(*DEV)
    assert answer["status"]["pivot"] == {"phase": "Started"}
    assert answer["status"]["message"] == "moving the Cluster API objects into the cluster"
    observed = mc.children[DEV]
    echoed = {(c["kind"], c["metadata"]["name"]): c for c in answer["children"]}
    assert len(echoed) == sum(len(v) for v in observed.values())
    for group in observed.values():
        for obj in group.values():  # as last applied: Metacontroller's three-way merge finds nothing to do
            key = (obj["kind"], obj["metadata"]["name"])
            assert echoed[key] == json.loads(obj["metadata"]["annotations"]["metacontroller.k8s.io/"
                                                                             "last-applied-configuration"])
    # A spec change is not compiled, and an object the driver moved away is not recreated.
    cluster = copy.deepcopy(mc.get(*DEV))
    cluster["spec"]["nodes"]["workerPools"]["default"]["replicas"] = 7
    mc.apply(cluster)
    del mc.children[DEV]["Cluster.cluster.x-k8s.io/v1beta2"]["capi-dev/dev"]
    answer = mc.sync(*DEV)
    assert "Cluster/dev" not in kinds_of(answer)
    md = next(c for c in answer["children"] if c["metadata"]["name"] == "dev-pool-default")
    assert md["spec"]["replicas"] == 2
    assert answer["status"]["phase"] == "Pivoting"
    # Marked delete-for-move: left out (being deleted anyway), never applied again.
    kcp = mc.child(DEV, "KubeadmControlPlane", "dev-control-plane")
    assert kcp is not None
    kcp["metadata"]["annotations"]["clusterctl.cluster.x-k8s.io/delete-for-move"] = ""
    assert "KubeadmControlPlane/dev-control-plane" not in kinds_of(mc.sync(*DEV))


def test_pivot_complete_emits_nothing_once_the_objects_moved_but_keeps_live_ones() -> None:
    mc = fake(example("docker"), lease("dev"))
    provisioned_dev(mc)
    annotate(mc, DEV, "Complete")
    answer = mc.sync(*DEV)  # the driver claims Complete, yet the Cluster is still here
    assert answer["status"]["phase"] == "Pivoting"
    assert answer["status"]["message"] == (
        "pivot marked Complete, but 4 Cluster API objects are still in capi-dev (Cluster/dev, "
        "MachineDeployment/dev-pool-default, KubeadmControlPlane/dev-control-plane, DevCluster/dev): kept until the "
        "pivot moves them")
    assert len(answer["children"]) == sum(len(v) for v in mc.children[DEV].values())
    for group in list(mc.children[DEV]):  # the driver deletes what it moved (delete-for-move)
        if not group.startswith(("Namespace.", "DevMachineTemplate.", "KubeadmConfigTemplate.")):
            del mc.children[DEV][group]
    answer = mc.sync(*DEV)
    assert answer["children"] == []
    status = answer["status"]
    assert (status["phase"], status["pivotComplete"], status["pivot"]) == ("Pivoted", True, {"phase": "Complete"})
    assert "bootstrapSecret" not in status


def test_an_unknown_pivot_phase_changes_nothing() -> None:
    mc = fake(example("docker"))
    provisioned_dev(mc)
    before = mc.child_names(DEV)
    annotate(mc, DEV, "Completed")
    answer = mc.sync(*DEV)
    assert kinds_of(answer) == before
    assert answer["status"]["message"].startswith("unknown lattice.dev/pivot-phase='Completed'")


def test_deleting_deletes_the_capi_cluster_first_and_waits_for_it() -> None:
    mc = fake(example("docker-in-memory"))
    mc.sync(*IN_MEMORY)
    mc.get(*IN_MEMORY)["metadata"]["deletionTimestamp"] = "2027-01-15T08:00:00Z"
    answer = mc.sync(*IN_MEMORY, hook="finalize")
    assert "Cluster/ci" not in kinds_of(answer) and "KubeadmControlPlane/ci-control-plane" in kinds_of(answer)
    assert answer["finalized"] is False
    assert (answer["status"]["phase"], answer["status"]["message"]) == (
        "Deleting", "waiting for Cluster API to delete Cluster capi-ci/ci")
    # Cluster API deletes what the Cluster owns; the rest goes with the next answer.
    for group in ("KubeadmControlPlane.controlplane.cluster.x-k8s.io/v1beta2",
                  "MachineDeployment.cluster.x-k8s.io/v1beta2", "DevCluster.infrastructure.cluster.x-k8s.io/v1beta2"):
        mc.children[IN_MEMORY].pop(group, None)
    answer = mc.sync(*IN_MEMORY, hook="finalize")
    assert answer["children"] == [] and answer["finalized"] is False
    mc.children[IN_MEMORY] = {}
    answer = mc.sync(*IN_MEMORY, hook="finalize")
    assert answer["finalized"] is True


def test_deletion_waits_for_a_pivot_in_progress() -> None:
    mc = fake(example("docker"))
    provisioned_dev(mc)
    annotate(mc, DEV, "Started")
    mc.get(*DEV)["metadata"]["deletionTimestamp"] = "2027-01-15T08:00:00Z"
    answer = mc.sync(*DEV, hook="finalize")
    assert "Cluster/dev" in kinds_of(answer) and answer["finalized"] is False
    assert answer["status"]["message"].startswith("deletion waits for the pivot to finish")


def own(name: str = "mgmt") -> KubeObject:
    cluster = example("docker-in-memory")
    cluster["metadata"]["name"] = name
    return cluster


def test_the_clusters_own_lattice_cluster_is_self_managing_and_blocks_deletion_while_it_has_children() -> None:
    mc = fake(own(), example("docker"))
    rules = mc.customize(mc.get("LatticeCluster", "", "mgmt"))["relatedResources"]
    assert {"apiVersion": "lattice.dev/v1alpha1", "resource": "latticeclusters"} in rules
    mc.sync("LatticeCluster", "", "mgmt")
    provisioned(mc, ("LatticeCluster", "", "mgmt"), "mgmt")
    status = mc.sync("LatticeCluster", "", "mgmt")["status"]
    assert (status["phase"], status["message"]) == ("Ready", "cluster is self-managing")
    mc.get("LatticeCluster", "", "mgmt")["metadata"]["deletionTimestamp"] = "2027-01-15T08:00:00Z"
    answer = mc.sync("LatticeCluster", "", "mgmt", hook="finalize")
    assert answer["finalized"] is False and "Cluster/mgmt" in kinds_of(answer)
    assert answer["status"]["message"] == "deletion blocked: 1 child cluster exists: dev; delete it first"
    mc.delete(*DEV)
    answer = mc.sync("LatticeCluster", "", "mgmt", hook="finalize")
    assert answer["finalized"] is False and "Cluster/mgmt" in kinds_of(answer)
    assert answer["status"]["message"].startswith("deletion blocked: this is the cluster's own LatticeCluster")
    mc.children[("LatticeCluster", "", "mgmt")] = {}  # moved out (unpivot)
    assert mc.sync("LatticeCluster", "", "mgmt", hook="finalize")["finalized"] is True


def test_failed_unreadable_cluster_still_deletes_what_was_made() -> None:
    mc = fake(example("docker-in-memory"))
    mc.sync(*IN_MEMORY)
    broken = copy.deepcopy(mc.get(*IN_MEMORY))
    broken["spec"]["nodes"] = {"controlPlane": "three"}
    mc.apply(broken)
    mc.get(*IN_MEMORY)["metadata"]["deletionTimestamp"] = "2027-01-15T08:00:00Z"
    answer = mc.sync(*IN_MEMORY, hook="finalize")
    assert "Cluster/ci" not in kinds_of(answer) and answer["finalized"] is False
    assert answer["status"]["phase"] == "Deleting"


def test_the_cell_gets_its_secret_rights_where_the_cluster_lives_and_in_an_unpivot() -> None:
    mc = fake(example("docker"), lease("dev"))
    provisioned_dev(mc)
    binding = mc.child(DEV, "RoleBinding", "lattice-cell-secrets")
    assert binding is not None and binding["metadata"]["namespace"] == "capi-dev"
    assert binding["roleRef"]["name"] == "lattice-cell-cluster-secrets"
    # Held still by a pivot: echoed like everything else.
    annotate(mc, DEV, "Started")
    assert "RoleBinding/lattice-cell-secrets" in kinds_of(mc.sync(*DEV))
    # Pivoted away: nothing here, the binding goes with the namespace.
    annotate(mc, DEV, "Complete")
    mc.children[DEV] = {}
    assert mc.sync(*DEV)["children"] == []
    # An unpivot holds the cluster (Started) and imports capi-dev itself: the binding comes back as
    # soon as the namespace is there, so the cell can import the cluster's Secrets.
    annotate(mc, DEV, "Started")
    assert mc.sync(*DEV)["children"] == []
    mc.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "capi-dev"}})
    children = mc.sync(*DEV)["children"]
    assert kinds_of({"children": children}) == ["RoleBinding/lattice-cell-secrets"]
    assert children[0]["metadata"]["namespace"] == "capi-dev"
