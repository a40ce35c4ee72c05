"""The cloud, played on this machine: a test double for what cannot run here (machines, Docker, a
cloud's APIs) with Cluster API's controllers (:mod:`lattice_dev.capi_double`), so that clusters
Lattice provisions become :class:`LocalCluster`\\ s — real control planes running their own Lattice.

For every LatticeCluster of a cluster it watches (the ``docker`` provider with an agent, i.e. not
the in-memory backend) whose control plane and bootstrap Secret are ready, it **boots the machine**:
starts a LocalCluster named like it (without its operator), plays cloud-init — writes the control
plane's ``files`` (inline, or from the Secrets ``contentFrom`` names) under a node directory and runs
its post-bootstrap command, the agent installer the cluster compiler generated, with the paths moved
into that directory and the new cluster's kubeconfig — then reports the machines up as Cluster API
would (:class:`CapiDouble`, the new API server as the control-plane endpoint), registers KWOK nodes
for them, and starts the new cluster's ``lattice-operator`` as the ServiceAccount ``lattice-agent``
(what the agent Deployment the installer applied would run, with its rights). From then on the cell
and agent do the rest: the pivot moves the objects in.

It **tears a machine down** when its cluster's Cluster API ``Cluster`` is gone from every cluster it
watches (a move creates the copy before it deletes the original, so only a real deletion leaves
none): the LocalCluster stops.
"""

from __future__ import annotations

import base64
import logging
import shlex
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from lattice_dev.capi_double import CAPI, CapiDouble
from lattice_dev.errors import DevClusterError
from lattice_dev.local_cluster import LocalCluster
from lattice_dev.rest import Obj, Rest, RestError

log = logging.getLogger(__name__)

LATTICE = "lattice.dev/v1alpha1"
KCP = "controlplane.cluster.x-k8s.io/v1beta2"
NODE_ROOT_PATHS = ("/etc/lattice",)
ADMIN_KUBECONFIG = "/etc/kubernetes/admin.conf"
UNPIVOT = "lattice.dev/unpivot-phase"
# What the agent Deployment of the bootstrap manifests runs as (lattice_cell.manifests).
AGENT_SERVICE_ACCOUNT = "lattice-system/lattice-agent"
GONE_PASSES = 3  # a Cluster absent everywhere this many passes in a row was deleted, not moved


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


class LocalCloud:
    def __init__(self, clusters: dict[str, LocalCluster], workdir: Path, *, bin_dir: Path | None = None,
                 kwok: bool = True, say: Callable[[str], None] = lambda _m: None) -> None:
        self.clusters = clusters  # every cluster of the fleet, by name (the cloud adds those it boots)
        self.workdir = workdir
        self.bin_dir = bin_dir
        self.kwok = kwok
        self.say = say
        self.booted: dict[str, LocalCluster] = {}
        self.failed: dict[str, str] = {}
        self._gone: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- the loop ----
    def start(self, interval: float = 1.0) -> LocalCloud:
        self._thread = threading.Thread(target=self._run, args=(interval,), name="local-cloud", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def _run(self, interval: float) -> None:
        while not self._stop.is_set():
            try:
                self.pass_once()
            except Exception as exc:  # a plane may be stopping; the next pass looks again
                log.warning("local cloud: %s", exc)
            self._stop.wait(interval)

    def pass_once(self) -> None:
        with self._lock:
            for owner in list(self.clusters.values()):
                if not owner.cp.processes["kube-apiserver"].alive():
                    continue
                with owner.rest() as rest:
                    for lc in rest.list(LATTICE, "LatticeCluster"):
                        name = str(lc["metadata"]["name"])
                        if name not in self.booted and name not in self.clusters and name not in self.failed \
                                and self._ready_to_boot(rest, lc):
                            self._boot(owner, rest, name)
            self._reap()

    # ---- boot ----
    def _ready_to_boot(self, rest: Rest, lc: Obj) -> bool:
        docker = _get(lc, "spec", "provider", "config", "docker")
        if not isinstance(docker, dict) or docker.get("backend") == "inMemory":
            return False
        name = str(lc["metadata"]["name"])
        if _get(lc, "metadata", "deletionTimestamp") or UNPIVOT in (_get(lc, "metadata", "annotations") or {}):
            return False  # going away, or coming back from its own machines: nothing to boot
        secret_name = _get(lc, "status", "bootstrapSecret")
        if not secret_name or rest.get(KCP, "KubeadmControlPlane", f"capi-{name}", f"{name}-control-plane") is None:
            return False
        secret = rest.get("v1", "Secret", f"capi-{name}", str(secret_name))
        return bool(_get(secret, "data", "token"))

    def _boot(self, owner: LocalCluster, rest: Rest, name: str) -> None:
        self.say(f"{name}: booting its machines (a local control plane)")
        try:
            child = LocalCluster.start(name, self.workdir / name, start_loop=owner.start_loop, bin_dir=self.bin_dir,
                                       operator=False, kwok=self.kwok, docker_provider=False,
                                       service_account=AGENT_SERVICE_ACCOUNT)
        except Exception as exc:
            self.failed[name] = str(exc)
            raise
        try:
            self.first_boot(rest, name, child)
            self.say(f"{name}: first boot ran the agent installer")
            server = child.cp.server.removeprefix("https://")
            host, _, port = server.rpartition(":")
            double = CapiDouble(rest, f"capi-{name}", name)
            double.provision((host, int(port)), child.cp.ca_pem.encode(), Path(child.cp.kubeconfig).read_bytes())
            machines = rest.list(CAPI, "Machine", f"capi-{name}", f"cluster.x-k8s.io/cluster-name={name}")
            planes = [m["metadata"]["name"] for m in machines
                      if "cluster.x-k8s.io/control-plane" in (m["metadata"].get("labels") or {})]
            if self.kwok:
                child.add_nodes([m["metadata"]["name"] for m in machines], control_plane=planes)
            child.start_operator()
            self.say(f"{name}: {len(machines)} machines up; its agent is dialling {owner.name}")
        except Exception as exc:
            self.failed[name] = str(exc)
            child.stop(keep_workdir=True)
            raise
        self.booted[name] = child
        self.clusters[name] = child

    def first_boot(self, rest: Rest, name: str, child: LocalCluster) -> None:
        """cloud-init on the first control-plane machine, moved into ``<workdir>/<name>/node``."""
        kcp = rest.get(KCP, "KubeadmControlPlane", f"capi-{name}", f"{name}-control-plane")
        spec = _get(kcp, "spec", "kubeadmConfigSpec") or {}
        root = self.workdir / name / "node"
        kubectl = str(child.cp.bin_dir / "kubectl")

        def moved(text: str) -> str:
            for path in NODE_ROOT_PATHS:
                text = text.replace(path, f"{root}{path}")
            text = text.replace(f"KUBECONFIG={ADMIN_KUBECONFIG}", f"KUBECONFIG={child.cp.kubeconfig}")
            return text.replace("kubectl=kubectl\n", f"kubectl={kubectl}\n")

        for entry in spec.get("files") or []:
            path = Path(moved(str(entry["path"])))
            if not str(path).startswith(str(root)):
                continue  # files outside Lattice's directory configure the real node; nothing to do here
            content = entry.get("content")
            source = _get(entry, "contentFrom", "secret")
            if source is not None:
                secret = rest.get("v1", "Secret", f"capi-{name}", str(source["name"]))
                content = base64.b64decode(_get(secret, "data", str(source["key"])) or "").decode()
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            path.write_text(moved(content or ""))
            path.chmod(int(str(entry.get("permissions") or "0600"), 8))
        for command in spec.get("postKubeadmCommands") or []:
            argv = [a for a in shlex.split(moved(str(command))) if a != "--detach"]  # wait for it here
            if not argv or not argv[0].startswith(str(root)):
                continue
            done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
            if done.returncode != 0:
                raise DevClusterError(f"{name}: first-boot command {command!r} failed: {done.stderr[-2000:]}")

    # ---- teardown ----
    def _reap(self) -> None:
        for name, child in list(self.booted.items()):
            found = False
            for plane in self.clusters.values():
                if plane is child and not child.cp.processes["kube-apiserver"].alive():
                    continue
                try:
                    with plane.rest() as rest:
                        found = found or rest.get(CAPI, "Cluster", f"capi-{name}", name) is not None
                except (RestError, OSError, httpx.HTTPError):
                    found = True  # a plane we cannot ask may hold it
            self._gone[name] = 0 if found else self._gone.get(name, 0) + 1
            if self._gone[name] >= GONE_PASSES:
                self.say(f"{name}: its Cluster was deleted; tearing its machines down")
                del self.booted[name]
                self.clusters.pop(name, None)
                child.stop()
