"""Self-management for real, on three levels of real control planes: ``lattice install``'s flow
with the local bootstrap (bootstrap → management cluster ``mgmt`` that manages itself, bootstrap
gone), then ``mgmt`` provisioning and pivoting workload clusters (``lattice get hierarchy`` shows
the tree), killing the child's agent and the parent's cell in the middle of pivots, an unpivot,
deletion blocked by a child, and a workload cluster that keeps reconciling while ``mgmt``'s whole
control plane is down.

Every cluster is a LocalCluster: the loop ``lattice dev up`` runs (etcd, kube-apiserver,
kube-controller-manager, the hook server, the controllers ``manifests/`` ships and Metacontroller with
its shipped flags and identity, the Cluster API CRDs), and lattice-operator (real cell and agent,
real mTLS gRPC). The one simulated part is the cloud
(lattice_dev.LocalCloud): it boots a cluster's "machine" by starting its control plane and running
the first-boot files and installer the cluster compiler generated (the agent with its one-time
token), and reports the machines up as Cluster API would (CapiDouble). The move kinds and
deletions are asserted on the objects: UIDs, lattice.dev/source-uid, delete-for-move.
"""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fleet_support import (
    Watch,
    capi_proxy_get,
    imported,
    inventory,
    lattice_cluster,
    operator_logs,
    phase_is,
    wait_for,
)
from pivot_world import cluster_doc

from cli.bootstrap import LocalBootstrap
from cli.errors import LatticeError
from cli.fleet_up import merged_kubeconfig
from cli.install import Installer
from cli.install_plan import PHASES, parse_bootstrap, read_inputs
from cli.progress import Progress
from cli.uninstall import uninstall
from lattice_dev.local_cluster import LocalCluster
from lattice_move import names

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]
ROOT = Path(__file__).resolve().parents[2]
CAPI_GROUP = "cluster.x-k8s.io"


class Fleet:
    def __init__(self, boot: LocalBootstrap, mgmt: LocalCluster, install_log: str) -> None:
        self.boot = boot
        self.mgmt = mgmt
        self.install_log = install_log

    @property
    def clusters(self) -> dict[str, LocalCluster]:
        return self.boot.clusters

    def child(self, name: str) -> LocalCluster:
        return wait_for(f"{name}'s machine", lambda: self.boot.cloud.booted.get(name), 600,
                        logs=lambda: str(self.boot.cloud.failed))


@pytest.fixture(scope="module")
def fleet(testbed_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    workdir = tmp_path_factory.mktemp("fleet")
    doc = cluster_doc("mgmt", workers=1)
    (workdir / "mgmt.yaml").write_text(yaml.safe_dump(doc))
    log = io.StringIO()
    boot = LocalBootstrap(workdir, lambda m: log.write(m + "\n"))
    try:
        with Progress(PHASES, {}, stream=log, live=False) as progress:
            done = Installer(read_inputs([workdir / "mgmt.yaml"]), boot, progress, workdir, timeout=900).run()
        assert done.local is not None
        yield Fleet(boot, done.local, log.getvalue())
    finally:
        boot.cloud.stop()
        for cluster in list(boot.clusters.values()):
            cluster.stop(keep_workdir=True)
        boot.remove()


def apply_workload(fleet: Fleet, name: str, workers: int = 2, hold: bool = False) -> None:
    doc = cluster_doc(name, workers=workers)
    fleet.mgmt.cp.apply(doc)
    if hold:  # an unknown pivot-phase holds everything still; set once the Cluster API objects exist
        wait_for(f"{name}'s control plane object", lambda: fleet.mgmt.cp.kubectl(
            "get", "kubeadmcontrolplane", f"{name}-control-plane", "-n", f"capi-{name}", check=False).returncode == 0,
            120)
        fleet.mgmt.cp.kubectl("annotate", "latticecluster", name, f"{names.PIVOT_PHASE}=Hold", "--overwrite")


def assert_moved(fleet: Fleet, name: str, watch: Watch, child: LocalCluster) -> None:
    """Nothing lost, nothing twice, nothing deleted without delete-for-move."""
    ns = f"capi-{name}"
    deleted = watch.deleted()
    moved = imported(child, ns)  # asserts each source UID appears once
    capi_deleted = {u: o for u, o in deleted.items() if o["apiVersion"].split("/")[0].endswith(CAPI_GROUP)}
    assert len(capi_deleted) >= 10, sorted(o["kind"] for o in deleted.values())
    for uid, obj in capi_deleted.items():
        what = f"{obj['kind']} {obj['metadata']['name']}"
        assert names.DELETE_FOR_MOVE in (obj["metadata"].get("annotations") or {}), f"{what} deleted without a move"
        assert uid in moved, f"{what} was deleted on the parent and never arrived in {name}"
        assert moved[uid]["kind"] == obj["kind"] and moved[uid]["metadata"]["name"] == obj["metadata"]["name"]
    for uid, obj in deleted.items():
        if uid in moved:
            assert names.DELETE_FOR_MOVE in (obj["metadata"].get("annotations") or {}), obj["metadata"]["name"]
    for obj in moved.values():  # every owner reference resolves on the child
        here = {o["metadata"]["uid"] for o in inventory(child, ns).values()}
        lc = lattice_cluster(child, name)
        assert lc is not None
        for ref in obj["metadata"].get("ownerReferences") or []:
            assert ref["uid"] in here or ref["uid"] == lc["metadata"]["uid"], (obj["metadata"]["name"], ref)


def test_install_leaves_a_self_managing_management_cluster(fleet: Fleet) -> None:
    mgmt = fleet.mgmt
    own = lattice_cluster(mgmt, "mgmt")
    assert own is not None and own["status"]["phase"] == "Ready" and own["status"]["pivotComplete"]
    assert own["metadata"]["annotations"][names.IMPORTED_FROM] == "lattice-bootstrap"
    assert len(imported(mgmt, "capi-mgmt")) >= 10  # its Cluster API objects came from the bootstrap cluster
    assert mgmt.cp.kubectl("get", "secret", "lattice-parent-config", "-n", "lattice-system",
                           check=False).returncode != 0  # a root now
    assert fleet.boot.cluster is None and "lattice-bootstrap" not in fleet.clusters  # the bootstrap is gone
    assert "[5/7]" in fleet.install_log and "done in" in fleet.install_log


def test_management_cluster_provisions_and_pivots_a_workload(fleet: Fleet, tmp_path: Path) -> None:
    mgmt = fleet.mgmt
    watch = Watch(mgmt, "capi-work")
    try:
        apply_workload(fleet, "work")
        wait_for("work Pivoted on mgmt", phase_is(mgmt, "work", "Pivoted"), 900, logs=lambda: operator_logs(mgmt))
        work = fleet.child("work")
        wait_for("work Ready on itself", phase_is(work, "work", "Ready"), 120)
        wait_for("the source gone", lambda: not [o for o in inventory(mgmt, "capi-work").values()
                                                 if o["kind"] != "ConfigMap"], 120)
    finally:
        watch.stop()
    parent_view = lattice_cluster(mgmt, "work")
    assert parent_view is not None and parent_view["status"]["pivotComplete"]
    assert parent_view["metadata"]["annotations"][names.PIVOT_PHASE] == "Complete"
    own = lattice_cluster(work, "work")
    assert own is not None and own["status"]["pivotComplete"] and own["status"]["phase"] == "Ready"
    assert_moved(fleet, "work", watch, work)
    capi = work.cp.get_json("cluster", "work", "-n", "capi-work")
    assert not capi["spec"].get("paused")
    assert capi["metadata"]["labels"]["controller-uid"] == own["metadata"]["uid"]  # adopted by its own controller
    gone = capi_proxy_get(mgmt, "/clusters/work/api")
    assert gone.status_code == 410, gone.text
    # lattice get hierarchy over the kubeconfig `lattice dev up --clusters` prints (a context per cluster)
    kubeconfig = merged_kubeconfig({"mgmt": mgmt, "work": work}, tmp_path / "fleet.kubeconfig")
    tree = subprocess.run([str(Path(sys.executable).parent / "lattice"), "get", "hierarchy", "--kubeconfig",
                           str(kubeconfig)], capture_output=True, text=True, timeout=120, check=False)
    assert tree.returncode == 0, tree.stderr
    # (parent): both have spec.parentConfig (examples/clusters/docker.yaml), they can provision
    assert tree.stdout == "Cluster Hierarchy:\n\nmgmt  [Ready] (parent)\n└── work  [Ready] (parent)\n", tree.stdout


def test_distributable_resources_follow_the_parent_deletions_included(fleet: Fleet) -> None:
    mgmt, work = fleet.mgmt, fleet.child("work")
    policy = yaml.safe_load((ROOT / "examples" / "cedar" / "allow-platform-team.yaml").read_text())
    mgmt.cp.apply(policy)
    wait_for("the policy on work", lambda: work.cp.kubectl(
        "get", "cedarpolicy", "mgmt--allow-platform-team", "-n", "lattice-system", check=False).returncode == 0, 60)
    copy = work.cp.get_json("cedarpolicy", "mgmt--allow-platform-team", "-n", "lattice-system")
    assert copy["metadata"]["labels"]["lattice.dev/origin-cluster"] == "mgmt"
    assert work.cp.get_json("cloudprovider", "docker", "-n", "lattice-system")["metadata"]["labels"][
        "lattice.dev/inherited"] == "true"
    mgmt.cp.kubectl("patch", "cedarpolicy", "allow-platform-team", "-n", "lattice-system", "--type=merge",
                    "-p", '{"spec":{"priority":7}}')
    wait_for("the change on work", lambda: work.cp.get_json(
        "cedarpolicy", "mgmt--allow-platform-team", "-n", "lattice-system")["spec"]["priority"] == 7, 60)
    mgmt.cp.kubectl("delete", "cedarpolicy", "allow-platform-team", "-n", "lattice-system")
    wait_for("the policy gone from work", lambda: work.cp.kubectl(
        "get", "cedarpolicy", "mgmt--allow-platform-team", "-n", "lattice-system", check=False).returncode != 0, 60)


def test_unpivot_waits_for_children_then_hands_the_cluster_back(fleet: Fleet) -> None:
    mgmt, work = fleet.mgmt, fleet.child("work")
    # A child of work (in-memory backend: the local cloud does not boot it; nothing runs it).
    leaf = cluster_doc("leaf", workers=0)
    leaf["spec"]["provider"]["config"]["docker"] = {"backend": "inMemory"}
    work.cp.apply(leaf)
    work.cp.kubectl("delete", "latticecluster", "work", "--wait=false")
    wait_for("work's deletion blocked by leaf", lambda: "leaf" in str(
        (lattice_cluster(work, "work") or {}).get("status", {}).get("message")), 120)
    assert lattice_cluster(mgmt, "work") is not None  # nothing moved back while a child exists
    assert len(imported(work, "capi-work")) >= 10
    back = Watch(mgmt, "capi-work")
    try:
        work.cp.kubectl("delete", "latticecluster", "leaf", "--wait=false")
        wait_for("work gone from mgmt", lambda: lattice_cluster(mgmt, "work") is None, 300,
                 logs=lambda: operator_logs(mgmt, work))
        wait_for("work's machines torn down", lambda: "work" not in fleet.boot.cloud.booted, 120)
    finally:
        back.stop()
    added = {o["metadata"]["uid"]: o for t, o in back.events if t == "ADDED"}
    returned = [o for o in added.values() if o["kind"] == "Cluster"]
    assert returned and returned[0]["metadata"]["annotations"].get(names.SOURCE_UID)  # imported from work
    deleted_clusters = [o for t, o in back.events if t == "DELETED" and o["kind"] == "Cluster"]
    assert deleted_clusters and names.DELETE_FOR_MOVE not in (deleted_clusters[-1]["metadata"].get("annotations")
                                                             or {})  # a real teardown, on the parent


def _kill_on_first_machine(target: LocalCluster, name: str, kill: Any) -> threading.Event:
    killed = threading.Event()

    def on_event(kind: str, obj: dict[str, Any]) -> None:
        if kind == "ADDED" and obj["kind"] == "Machine" and not killed.is_set():
            killed.set()
            kill()

    target_watch = Watch(target, f"capi-{name}", on_event, paths=["/apis/cluster.x-k8s.io/v1beta2/machines"])
    killed.watch = target_watch  # type: ignore[attr-defined]
    return killed


@pytest.mark.parametrize("victim", ["agent", "cell"])
def test_a_pivot_survives_a_killed_agent_or_cell(fleet: Fleet, victim: str) -> None:
    mgmt = fleet.mgmt
    name = f"kill{victim}"
    apply_workload(fleet, name, workers=3, hold=True)
    child = fleet.child(name)
    wait_for(f"{name}'s agent connected", lambda: any(
        a["cluster"] == name and a["connectivity"] == "connected" for a in mgmt.cell_status()["agents"]), 120)
    parent_watch = Watch(mgmt, f"capi-{name}")
    dying = child if victim == "agent" else mgmt
    killed = _kill_on_first_machine(child, name, dying.kill_operator)
    try:
        mgmt.cp.kubectl("annotate", "latticecluster", name, f"{names.PIVOT_PHASE}-")  # let it go
        wait_for("the kill", killed.is_set, 300, logs=lambda: operator_logs(mgmt, child))
        partial = imported(child, f"capi-{name}")
        assert len(partial) > 0  # some batches were in when it died
        dying.start_operator()
        wait_for(f"{name} Pivoted after the {victim} came back", phase_is(mgmt, name, "Pivoted"), 600,
                 logs=lambda: operator_logs(mgmt, child))
        wait_for(f"{name} Ready on itself", phase_is(child, name, "Ready"), 120)
        wait_for("the source gone", lambda: not [o for o in inventory(mgmt, f"capi-{name}").values()
                                                 if o["kind"] != "ConfigMap"], 120)
        after = imported(child, f"capi-{name}")
        for source, obj in partial.items():  # what arrived before the kill was updated, not made twice
            assert after[source]["metadata"]["uid"] == obj["metadata"]["uid"]
    finally:
        parent_watch.stop()
        killed.watch.stop()  # type: ignore[attr-defined]
    assert_moved(fleet, name, parent_watch, child)
    if victim == "agent":
        assert mgmt.operator is not None and f"pivot of {name} failed" in mgmt.operator.tail(400)


def test_uninstall_refuses_a_cluster_with_children(fleet: Fleet, tmp_path: Path) -> None:
    with pytest.raises(LatticeError, match="cluster mgmt has child clusters: killagent, killcell"):
        uninstall(fleet.mgmt.cp.kubeconfig, name=None, yes=True, bootstrap_choice=None, keep_on_failure=False,
                  run_id="t1", workdir=tmp_path, timeout=60)


def test_uninstall_hands_a_cluster_to_its_parent_which_deletes_it(fleet: Fleet, tmp_path: Path) -> None:
    child = fleet.child("killagent")
    asked: list[str] = []
    refused = uninstall(child.cp.kubeconfig, name=None, yes=False, bootstrap_choice=None, keep_on_failure=False,
                        run_id="t2", workdir=tmp_path, timeout=60, confirm=lambda q: asked.append(q) or False)
    assert refused == 1 and "permanently delete cluster 'killagent'" in asked[0] and "Provider: docker" in asked[0]
    assert lattice_cluster(child, "killagent") is not None  # nothing happened
    assert uninstall(child.cp.kubeconfig, name=None, yes=True, bootstrap_choice=None, keep_on_failure=False,
                     run_id="t3", workdir=tmp_path, timeout=600) == 0
    wait_for("killagent gone from mgmt", lambda: lattice_cluster(fleet.mgmt, "killagent") is None, 300)
    wait_for("killagent's machines torn down", lambda: "killagent" not in fleet.boot.cloud.booted, 120)


def test_a_workload_keeps_reconciling_without_its_management_cluster(fleet: Fleet) -> None:
    mgmt = fleet.mgmt
    child = fleet.child("killcell")
    for process in ("lattice-operator", "metacontroller", "kube-controller-manager", "kube-apiserver", "etcd"):
        proc = mgmt.cp.processes.get(process)
        if proc is not None:
            proc.popen.send_signal(signal.SIGKILL)
            proc.popen.wait(10)
    mgmt.loop.hooks.kill()
    service = {"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeService",
               "metadata": {"name": "hello", "namespace": "default"},
               "spec": {"containers": {"main": {"image": "nginx:1.27"}},
                        "service": {"ports": {"http": {"port": 80}}}}}
    child.cp.apply(service)
    wait_for("hello Ready on killcell", lambda: child.cp.get_json("latticeservice", "hello", "-n", "default")
             .get("status", {}).get("phase") == "Ready", 120)
    assert child.cp.get_json("deployment", "hello", "-n", "default")["metadata"]["name"] == "hello"
    own = lattice_cluster(child, "killcell")
    assert own is not None and own["status"]["phase"] == "Ready"


def test_uninstall_of_an_orphan_goes_through_a_local_bootstrap_cluster(fleet: Fleet, tmp_path: Path) -> None:
    """killcell's parent (mgmt) is dead: a local bootstrap cluster takes the objects and deletes it."""
    child = fleet.child("killcell")
    assert uninstall(child.cp.kubeconfig, name=None, yes=True, bootstrap_choice=parse_bootstrap("local"),
                     keep_on_failure=False, run_id="t4", workdir=tmp_path, timeout=900) == 0
    assert lattice_cluster(child, "killcell") is None or not child.cp.processes["kube-apiserver"].alive()
