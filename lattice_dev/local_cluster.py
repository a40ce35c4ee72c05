"""One Lattice cluster on this machine (:class:`LocalCluster`): a control plane with everything a
cluster runs Lattice with — Metacontroller (server-side apply, as ``manifests/`` ship it), the hook
server (``lattice-hooks``, believing it runs in cluster ``name``), the Lattice controllers pointed at
it, the Lattice, Cluster API (core, kubeadm, CAPD and the providers Lattice compiles for) and
upstream CRDs, the CloudProvider ``lattice-system/docker``, and ``lattice-operator`` (the cell and,
once the cluster has a parent config, its agent) on fixed loopback ports, so a restarted operator
is found where its children expect it. Optionally KWOK, which keeps the cluster's Nodes Ready.

The bootstrap cluster of ``lattice install``, every member of ``lattice dev up --clusters N`` and the
pivot tests are LocalClusters; the processes run in their own process groups and die with this
Python process (``processes``' reaper).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from lattice_dev.capi import capi_crds
from lattice_dev.controlplane import ControlPlane
from lattice_dev.crd_files import lattice_crds
from lattice_dev.errors import DevClusterError
from lattice_dev.launch import start_hook_server
from lattice_dev.processes import ManagedProcess, free_port, http_ok, wait_until
from lattice_dev.rest import Rest

# Metacontroller as Lattice runs it: server-side apply, only Lattice's controllers, 8 workers.
METACONTROLLER_ARGS = ("--target-label-selector=app.kubernetes.io/part-of=lattice", "--workers=8",
                       "--client-go-qps=200", "--client-go-burst=400")
# ``<plural>.<group>`` of the child kinds of Lattice's LatticeCluster controller outside the core
# Cluster API set: Metacontroller starts the controller only once all of them are served
# (tests/unit/dev/test_local_cluster.py checks this against hooks.controllers.latticecluster).
PROVIDER_CRDS = (
    "kubeadmcontrolplanes.controlplane.cluster.x-k8s.io", "kubeadmconfigtemplates.bootstrap.cluster.x-k8s.io",
    "rke2controlplanes.controlplane.cluster.x-k8s.io", "rke2configtemplates.bootstrap.cluster.x-k8s.io",
    "devclusters.infrastructure.cluster.x-k8s.io", "devmachinetemplates.infrastructure.cluster.x-k8s.io",
    "awsclusters.infrastructure.cluster.x-k8s.io", "awsmachinetemplates.infrastructure.cluster.x-k8s.io",
    "awsclusterstaticidentities.infrastructure.cluster.x-k8s.io",
    "awsclusterroleidentities.infrastructure.cluster.x-k8s.io",
    "openstackclusters.infrastructure.cluster.x-k8s.io", "openstackmachinetemplates.infrastructure.cluster.x-k8s.io",
    "proxmoxclusters.infrastructure.cluster.x-k8s.io", "proxmoxmachinetemplates.infrastructure.cluster.x-k8s.io",
)
DOCKER_PROVIDER = {"apiVersion": "lattice.dev/v1alpha1", "kind": "CloudProvider",
                   "metadata": {"name": "docker", "namespace": "lattice-system"}, "spec": {"type": "docker"}}
# A restarted operator on loopback is back in seconds: its children need not wait 30 s to retry.
OPERATOR_ARGS = ("--backoff-max", "5")
_env_lock = threading.Lock()


@attrs.frozen
class CellPorts:
    grpc: int
    bootstrap: int
    proxy: int
    health: int

    @classmethod
    def free(cls) -> CellPorts:
        return cls(free_port(), free_port(), free_port(), free_port())


def _python_module(module: str) -> list[str]:
    return [sys.executable, "-m", module]


@attrs.define(eq=False)
class LocalCluster:
    name: str
    cp: ControlPlane
    hooks_url: str
    ports: CellPorts
    operator_args: tuple[str, ...] = ()
    operator: ManagedProcess | None = None
    kwok: ManagedProcess | None = None
    hooks: ManagedProcess | None = None

    @classmethod
    def start(cls, name: str, workdir: Path | None = None, *, bin_dir: Path | None = None, operator: bool = True,
              operator_args: Sequence[str] = OPERATOR_ARGS, kwok: bool = False, docker_provider: bool = True,
              timeout: float = 240.0) -> LocalCluster:
        """``docker_provider``: create the CloudProvider ``docker`` here (a root); a child gets its
        parent's instead, with the distributable resources."""
        workdir = Path(tempfile.mkdtemp(prefix=f"lattice-{name}-")) if workdir is None else workdir
        cp = ControlPlane.start(workdir, controller_manager=True, metacontroller=True, upstream_crds=True,
                                extra_crds=[*lattice_crds(), *capi_crds(PROVIDER_CRDS)],
                                apply_strategy="server-side-apply", metacontroller_args=METACONTROLLER_ARGS,
                                timeout=timeout, bin_dir=bin_dir)
        try:
            with _env_lock:  # the hook server learns its cluster's name from its environment
                before = os.environ.get("LATTICE_CLUSTER_NAME")
                os.environ["LATTICE_CLUSTER_NAME"] = name
                try:
                    url = start_hook_server(lambda: time.monotonic() + timeout, log_dir=cp.workdir / "logs",
                                            processes=cp.processes)
                finally:
                    if before is None:
                        os.environ.pop("LATTICE_CLUSTER_NAME", None)
                    else:
                        os.environ["LATTICE_CLUSTER_NAME"] = before
            controllers = subprocess.run([*_python_module("hooks.controllers_manifest"), "--url", url],
                                         capture_output=True, text=True, check=True, timeout=120).stdout
            cp.kubectl("create", "namespace", "lattice-system")
            cp.apply(controllers)
            if docker_provider:
                cp.apply(DOCKER_PROVIDER)
            cluster = cls(name, cp, url, CellPorts.free(), tuple(operator_args), hooks=cp.processes["lattice-hooks"])
            if kwok:
                cluster.start_kwok()
            if operator:
                cluster.start_operator()
        except BaseException:
            cp.stop(keep_workdir=True)
            raise
        return cluster

    # ---- the operator (cell + agent) ----
    def operator_argv(self) -> list[str]:
        p = self.ports
        return [*_python_module("lattice_operator.main"), "--kubeconfig", str(self.cp.kubeconfig),
                "--cluster", self.name, "--bind", "127.0.0.1", "--advertise-host", "127.0.0.1",
                "--grpc-port", str(p.grpc), "--bootstrap-port", str(p.bootstrap), "--proxy-port", str(p.proxy),
                "--health-port", str(p.health), *self.operator_args]

    def start_operator(self, timeout: float = 90.0) -> ManagedProcess:
        proc = ManagedProcess.spawn(f"operator-{self.name}", self.operator_argv(),
                                    self.cp.workdir / "logs" / "lattice-operator.log",
                                    env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.operator = proc
        self.cp.processes["lattice-operator"] = proc
        wait_until(proc, lambda: http_ok(f"http://127.0.0.1:{self.ports.health}/readyz"),
                   time.monotonic() + timeout, "lattice-operator /readyz")
        return proc

    def kill_operator(self) -> None:
        """SIGKILL: the operator dies without any cleanup (a crashed pod)."""
        if self.operator is not None and self.operator.alive():
            os.killpg(self.operator.pid, signal.SIGKILL)
            self.operator.popen.wait(10)

    def stop_operator(self) -> None:
        if self.operator is not None:
            self.operator.stop()

    # ---- KWOK nodes ----
    def start_kwok(self) -> ManagedProcess:
        kwok_bin = self.cp.bin_dir / "kwok"
        stages = self.cp.bin_dir.parent / "share" / "kwok" / "stages"
        if not kwok_bin.exists():
            raise DevClusterError(f"no kwok in {self.cp.bin_dir} (bash testbed/build.sh --components kwok)")
        configs = [a for s in sorted(stages.glob("*.yaml")) for a in ("-c", str(s))]
        argv = [str(kwok_bin), f"--kubeconfig={self.cp.kubeconfig}", "--manage-all-nodes=true",
                "--cidr=10.244.0.0/16", "--node-ip=127.0.0.1", *configs]
        self.kwok = ManagedProcess.spawn("kwok", argv, self.cp.workdir / "logs" / "kwok.log")
        self.cp.processes["kwok"] = self.kwok
        return self.kwok

    def add_nodes(self, names: Sequence[str], *, control_plane: Sequence[str] = ()) -> None:
        """Nodes for KWOK to keep Ready (what the machines' kubelets would register)."""
        with self.rest() as rest:
            for node in names:
                labels = {"kubernetes.io/hostname": node, "type": "kwok"}
                if node in control_plane:
                    labels["node-role.kubernetes.io/control-plane"] = ""
                rest.ensure({"apiVersion": "v1", "kind": "Node",
                             "metadata": {"name": node, "labels": labels,
                                          "annotations": {"kwok.x-k8s.io/node": "fake"}},
                             "spec": {"taints": [{"key": "kwok.x-k8s.io/node", "value": "fake",
                                                  "effect": "NoSchedule"}]}})

    # ---- clients ----
    def rest(self) -> Rest:
        return Rest(self.cp.server, self.cp.token, self.cp.ca_file)

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.health}"

    def cell_status(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.health_url + "/status", timeout=10) as resp:
            result: dict[str, Any] = json.loads(resp.read())
        return result

    def stop(self, *, keep_workdir: bool = False) -> None:
        for proc in (self.operator, self.kwok, self.hooks):
            if proc is not None:
                proc.stop()
        self.cp.stop(keep_workdir=keep_workdir)

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.stop(keep_workdir=exc_type is not None)
