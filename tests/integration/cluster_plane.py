"""A real control plane for the cluster controller's tests and benchmark: etcd, kube-apiserver,
kube-controller-manager, Metacontroller (server-side apply, as manifests/ ship it), Lattice's hook
server as its own process (``lattice-hooks``, real uvicorn), the Lattice, Cluster API core and every
provider's CRDs, the controllers of ``hooks.controllers_manifest`` pointed at the hook server, and the
CloudProvider ``lattice-system/docker``; with ``managers=True`` also the Cluster API managers and
CAPD's in-memory backend (``lattice_dev.capi``).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

import lattice_dev
from hooks.controllers import latticecluster
from hooks.controllers_manifest import controller_objects
from lattice_dev.capi import CapiManagers, capi_crds
from lattice_dev.launch import start_hook_server

# The cluster the hook server believes it runs in: a LatticeCluster of this name is "its own".
HOOKS_CLUSTER_NAME = "mgmt"
# What Lattice's Metacontroller runs with (as manifests/ will ship it, branch real-mc): server-side
# apply, only Lattice's controllers, 8 workers, client QPS 200 / burst 400.
METACONTROLLER_ARGS = ("--target-label-selector=app.kubernetes.io/part-of=lattice", "--workers=8",
                       "--client-go-qps=200", "--client-go-burst=400")
DOCKER_PROVIDER = {"apiVersion": "lattice.dev/v1alpha1", "kind": "CloudProvider",
                   "metadata": {"name": "docker", "namespace": "lattice-system"}, "spec": {"type": "docker"}}


def child_crd_names() -> list[str]:
    """``<plural>.<group>`` of every namespaced-or-not child kind of the LatticeCluster controller."""
    return [f"{r.kind.resource}.{r.kind.api_version.rpartition('/')[0]}" for r in latticecluster.CHILDREN
            if "/" in r.kind.api_version]


@attrs.define
class ClusterPlane:
    cp: lattice_dev.ControlPlane
    hooks_url: str
    managers: CapiManagers | None

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
                hooks = self.cp.processes["lattice-hooks"].tail(20)
                mc = self.cp.processes["metacontroller"].tail(20)
                raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{logs}\n--- lattice-hooks\n"
                                     f"{hooks}\n--- metacontroller\n{mc}")
            time.sleep(interval)


@contextlib.contextmanager
def cluster_plane(workdir: Path, bin_dir: Path, *, managers: bool) -> Iterator[ClusterPlane]:
    crds = lattice_dev.lattice_crds() + capi_crds(child_crd_names())
    with lattice_dev.ControlPlane.start(workdir, controller_manager=True, metacontroller=True, upstream_crds=False,
                                        extra_crds=crds,
                                        apply_strategy="server-side-apply", metacontroller_args=METACONTROLLER_ARGS,
                                        bin_dir=bin_dir) as cp:
        # lattice-hooks inherits the environment: its cluster, and a kubeconfig to write its Events with.
        env = {"LATTICE_CLUSTER_NAME": HOOKS_CLUSTER_NAME, "LATTICE_HOOKS_KUBECONFIG": str(cp.kubeconfig)}
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            url = start_hook_server(lambda: time.monotonic() + 60, log_dir=cp.workdir / "logs",
                                    processes=cp.processes)
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        capi = CapiManagers.start(cp, install_crds=False) if managers else None
        try:
            cp.kubectl("create", "namespace", "lattice-system")
            cp.apply(controller_objects(url))
            cp.apply(DOCKER_PROVIDER)
            yield ClusterPlane(cp, url, capi)
        finally:
            if capi is not None:
                capi.stop()
            hooks = cp.processes.get("lattice-hooks")
            if hooks is not None:
                hooks.stop()
