"""One Lattice cluster on this machine (:class:`LocalCluster`): the whole loop (:mod:`lattice_dev.loop`:
a control plane, the hook server believing it runs in cluster ``name``, the controllers and
Metacontroller as the caller's ``start_loop`` installs them — ``cli.dev.start_cluster_loop``: what
``manifests/`` ships, with the Cluster API CRDs the LatticeCluster controller needs), the
CloudProvider ``lattice-system/docker``, and ``lattice-operator`` (the cell and, once the cluster has
a parent config, its agent) on fixed loopback ports, so a restarted operator is found where its
children expect it. Optionally KWOK, which keeps the cluster's Nodes Ready.

The bootstrap cluster of ``lattice install``, every member of ``lattice dev up --clusters N`` and the
pivot tests are LocalClusters; the processes run in their own process groups and die with this
Python process (``processes``' reaper).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from lattice_dev.controlplane import ControlPlane
from lattice_dev.errors import DevClusterError
from lattice_dev.loop import Loop
from lattice_dev.processes import ManagedProcess, free_port, http_ok, wait_until
from lattice_dev.rest import Rest

DOCKER_PROVIDER = {"apiVersion": "lattice.dev/v1alpha1", "kind": "CloudProvider",
                   "metadata": {"name": "docker", "namespace": "lattice-system"}, "spec": {"type": "docker"}}
# A restarted operator on loopback is back in seconds: its children need not wait 30 s to retry.
OPERATOR_ARGS = ("--backoff-max", "5")
StartLoop = Callable[[Path, str, float, Path | None], Loop]
"""``start_loop(workdir, cluster, timeout, bin_dir)``: the whole loop of cluster ``cluster`` (its
hook server's ``LATTICE_CLUSTER_NAME``), with the controllers, CRDs and Metacontroller flags the
caller chooses (lattice_dev knows none of Lattice's own)."""


@attrs.frozen
class CellPorts:
    grpc: int
    bootstrap: int
    proxy: int  # the read-only Cluster API proxy
    health: int
    api_proxy: int  # the authenticated Kubernetes API proxy (docs/proxy.md)

    @classmethod
    def free(cls) -> CellPorts:
        return cls(free_port(), free_port(), free_port(), free_port(), free_port())


def _python_module(module: str) -> list[str]:
    return [sys.executable, "-m", module]


@attrs.define(eq=False)
class LocalCluster:
    name: str
    loop: Loop
    ports: CellPorts
    start_loop: StartLoop
    operator_args: tuple[str, ...] = ()
    service_account: str | None = None  # "namespace/name" the operator runs as; None: the plane's admin
    operator: ManagedProcess | None = None
    kwok: ManagedProcess | None = None

    @property
    def cp(self) -> ControlPlane:
        return self.loop.cp

    @property
    def hooks_url(self) -> str:
        return self.loop.hooks.url

    @classmethod
    def start(cls, name: str, workdir: Path | None = None, *, start_loop: StartLoop, bin_dir: Path | None = None,
              operator: bool = True, operator_args: Sequence[str] = OPERATOR_ARGS, kwok: bool = False,
              docker_provider: bool = True, service_account: str | None = None,
              timeout: float = 240.0) -> LocalCluster:
        """``docker_provider``: create the CloudProvider ``docker`` here (a root); a child gets its
        parent's instead, with the distributable resources. ``service_account`` (``namespace/name``,
        which must exist when the operator starts): lattice-operator runs with a token of it, so
        with exactly the rights its RBAC gives, as in a Pod; None: as the plane's admin."""
        workdir = Path(tempfile.mkdtemp(prefix=f"lattice-{name}-")) if workdir is None else workdir
        loop = start_loop(workdir, name, timeout, bin_dir)
        try:
            if docker_provider:
                loop.cp.apply(DOCKER_PROVIDER)
            cluster = cls(name, loop, CellPorts.free(), start_loop, tuple(operator_args), service_account)
            if kwok:
                cluster.start_kwok()
            if operator:
                cluster.start_operator()
        except BaseException:
            loop.stop(keep_workdir=True)
            raise
        return cluster

    # ---- the operator (cell + agent) ----
    def operator_kubeconfig(self) -> Path:
        """The plane's admin kubeconfig, or one with a fresh token of :attr:`service_account`."""
        if self.service_account is None:
            return Path(self.cp.kubeconfig)
        namespace, _, account = self.service_account.partition("/")
        token = self.cp.kubectl("create", "token", account, "-n", namespace, "--duration=720h").stdout.strip()
        return self.cp.write_kubeconfig(self.cp.workdir / "lattice-operator.kubeconfig", token=token, user=account)

    def operator_argv(self, kubeconfig: Path | None = None) -> list[str]:
        p = self.ports
        kubeconfig = Path(self.cp.kubeconfig) if kubeconfig is None else kubeconfig
        return [*_python_module("lattice_operator.main"), "--kubeconfig", str(kubeconfig),
                "--cluster", self.name, "--bind", "127.0.0.1", "--advertise-host", "127.0.0.1",
                "--grpc-port", str(p.grpc), "--bootstrap-port", str(p.bootstrap), "--proxy-port", str(p.proxy),
                "--health-port", str(p.health), "--api-proxy-port", str(p.api_proxy), *self.operator_args]

    def start_operator(self, timeout: float = 90.0) -> ManagedProcess:
        proc = ManagedProcess.spawn(f"operator-{self.name}", self.operator_argv(self.operator_kubeconfig()),
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
        for proc in (self.operator, self.kwok):
            if proc is not None:
                proc.stop()
        self.loop.stop(keep_workdir=keep_workdir)

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.stop(keep_workdir=exc_type is not None)
