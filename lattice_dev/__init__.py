"""Lattice's local control plane: a real Kubernetes API (etcd, kube-apiserver,
kube-controller-manager, Metacontroller) run as plain processes on loopback, with the Lattice,
upstream and Metacontroller CRDs installed. ``lattice dev up`` runs the whole loop (``loop``: plus
the hook server as a process, ``hook_server``); the test suite and the benchmarks run the same;
``lattice install``'s bootstrap cluster and a fleet of clusters on one machine are built on it.
Imports only ``crds`` (for its CRD files) of Lattice.

    with ControlPlane.start(tmp_path) as cp:
        cp.kubectl("get", "ns")
        httpx.get(cp.server + "/version", headers={"Authorization": f"Bearer {cp.token}"},
                  verify=str(cp.ca_file))

Binaries are found, never built (``binaries.find_binaries``: ``$LATTICE_DEV_BIN_DIR``,
``$KUBEBUILDER_ASSETS``, a checkout's testbed cache, ``PATH``). Teardown is reliable: every
component runs in its own process group, a small reaper process kills them all when this Python
process dies for any reason (even SIGKILL), and an atexit hook stops every plane still running.

Modules: ``binaries`` (where the binaries come from), ``crd_files`` (which CRDs, from where),
``processes`` (ports, ManagedProcess, the reaper), ``certs`` (the plane's CA and certificates),
``launch`` (each component's command line and readiness wait), ``controlplane`` (ControlPlane),
``hook_server`` (lattice-hooks as a restartable process), ``loop`` (plane + hooks + controllers +
Metacontroller),
``up`` and ``cli`` (``lattice dev up`` and ``python -m lattice_dev``).
"""

from __future__ import annotations

from lattice_dev.binaries import (
    REQUIRED_BINARIES,
    build_in_checkout,
    find_binaries,
    find_metacontroller,
    metacontroller_available,
)
from lattice_dev.controlplane import (
    DEFAULT_CONTROLLERS,
    DEFAULT_START_TIMEOUT,
    SERVICE_ACCOUNT_ISSUER,
    ControlPlane,
    control_plane,
)
from lattice_dev.crd_files import (
    ALL,
    LATTICE_UPSTREAM_CRDS,
    lattice_crds,
    load_crds,
    metacontroller_crd_paths,
    upstream_crd_paths,
)
from lattice_dev.errors import DevClusterError, KubectlError
from lattice_dev.hook_server import HookServerProcess
from lattice_dev.launch import SERVICE_CLUSTER_IP_RANGE
from lattice_dev.loop import Install, Loop, start_loop
from lattice_dev.processes import ManagedProcess, free_port

__all__ = [
    "ALL",
    "DEFAULT_CONTROLLERS",
    "DEFAULT_START_TIMEOUT",
    "LATTICE_UPSTREAM_CRDS",
    "REQUIRED_BINARIES",
    "SERVICE_ACCOUNT_ISSUER",
    "SERVICE_CLUSTER_IP_RANGE",
    "ControlPlane",
    "DevClusterError",
    "HookServerProcess",
    "Install",
    "KubectlError",
    "Loop",
    "ManagedProcess",
    "build_in_checkout",
    "control_plane",
    "find_binaries",
    "find_metacontroller",
    "free_port",
    "lattice_crds",
    "load_crds",
    "metacontroller_available",
    "metacontroller_crd_paths",
    "start_loop",
    "upstream_crd_paths",
]
