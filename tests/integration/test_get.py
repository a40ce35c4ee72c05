"""``lattice get clusters | cluster | hierarchy | services`` against real control planes.

Three clusters in a chain, each its own kube-apiserver with the Lattice CRDs: ``root`` runs a
lattice-cell, ``mid`` a lattice-operator (its cell, and its agent towards root), ``leaf`` a
lattice-agent, all bootstrapped through the webhook. So the agent Leases and the cells' own Leases
are the real ones the cells write. Each cluster holds its own LatticeCluster and a parent holds its
children's (as after a pivot); their status is set in the shape the LatticeCluster hook writes
(``crds.cluster.LatticeClusterStatus``; the hook itself is not under test here). One kubeconfig
has a context per cluster (the leaf's with a client certificate) and one that cannot be reached.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tunnel_procs import Proc, bootstrap, start_agent, start_cell, start_operator

import crds
from crds import agent_lease as al
from crds.cluster import ClusterPhase, LatticeClusterStatus, WorkerPoolStatus
from lattice_dev import ControlPlane
from lattice_dev.crd_files import lattice_crds

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
LATTICE = str(Path(sys.executable).parent / "lattice")
NAMES = ("root", "mid", "leaf")


def lattice_cluster(name: str, parent: bool) -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "examples" / "clusters" / "docker-in-memory.yaml").read_text())
    doc["metadata"] = {"name": name}
    if parent:
        doc["spec"]["parentConfig"] = {"service": {"type": "LoadBalancer"}}
    return doc


def set_status(cp: ControlPlane, name: str, phase: ClusterPhase, pivot: bool) -> None:
    status = LatticeClusterStatus(
        phase=phase, message="cluster is self-managing" if phase is ClusterPhase.READY else "provisioning",
        provider="docker", ready_control_plane=3, ready_workers=3, endpoint=f"https://{name}.example:6443",
        pivot_complete=pivot, bootstrap_complete=True,
        worker_pools={"default": WorkerPoolStatus(desired_replicas=2, current_replicas=2, ready_replicas=2),
                      "scaled": WorkerPoolStatus(desired_replicas=1, current_replicas=1, ready_replicas=1,
                                                 autoscaling_enabled=True)},
        conditions=[crds.Condition(type="Ready", status=crds.ConditionStatus.TRUE, reason="Ready",
                                   message="cluster is self-managing")])
    cp.kubectl("patch", "latticecluster", name, "--subresource=status", "--type=merge", "-p",
               json.dumps({"status": crds.dump(status)}))


def context_entry(name: str, kubeconfig: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    cfg = yaml.safe_load(kubeconfig.read_text())
    cluster, user = cfg["clusters"][0]["cluster"], cfg["users"][0]["user"]
    return ({"name": name, "cluster": cluster}, {"name": name, "user": user},
            {"name": f"{name}-admin", "context": {"cluster": name, "user": name}})


@pytest.fixture(scope="module")
def fleet(testbed_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    planes: dict[str, ControlPlane] = {}
    procs: dict[str, Proc] = {}
    work = tmp_path_factory.mktemp("get-fleet")
    try:
        for name in NAMES:
            planes[name] = ControlPlane.start(work / f"cp-{name}", controller_manager=False, upstream_crds=False,
                                              bin_dir=testbed_bin, extra_crds=lattice_crds())
        procs["root"] = start_cell("root", planes["root"], work)
        bootstrap(procs["root"], "mid", planes["mid"])
        procs["mid"] = start_operator("mid", planes["mid"], work)
        bootstrap(procs["mid"], "leaf", planes["leaf"])
        procs["leaf"] = start_agent(planes["leaf"], work, "leaf")
        procs["root"].wait(lambda c: c.reachable("leaf"), 60, "routing to leaf")  # type: ignore[attr-defined]
        # Each cluster its own LatticeCluster; a parent also its children's.
        holds = {"root": [("root", True), ("mid", True)], "mid": [("mid", True), ("leaf", False)],
                 "leaf": [("leaf", False)]}
        for plane, objects in holds.items():
            planes[plane].apply([lattice_cluster(n, p) for n, p in objects])
            for n, _ in objects:
                own = n == plane
                set_status(planes[plane], n, ClusterPhase.READY if own or n == "root" else ClusterPhase.PIVOTED, own)
        # One kubeconfig: a context per cluster (the leaf's by client certificate), one unreachable.
        entries = [context_entry("root", planes["root"].kubeconfig), context_entry("mid", planes["mid"].kubeconfig),
                   context_entry("leaf", planes["leaf"].write_kubeconfig(work / "leaf-cert", user="leaf-admin",
                                                                           groups=["system:masters"]))]
        gone = ({"name": "gone", "cluster": {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True}},
                {"name": "gone", "user": {"token": "x"}}, {"name": "gone-admin", "context": {"cluster": "gone",
                                                                                            "user": "gone"}})
        entries.append(gone)
        kubeconfig = work / "fleet.kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "clusters": [e[0] for e in entries], "users": [e[1] for e in entries],
            "contexts": [e[2] for e in entries], "current-context": "root-admin"}))
        # The Leases exist and say connected before anything is read.
        for parent, child in (("root", "mid"), ("mid", "leaf")):
            planes[parent].wait_for(lambda p=parent, c=child: planes[p].kubectl(  # type: ignore[misc]
                "get", "lease", "-n", "lattice-system", f"lattice-agent-{c}", "-o",
                "jsonpath={.metadata.annotations.lattice\\.dev/agent-version}", check=False).stdout == "0.1.0",
                timeout=30, what=f"the Lease of {child}'s agent")
        yield {"planes": planes, "procs": procs, "kubeconfig": kubeconfig, "work": work}
    finally:
        for p in procs.values():
            p.kill()
        for cp in planes.values():
            cp.stop()


def lattice(fleet: dict[str, Any], *args: str, tmpdir: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(fleet["work"]), "TMPDIR": str(tmpdir or fleet["work"])}
    return subprocess.run([LATTICE, *args, "--kubeconfig", str(fleet["kubeconfig"])], capture_output=True,
                          text=True, timeout=120, env=env)


def test_get_clusters_reads_every_context(fleet: dict[str, Any], tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = lattice(fleet, "get", "clusters", "--request-timeout", "5s", tmpdir=tmp)
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines()]
    assert rows[0] == ["NAME", "PHASE", "PROVIDER", "K8S", "CP", "WORKERS", "ROLE", "AGENT", "HEARTBEAT", "AGE"]
    table = {r[0]: r for r in rows[1:]}
    assert list(table) == ["root", "mid", "leaf"]  # by depth
    assert table["root"][1:8] == ["Ready", "docker", "1.32.0", "3/3", "3/3", "parent", "-"]
    assert table["mid"][1:8] == ["Ready", "docker", "1.32.0", "3/3", "3/3", "parent", "Connected"]  # its own record
    assert table["leaf"][6:8] == ["leaf", "Connected"]
    assert table["mid"][8].endswith("s")  # a heartbeat seconds ago
    assert "context gone-admin (https://127.0.0.1:1)" in out.stderr and "skipped" in out.stderr
    assert list(tmp.iterdir()) == []  # the leaf's client key never left a file behind


def test_get_clusters_as_data(fleet: dict[str, Any]) -> None:
    out = lattice(fleet, "get", "clusters", "-o", "json", "--context", "root-admin", "--context", "mid-admin",
                  "--context", "leaf-admin")
    assert out.returncode == 0 and out.stderr == "", out.stderr
    data = {c["name"]: c for c in json.loads(out.stdout)}
    assert {n: (c["depth"], c["parent"], c["children"], c["role"]) for n, c in data.items()} == {
        "root": (0, None, ["mid"], "parent"), "mid": (1, "root", ["leaf"], "parent"), "leaf": (2, "mid", [], "leaf")}
    mid = data["mid"]["agent"]
    assert mid["connected"] and mid["cell"] == "root" and mid["agentVersion"] == "0.1.0"
    assert mid["kubernetesVersion"].startswith("v1.35") and mid["protocolVersion"] == 2
    beat = al.parse_time(mid["lastHeartbeat"])
    assert beat is not None and time.time() - beat < 30
    assert data["mid"]["source"] == "self" and data["mid"]["pivotComplete"] is True
    assert data["leaf"]["workerPools"]["scaled"]["autoscalingEnabled"] is True
    assert yaml.safe_load(lattice(fleet, "get", "clusters", "-o", "yaml", "--context", "root-admin").stdout)


def test_get_cluster_detail_and_unknown_name(fleet: dict[str, Any]) -> None:
    out = lattice(fleet, "get", "cluster", "mid")
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(":", 1) for line in out.stdout.split("\n\n")[0].splitlines())
    assert lines["Children"].strip() == "leaf" and lines["Parent"].strip() == "root"
    assert lines["Agent"].strip().startswith("Connected since") and lines["Cell"].strip() == "root"
    assert lines["Context"].strip() == "mid-admin" and lines["Pivot"].strip() == "complete"
    assert "Worker Pools:\n  default  2/2\n  scaled   1/1 (autoscaling)" in out.stdout
    missing = lattice(fleet, "get", "cluster", "nope")
    assert missing.returncode == 1
    assert missing.stderr.strip().endswith("error: cluster 'nope' not found. Available clusters: leaf, mid, root")


def test_only_one_context(fleet: dict[str, Any]) -> None:
    out = lattice(fleet, "get", "hierarchy", "--context", "mid-admin")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "Cluster Hierarchy:\n\nmid  [Ready] (parent)\n└── leaf  [Pivoted]\n"  # mid's copy of leaf


def test_hierarchy_marks_a_disconnected_agent(fleet: dict[str, Any]) -> None:
    out = lattice(fleet, "get", "hierarchy")
    assert out.returncode == 0, out.stderr
    assert out.stdout == ("Cluster Hierarchy:\n\nroot  [Ready] (parent)\n└── mid  [Ready] (parent)\n"
                          "    └── leaf  [Ready]\n")
    fleet["procs"]["leaf"].kill()
    mid: ControlPlane = fleet["planes"]["mid"]
    connected = "jsonpath={.metadata.annotations.lattice\\.dev/agent-connected}"
    mid.wait_for(lambda: mid.kubectl("get", "lease", "-n", "lattice-system", "lattice-agent-leaf", "-o",
                                     connected).stdout == "false",
                 timeout=30, what="the leaf's Lease to say disconnected")
    after = lattice(fleet, "get", "hierarchy", "-o", "json")
    tree = json.loads(after.stdout)
    assert tree[0]["children"][0]["children"][0] == {"name": "leaf", "phase": "Ready", "role": "leaf",
                                                     "connection": "Disconnected", "children": []}
    text = lattice(fleet, "get", "hierarchy").stdout
    assert text.endswith("    └── leaf  [Ready] (disconnected)\n")
    fleet["procs"]["leaf"].start()  # as it was, for the tests after this one
    mid.wait_for(lambda: mid.kubectl("get", "lease", "-n", "lattice-system", "lattice-agent-leaf", "-o",
                                     connected).stdout == "true", timeout=60, what="the leaf's agent back")


def test_no_readable_context_is_an_error(fleet: dict[str, Any]) -> None:
    out = lattice(fleet, "get", "clusters", "--context", "gone-admin", "--request-timeout", "3s")
    assert out.returncode == 1 and "error: no context could be read" in out.stderr
    assert "Traceback" not in out.stderr
    bad = lattice(fleet, "get", "clusters", "--context", "nowhere")
    assert bad.returncode == 1 and "context 'nowhere' not found" in bad.stderr


def test_get_services(fleet: dict[str, Any]) -> None:
    root: ControlPlane = fleet["planes"]["root"]
    docs = [d for f in ("api-gateway.yaml", "auth-service.yaml", "redis.yaml")
            for d in yaml.safe_load_all((ROOT / "examples" / "services" / f).read_text()) if d]
    for ns in sorted({d["metadata"]["namespace"] for d in docs}):
        root.kubectl("create", "namespace", ns, check=False)
    root.apply(docs)
    out = lattice(fleet, "get", "services")
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines()]
    assert rows[0] == ["NAMESPACE", "NAME", "PHASE", "INBOUND", "OUTBOUND", "AGE"]
    names = {(r[0], r[1]) for r in rows[1:]}
    assert {(d["metadata"]["namespace"], d["metadata"]["name"]) for d in docs} == names
    gateway = next(r for r in rows if r[1] == "api-gateway")
    assert gateway[2] == "Pending" and gateway[3:5] == ["1", "3"]  # web-frontend in; auth, redis, stripe out
    only = lattice(fleet, "get", "services", "-n", "nowhere")
    assert only.stdout == "No services found in nowhere.\n"
    as_json = json.loads(lattice(fleet, "get", "services", "-o", "json", "-A").stdout)
    assert {s["kind"] for s in as_json} == {"LatticeService"}
    both = lattice(fleet, "get", "services", "-n", "x", "-A")
    assert both.returncode == 2 and "-n and -A cannot be used together" in both.stderr


def test_through_the_fleet_kubeconfig_the_proxy_gives(fleet: dict[str, Any], tmp_path: Path) -> None:
    """``lattice kubeconfig`` (ServiceAccount credentials through the ``lattice token`` exec plugin) makes
    one context per cluster through root's API proxy; ``lattice get`` reads them all, as that caller,
    under Cedar and each cluster's RBAC."""
    planes: dict[str, ControlPlane] = fleet["planes"]
    root = planes["root"]
    user = "system:serviceaccount:lattice-system:fleet-reader"
    root.kubectl("create", "serviceaccount", "fleet-reader", "-n", "lattice-system")
    root.apply({"apiVersion": "lattice.dev/v1alpha1", "kind": "CedarPolicy",
                "metadata": {"name": "fleet-reader", "namespace": "lattice-system"},
                "spec": {"policies": f'permit(principal == Lattice::User::"{user}", '
                                     'action == Lattice::Action::"AccessCluster", resource);'}})
    for cp in planes.values():  # what `lattice get` reads, on every cluster, for that user only
        cp.kubectl("create", "clusterrole", "fleet-reader", "--verb=list", "--resource=latticeclusters.lattice.dev")
        cp.kubectl("create", "clusterrolebinding", "fleet-reader", "--clusterrole=fleet-reader", f"--user={user}")
        cp.kubectl("create", "role", "fleet-reader", "-n", "lattice-system", "--verb=list", "--resource=leases")
        cp.kubectl("create", "rolebinding", "fleet-reader", "-n", "lattice-system", "--role=fleet-reader",
                   f"--user={user}")
    target = tmp_path / "fleet.yaml"
    env = {"PATH": f"{Path(LATTICE).parent}:/usr/bin:/bin", "HOME": str(tmp_path)}
    made = subprocess.run([LATTICE, "kubeconfig", "--kubeconfig", str(root.kubeconfig), "--service-account",
                           "lattice-system/fleet-reader", "-o", str(target)], capture_output=True, text=True,
                          timeout=120, env=env)
    assert made.returncode == 0, made.stderr
    config = yaml.safe_load(target.read_text())
    assert {c["name"] for c in config["contexts"]} == set(NAMES)
    assert config["users"][0]["user"]["exec"]["args"][0] == "token"
    got = subprocess.run([LATTICE, "get", "clusters", "-o", "json", "--kubeconfig", str(target)],
                         capture_output=True, text=True, timeout=120, env=env)
    assert got.returncode == 0, got.stderr
    data = {c["name"]: c for c in json.loads(got.stdout)}
    assert {n: (c["depth"], c["parent"], c["source"]) for n, c in data.items()} == {
        "root": (0, None, "self"), "mid": (1, "root", "self"), "leaf": (2, "mid", "self")}
    assert data["mid"]["agent"]["connected"] is True
    assert all("/clusters/" in data[n]["context"] or data[n]["context"] in NAMES for n in NAMES)
    denied = subprocess.run([LATTICE, "get", "services", "--kubeconfig", str(target), "--context", "root"],
                            capture_output=True, text=True, timeout=120, env=env)
    assert denied.returncode == 0 and "not allowed to list latticeservices" in denied.stderr  # RBAC, as the caller
