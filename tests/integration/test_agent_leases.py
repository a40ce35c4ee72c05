"""The agent-connection Leases on a real cell: a real lattice-cell running as the ServiceAccount
manifests/cell-rbac.yaml defines (nothing more), a real lattice-agent in front of its own
kube-apiserver, bootstrapped through the webhook. Connect, heartbeat, disconnect, reconnect, and a
cell restart that finds a Lease it had left "connected"."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tunnel_procs import CellProc, Proc, bootstrap, start_agent, start_cell

from crds import agent_lease as al
from lattice_cell import rbac
from lattice_dev import ControlPlane
from lattice_dev.crd_files import lattice_crds

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
CELL_SA = f"system:serviceaccount:{rbac.NAMESPACE}:{rbac.OPERATOR_SERVICE_ACCOUNT}"


def operator_kubeconfig(cp: ControlPlane, path: Path) -> Path:
    """A kubeconfig holding a token of the lattice-operator ServiceAccount (manifests/cell-rbac.yaml)."""
    cp.kubectl("apply", "-f", str(ROOT / "manifests" / "namespace.yaml"))
    cp.kubectl("apply", "-f", str(ROOT / "manifests" / "cell-rbac.yaml"))
    cp.kubectl("apply", "-f", str(ROOT / "manifests" / "proxy-rbac.yaml"))
    token = cp.kubectl("create", "token", rbac.OPERATOR_SERVICE_ACCOUNT, "-n", rbac.NAMESPACE,
                       "--duration=2h").stdout.strip()
    return cp.write_kubeconfig(path, token=token, user="lattice-operator")


@pytest.fixture(scope="module")
def world(testbed_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    planes: list[ControlPlane] = []
    procs: list[Proc] = []
    logs = tmp_path_factory.mktemp("lease-logs")
    try:
        for name in ("root", "leaf"):
            planes.append(ControlPlane.start(tmp_path_factory.mktemp(f"cp-{name}"), controller_manager=False,
                                             upstream_crds=False, bin_dir=testbed_bin, extra_crds=lattice_crds()))
        root_cp, leaf_cp = planes
        kubeconfig = operator_kubeconfig(root_cp, logs / "operator.kubeconfig")
        cell = start_cell("root", root_cp, logs, kubeconfig=kubeconfig)
        procs.append(cell)
        bootstrap(cell, "leaf", leaf_cp)
        agent = start_agent(leaf_cp, logs, "leaf")
        procs.append(agent)
        yield {"cell": cell, "agent": agent, "root": root_cp, "leaf": leaf_cp, "logs": logs, "procs": procs,
               "kubeconfig": kubeconfig}
    finally:
        for p in procs:
            p.kill()
        for cp in planes:
            cp.stop()


def lease(cp: ControlPlane, name: str = "leaf") -> al.AgentLease | None:
    proc = cp.kubectl("get", "lease", "-n", "lattice-system", al.lease_name(name), "-o", "json", check=False)
    if proc.returncode != 0:
        return None
    return al.from_object(json.loads(proc.stdout))


def wait_lease(cp: ControlPlane, predicate: Any, timeout: float = 30.0, what: str = "") -> al.AgentLease:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = lease(cp)
        if last is not None and predicate(last):
            return last
        time.sleep(0.2)
    raise AssertionError(f"Lease never {what}: last seen {last}")


def test_first_connect_creates_the_lease_with_what_the_agent_runs(world: dict[str, Any]) -> None:
    root: ControlPlane = world["root"]
    got = wait_lease(root, lambda x: x.connected and x.protocol_version > 0, what="connected with AgentReady")
    assert got.holder == "root" and got.agent_version == "0.1.0" and got.protocol_version == 2
    assert got.kubernetes_version.startswith("v1.35")
    assert got.state and got.connected_at(time.time())
    # The cell heartbeat is 2 s here: 3 heartbeats plus the bucket's round of renewals, plus 1 s.
    assert got.lease_duration_seconds == 8
    obj = root.get_json("lease", "-n", "lattice-system", "lattice-agent-leaf")
    assert obj["metadata"]["labels"]["lattice.dev/cluster"] == "leaf"
    cell_lease = al.cell_from_object(root.get_json("lease", "-n", "lattice-system", "lattice-cell"))
    assert cell_lease is not None and cell_lease.cluster == "root" and cell_lease.fresh(time.time())


def test_heartbeats_renew_it(world: dict[str, Any]) -> None:
    root: ControlPlane = world["root"]
    first = wait_lease(root, lambda x: x.connected and x.renew_time is not None, what="renewed")
    assert first.renew_time is not None
    later = wait_lease(root, lambda x: (x.renew_time or 0) >= first.renew_time + 2, timeout=15,  # type: ignore[operator]
                       what="renewed by a later heartbeat")
    assert later.connected and later.transitions == first.transitions


def test_disconnect_and_reconnect(world: dict[str, Any]) -> None:
    root: ControlPlane = world["root"]
    before = wait_lease(root, lambda x: x.connected, what="connected")
    agent: Proc = world["agent"]
    agent.kill()
    gone = wait_lease(root, lambda x: not x.connected, timeout=20, what="disconnected after the agent died")
    assert gone.disconnected_at is not None and not gone.connected_at(time.time())
    world["procs"].append(agent.start())
    back = wait_lease(root, lambda x: x.connected, timeout=30, what="connected again")
    assert back.transitions == before.transitions + 1
    assert back.acquire_time is not None and back.acquire_time > (before.acquire_time or 0)


def test_a_restarted_cell_marks_what_it_left_connected_as_disconnected(world: dict[str, Any]) -> None:
    root: ControlPlane = world["root"]
    cell: CellProc = world["cell"]
    agent: Proc = world["agent"]
    wait_lease(root, lambda x: x.connected, what="connected")
    cell.kill()  # no goodbye: the Lease still says connected
    agent.kill()
    assert (left := lease(root)) is not None and left.connected
    cell.start()
    cell.wait_ready(60)
    # Nobody comes back within one Lease duration (8 s): the new cell says so.
    swept = wait_lease(root, lambda x: not x.connected, timeout=30, what="swept to disconnected")
    assert swept.disconnected_at is not None
    assert "not written" not in cell.log.read_text()


def test_the_cell_role_allows_exactly_what_it_needs(world: dict[str, Any]) -> None:
    root: ControlPlane = world["root"]

    def can(verb: str, resource: str, namespace: str = "lattice-system", *extra: str) -> bool:
        out = root.kubectl("auth", "can-i", verb, resource, "-n", namespace, f"--as={CELL_SA}", *extra, check=False)
        return out.stdout.strip() == "yes"

    def review(verb: str, group: str, resource: str, subresource: str = "", namespace: str = "capi-x") -> bool:
        """A SubjectAccessReview (kubectl auth can-i says no for kinds this plane does not serve)."""
        sar = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {
            "user": CELL_SA, "groups": ["system:serviceaccounts", "system:authenticated"],
            "resourceAttributes": {"namespace": namespace, "verb": verb, "group": group, "resource": resource,
                                   "subresource": subresource}}}
        out = root.kubectl("create", "-f", "-", "-o", "json", input=json.dumps(sar))
        return bool(json.loads(out.stdout)["status"].get("allowed"))

    assert all(can(v, "leases") for v in ("list", "create", "patch"))
    assert not any(can(v, "leases") for v in ("delete", "update", "watch"))
    assert not can("create", "leases", "default") and not can("patch", "leases", "kube-system")
    # Secrets and ConfigMaps only in its own namespace (ConfigMap lattice-proxy: the API proxy's URL);
    # in capi-<cluster> once that LatticeCluster's controller binds them
    # (tests/integration/test_cluster_provisioning.py; capi-x has no LatticeCluster); never watched.
    assert all(can(v, "secrets") for v in ("get", "list", "create", "update"))
    assert can("create", "configmaps") and can("update", "configmaps/lattice-proxy")
    assert not can("update", "configmaps/other") and not can("delete", "configmaps/lattice-proxy")
    assert not any(can(v, r, ns) for v in ("get", "list", "create", "update", "patch", "delete")
                   for r in ("secrets", "configmaps") for ns in ("capi-x", "default", "kube-system"))
    assert not can("watch", "secrets") and not can("watch", "configmaps", "capi-x")
    # Namespaces: read, and an unpivot brings capi-<cluster> back; never listed or deleted.
    assert all(can(v, "namespaces") for v in ("get", "create", "update"))
    assert not any(can(v, "namespaces") for v in ("delete", "list", "patch"))
    # The pivot: the Cluster API groups read everywhere (the export lists the cluster-scoped move kinds
    # cluster-wide), written only in a capi-<cluster> its LatticeCluster grants, or for the named
    # cluster-scoped kinds; the CRD list (which kinds move); nothing of other groups.
    capi = (("cluster.x-k8s.io", "clusters"), ("cluster.x-k8s.io", "machines"),
            ("infrastructure.cluster.x-k8s.io", "devclusters"),
            ("controlplane.cluster.x-k8s.io", "kubeadmcontrolplanes"))
    assert all(review(v, g, r) for v in ("get", "list") for g, r in capi)
    assert not any(review(v, g, r, namespace=ns) for v in ("create", "update", "patch", "delete")
                   for g, r in capi for ns in ("capi-x", "default"))
    assert not review("update", "cluster.x-k8s.io", "machines", "status")
    identity = ("infrastructure.cluster.x-k8s.io", "awsclusterstaticidentities")
    assert all(review(v, *identity, namespace="") for v in ("create", "update", "patch", "delete"))
    assert review("update", *identity, "status", namespace="")
    assert not review("create", "infrastructure.cluster.x-k8s.io", "otherclusteridentities", namespace="")
    assert not review("get", "example.com", "clusters") and not review("get", "x-k8s.io", "clusters")
    assert can("list", "customresourcedefinitions.apiextensions.k8s.io")
    assert not can("create", "customresourcedefinitions.apiextensions.k8s.io")
    assert not any(can(v, "deployments.apps", "capi-x") for v in ("get", "create", "delete"))
    assert can("patch", "cloudproviders.lattice.dev") and not can("patch", "cloudproviders.lattice.dev", "default")
    assert can("list", "secretsproviders.lattice.dev") and not can("create", "secretsproviders.lattice.dev")
    assert can("create", "serviceaccounts/lattice-proxy", "lattice-system", "--subresource=token")
    assert not can("create", "serviceaccounts/lattice-operator", "lattice-system", "--subresource=token")
    assert can("list", "cedarpolicies.lattice.dev") and not can("get", "cedarpolicies.lattice.dev")
    assert can("patch", "latticeclusters.lattice.dev", "default", "--subresource=status")
    # The pivot handshake's annotations; an unpivoted cluster is deleted once its objects are back.
    assert all(can(v, "latticeclusters.lattice.dev") for v in ("get", "patch", "delete"))
    assert not any(can(v, "latticeclusters.lattice.dev") for v in ("create", "update", "watch"))
    assert can("create", "tokenreviews.authentication.k8s.io") and not can("impersonate", "users")
    # And the cell ran with only these rights without being refused anything.
    log = world["cell"].log.read_text()
    assert "forbidden" not in log, log
