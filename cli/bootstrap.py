"""The bootstrap cluster of ``lattice install`` and ``lattice uninstall``: somewhere Lattice runs for a
while to create (or delete) a cluster that then manages itself.

* ``local``: a :class:`lattice_dev.LocalCluster` in this process (what ``lattice dev up`` runs), with
  the local cloud (:class:`lattice_dev.LocalCloud`) provisioning ``docker`` clusters as local
  control planes too — the whole install on one machine, no Docker.
* ``kind``: ``kind create cluster`` (when Docker and kind are on PATH), then as ``kubeconfig``.
* ``kubeconfig=PATH``: an existing cluster. Lattice is installed there (``kubectl apply`` of the CRDs,
  ``manifests/`` and a ``lattice-operator`` Deployment) unless it runs already; Metacontroller and
  Cluster API with the cluster's provider must be there (checked, named when missing). Lattice's
  image is not published yet, so this path is not exercised on this machine (docs/pivot.md).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Protocol

from cli.errors import LatticeError
from cli.install_plan import DOCKER_PROVIDER, BootstrapChoice, BootstrapKind
from cli.kube import Kubectl
from crds import KubeObject

NAME = "lattice-bootstrap"
NEEDED_CRDS = {
    "compositecontrollers.metacontroller.k8s.io": "Metacontroller (v4.17+)",
    "clusters.cluster.x-k8s.io": "Cluster API (core)",
}


class Bootstrap(Protocol):
    name: str

    def create(self) -> None: ...
    def install(self) -> None: ...
    def kubectl(self) -> Kubectl: ...
    def remove(self) -> None: ...
    def keep_note(self) -> str: ...


class LocalBootstrap:
    """A local control plane running Lattice, and the local cloud (in this process)."""

    def __init__(self, workdir: Path, say: Any) -> None:
        self.name = NAME
        self.workdir = workdir
        self.say = say
        self.cluster: Any = None
        self.cloud: Any = None
        self.clusters: dict[str, Any] = {}

    def create(self) -> None:
        from cli.dev import cell_service_account, start_cluster_loop
        from lattice_dev.errors import DevClusterError
        from lattice_dev.local_cloud import LocalCloud
        from lattice_dev.local_cluster import LocalCluster

        try:
            self.cluster = LocalCluster.start(NAME, self.workdir / NAME, start_loop=start_cluster_loop,
                                              service_account=cell_service_account())
        except DevClusterError as exc:
            raise LatticeError(str(exc)) from exc
        self.clusters[NAME] = self.cluster
        self.cloud = LocalCloud(self.clusters, self.workdir, say=self.say).start()

    def install(self) -> None:
        """Nothing more: the local control plane came up running Lattice."""

    def kubectl(self) -> Kubectl:
        return Kubectl(self.cluster.cp.kubeconfig, str(self.cluster.cp.bin_dir / "kubectl"))

    def remove(self) -> None:
        if self.cluster is not None:
            self.clusters.pop(NAME, None)
            self.cluster.stop()
            self.cluster = None

    def keep_note(self) -> str:
        if self.cluster is None:
            return ""
        return (f"the bootstrap cluster is kept while this command runs: KUBECONFIG={self.cluster.cp.kubeconfig}, "
                f"logs in {self.cluster.cp.workdir / 'logs'}")


def operator_objects(image: str, namespace: str = "lattice-system") -> list[KubeObject]:
    """lattice-operator as a Deployment (the cell of the bootstrap cluster). Its identity is the one
    ``manifests/`` ships (applied just before: ``cell-rbac.yaml``, ServiceAccount ``lattice-operator``
    with exactly the cell's rights, as the local bootstrap runs it), never cluster-admin: the
    bootstrap cluster is a root, it runs a cell and no agent."""
    labels = {"app.kubernetes.io/name": "lattice-operator", "app.kubernetes.io/part-of": "lattice"}
    meta = {"name": "lattice-operator", "namespace": namespace, "labels": labels}
    ports = [("grpc", 50051), ("bootstrap", 8443), ("capi-proxy", 8081), ("health", 8080)]
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": {
            "replicas": 1, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {
                "serviceAccountName": "lattice-operator",
                "containers": [{"name": "operator", "image": image,
                                "command": ["lattice-operator", "--cluster", NAME,
                                            "--advertise-host", "lattice-cell.lattice-system.svc"],
                                "ports": [{"name": n, "containerPort": p} for n, p in ports],
                                "readinessProbe": {"httpGet": {"path": "/readyz", "port": "health"}}}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {**meta, "name": "lattice-cell"},
         "spec": {"selector": labels, "ports": [{"name": n, "port": p, "targetPort": n} for n, p in ports]}},
    ]


class KubeconfigBootstrap:
    """An existing cluster: Lattice installed there with kubectl (unless it runs already)."""

    def __init__(self, kubeconfig: Path, workdir: Path, say: Any, image: str, checkout: Path | None) -> None:
        self.name = NAME
        self.path = kubeconfig
        self.workdir = workdir
        self.say = say
        self.image = image
        self.checkout = checkout

    def create(self) -> None:
        if not self.kubectl().reachable():
            raise LatticeError(f"the cluster of {self.path} does not answer")

    def kubectl(self) -> Kubectl:
        return Kubectl.for_kubeconfig(self.path)

    def install(self) -> None:
        k = self.kubectl()
        missing = [what for crd, what in NEEDED_CRDS.items() if k.get("crd", crd) is None]
        if missing:
            raise LatticeError(f"the bootstrap cluster lacks {', '.join(missing)}: install them first")
        if k.get("deployment", "lattice-operator", "-n", "lattice-system") is not None:
            self.say("Lattice already runs there")
            return
        if self.checkout is None:
            raise LatticeError("installing Lattice on an existing cluster needs this repository's manifests/ "
                               "(run from a checkout or set LATTICE_CHECKOUT)")
        k.run("apply", "--server-side", "--force-conflicts", "-f", str(self.checkout / "crds"), timeout=300)
        k.run("apply", "-k", str(self.checkout / "manifests"), timeout=300)
        k.apply(operator_objects(self.image))
        k.apply([DOCKER_PROVIDER])

    def remove(self) -> None:
        """An existing cluster stays; only what install made for the new cluster goes."""

    def keep_note(self) -> str:
        return f"the bootstrap cluster is {self.path}"


class KindBootstrap(KubeconfigBootstrap):
    def __init__(self, workdir: Path, say: Any, image: str, checkout: Path | None, run_id: str) -> None:
        self.cluster_name = f"lattice-bootstrap-{run_id}"
        super().__init__(workdir / "kind.kubeconfig", workdir, say, image, checkout)

    def create(self) -> None:
        done = subprocess.run(["kind", "create", "cluster", "--name", self.cluster_name, "--kubeconfig",
                               str(self.path), "--wait", "120s"], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise LatticeError(f"kind create cluster: {done.stderr.strip()}")

    def remove(self) -> None:
        subprocess.run(["kind", "delete", "cluster", "--name", self.cluster_name], capture_output=True, check=False)

    def keep_note(self) -> str:
        return f"the bootstrap cluster is kind cluster {self.cluster_name} (KUBECONFIG={self.path})"


def make(choice: BootstrapChoice, workdir: Path, say: Any, *, image: str, checkout: Path | None,
         run_id: str) -> Bootstrap:
    if choice.kind is BootstrapKind.LOCAL:
        return LocalBootstrap(workdir, say)
    if choice.kind is BootstrapKind.KIND:
        return KindBootstrap(workdir, say, image, checkout, run_id)
    assert choice.kubeconfig is not None
    return KubeconfigBootstrap(choice.kubeconfig, workdir, say, image, checkout)
