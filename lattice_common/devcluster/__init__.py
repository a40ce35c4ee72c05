"""A real Kubernetes control plane for tests and local poking, run as plain processes.

etcd, kube-apiserver, kube-controller-manager (and Metacontroller when its binary is available) are
started on free loopback ports in a work directory, with logs in ``<workdir>/logs``. The binaries
come from ``testbed/build.sh`` (built from published Go modules into a cache outside the repo) or
from ``KUBEBUILDER_ASSETS``.

    with ControlPlane.start(tmp_path) as cp:
        cp.kubectl("get", "ns")
        httpx.get(cp.server + "/version", headers={"Authorization": f"Bearer {cp.token}"},
                  verify=str(cp.ca_file))

CLI: ``python -m lattice_common.devcluster up [--metacontroller]`` prints the KUBECONFIG path and
keeps everything running until Ctrl-C; ``lattice dev up`` adds the Lattice CRDs and the hook server.

Teardown is reliable: every component runs in its own process group, a small reaper process kills
them all when this Python process dies for any reason (even SIGKILL), and an atexit hook stops every
control plane that is still running.

Modules: ``binaries`` (testbed binaries and CRD files), ``processes`` (ports, ManagedProcess, the
reaper), ``certs`` (the plane's CA and certificates), ``launch`` (each component's command line and
readiness wait), ``controlplane`` (ControlPlane), ``up`` and ``cli`` (the commands).
"""

from __future__ import annotations

from lattice_common.devcluster.binaries import (
    ALL,
    LATTICE_UPSTREAM_CRDS,
    REQUIRED_BINARIES,
    ensure_binaries,
    find_metacontroller,
    load_crds,
    metacontroller_crd_paths,
    upstream_crd_paths,
)
from lattice_common.devcluster.binaries import REPO_ROOT as REPO_ROOT
from lattice_common.devcluster.binaries import TESTBED as TESTBED
from lattice_common.devcluster.cli import main as main
from lattice_common.devcluster.controlplane import DEFAULT_CONTROLLERS, ControlPlane
from lattice_common.devcluster.controlplane import DEFAULT_START_TIMEOUT as DEFAULT_START_TIMEOUT
from lattice_common.devcluster.controlplane import SERVICE_ACCOUNT_ISSUER as SERVICE_ACCOUNT_ISSUER
from lattice_common.devcluster.controlplane import control_plane as control_plane
from lattice_common.devcluster.errors import DevClusterError, KubectlError
from lattice_common.devcluster.launch import SERVICE_CLUSTER_IP_RANGE as SERVICE_CLUSTER_IP_RANGE
from lattice_common.devcluster.processes import ManagedProcess, free_port

__all__ = [
    "ALL",
    "DEFAULT_CONTROLLERS",
    "LATTICE_UPSTREAM_CRDS",
    "REQUIRED_BINARIES",
    "ControlPlane",
    "DevClusterError",
    "KubectlError",
    "ManagedProcess",
    "ensure_binaries",
    "find_metacontroller",
    "free_port",
    "load_crds",
    "metacontroller_crd_paths",
    "upstream_crd_paths",
]
# The names imported "as" themselves above were importable from the single-module devcluster too,
# and were not in its __all__ either.
