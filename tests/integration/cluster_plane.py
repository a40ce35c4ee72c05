"""A real control plane for the cluster controller's tests and benchmark: etcd, kube-apiserver,
kube-controller-manager, Metacontroller with the flags and identity manifests/ ship, Lattice's hook
server as its own process (``lattice-hooks``, real uvicorn), the Lattice, upstream, Cluster API core and
every provider's CRDs, the controllers of ``manifests/`` pointed at the hook server
(``cli.dev.start_lattice_loop``), and the
CloudProvider ``lattice-system/docker``; with ``managers=True`` also the Cluster API managers and
CAPD's in-memory backend (``lattice_dev.capi``).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

import lattice_dev
from cli.dev import start_lattice_loop
from hooks.controllers import latticecluster
from lattice_dev.capi import CapiManagers
from lattice_dev.loop import Loop

# The cluster the hook server believes it runs in: a LatticeCluster of this name is "its own".
HOOKS_CLUSTER_NAME = "mgmt"
DOCKER_PROVIDER = {"apiVersion": "lattice.dev/v1alpha1", "kind": "CloudProvider",
                   "metadata": {"name": "docker", "namespace": "lattice-system"}, "spec": {"type": "docker"}}


def child_crd_names() -> list[str]:
    """``<plural>.<group>`` of every namespaced-or-not child kind of the LatticeCluster controller."""
    return [f"{k.resource}.{k.api_version.rpartition('/')[0]}" for k in latticecluster.CRD_CHILDREN]


@attrs.define
class ClusterPlane:
    cp: lattice_dev.ControlPlane
    hooks_url: str
    managers: CapiManagers | None
    loop: Loop

    def get(self, *args: str) -> Any:
        proc = self.cp.kubectl("get", *args, "-o", "json", check=False)
        return json.loads(proc.stdout) if proc.returncode == 0 else None

    def items(self, *args: str) -> list[dict[str, Any]]:
        found = self.get(*args)
        return list(found.get("items") or []) if found else []

    def wait(self, what: str, predicate: Any, timeout: float = 120.0, interval: float = 0.5) -> Any:
        """Poll ``predicate()`` until it returns something truthy; return it."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                logs = self.managers.logs() if self.managers else ""
                hooks = self.loop.hooks.log(20)
                mc = self.cp.processes["metacontroller"].tail(20)
                raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{logs}\n--- lattice-hooks\n"
                                     f"{hooks}\n--- metacontroller\n{mc}")
            time.sleep(interval)


@contextlib.contextmanager
def cluster_plane(workdir: Path, bin_dir: Path, *, managers: bool) -> Iterator[ClusterPlane]:
    # The loop `lattice dev up` runs (the shipped controllers, Metacontroller's shipped flags and
    # identity, the Cluster API CRDs its cluster controller needs), the hook server in cluster `mgmt`.
    with start_lattice_loop(workdir, bin_dir=bin_dir, hooks_env={"LATTICE_CLUSTER_NAME": HOOKS_CLUSTER_NAME}) as loop:
        cp = loop.cp
        capi = CapiManagers.start(cp, install_crds=False) if managers else None
        try:
            cp.apply(DOCKER_PROVIDER)
            yield ClusterPlane(cp, loop.hooks.url, capi, loop)
        finally:
            if capi is not None:
                capi.stop()
