"""The Cluster API managers against a :class:`ControlPlane`: core, kubeadm bootstrap and kubeadm
control plane (v1.13.6) and CAPD with its in-memory backend (``sigs.k8s.io/cluster-api/test``
v1.13.7), each a plain process with its webhooks served, as docs/testbed.md's recipe does by hand.

    with CapiManagers.start(cp) as capi:       # CRDs, webhook certificate and registrations, managers
        cp.apply(cluster_objects)              # a DevCluster (backend inMemory) ... goes Available

No cloud and no Docker: CAPD's in-memory backend simulates machines, nodes, etcd and a partial
workload API server inside its own process.

**Ports.** CAPD binds ``:19000`` and one port per workload cluster from ``:20000`` on all
interfaces, with no flag to move them, so two such managers on one host collide. When this process
may create network namespaces (root), the managers run in a namespace of their own
(:mod:`lattice_dev.netns`), joined to the host's loopback by a relay: kube-apiserver reaches their
webhooks, they reach kube-apiserver, and their fixed ports stay private — any number of planes can
run side by side. Otherwise they run on the host under a host-wide lock (``flock`` on
``$TMPDIR/lattice-capd-inmemory.lock``), so a second user waits instead of colliding.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import functools
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from urllib.parse import urlparse

import attrs
import yaml

from lattice_dev import netns
from lattice_dev.certs import cert_pem, issue, new_ca, write_file
from lattice_dev.controlplane import ControlPlane
from lattice_dev.crd_files import ALL, capi_crd_paths, load_crds, upstream_crd_paths
from lattice_dev.errors import DevClusterError
from lattice_dev.processes import ManagedProcess, free_port, http_ok, wait_until

MANAGERS = ("capi-manager", "kubeadm-bootstrap-manager", "kubeadm-control-plane-manager", "capd-manager")
CAPI_GROUP_SUFFIX = "cluster.x-k8s.io"
LOCK_FILE = Path(tempfile.gettempdir()) / "lattice-capd-inmemory.lock"
DEFAULT_LOCK_TIMEOUT = 900.0


@attrs.frozen
class Ports:
    webhook: int
    health: int
    diagnostics: int


def webhook_configurations(docs: Iterable[dict[str, Any]], prefix: str, port: int, ca_pem: bytes,
                           host: str = "127.0.0.1") -> list[dict[str, Any]]:
    """A kubebuilder ``config/webhook/manifests.yaml`` pointed at a manager on ``host:port``: each
    ``clientConfig.service {path}`` becomes ``{url: https://host:port<path>, caBundle}``, and each
    configuration's name gets ``prefix`` (every kubebuilder project names them alike)."""
    bundle = base64.b64encode(ca_pem).decode()
    out = []
    for doc in docs:
        if doc.get("kind") not in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
            continue
        doc = json.loads(json.dumps(doc))
        doc["metadata"]["name"] = f"{prefix}-{doc['metadata']['name']}"
        for hook in doc.get("webhooks") or []:
            service = (hook.get("clientConfig") or {}).get("service") or {}
            path = service.get("path")
            if not path:
                raise DevClusterError(f"{prefix}: webhook {hook.get('name')} has no service path")
            hook["clientConfig"] = {"url": f"https://{host}:{port}{path}", "caBundle": bundle}
        out.append(doc)
    return out


def capi_crds(provider_resources: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The Cluster API CRDs the managers need — core (from the upstream set), kubeadm bootstrap and
    control plane, CAPD — plus those of the other providers (CAPA, CAPO, Proxmox, RKE2) whose
    ``<plural>.<group>`` is in ``provider_resources`` (e.g. the child kinds of Lattice's cluster
    controller, which Metacontroller only starts once every one of them is served)."""
    core = [d for d in load_crds(upstream_crd_paths(), names=ALL)
            if d["spec"]["group"].endswith(CAPI_GROUP_SUFFIX)]
    managers = load_crds(capi_crd_paths(providers=False), names=ALL)
    have = {d["metadata"]["name"] for d in core + managers}
    wanted = set(provider_resources) - have
    return core + managers + (load_crds(capi_crd_paths(providers=True), names=wanted) if wanted else [])


class _HostLock:
    """The host-wide lock around CAPD's fixed ports when no private namespace is possible."""

    def __init__(self, path: Path, timeout: float) -> None:
        self._fh: IO[str] | None = open(path, "a")  # noqa: SIM115 - held until release()
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self.release()
                    raise DevClusterError(f"another CAPD in-memory manager held {path} for {timeout:.0f} s") from None
                time.sleep(1.0)

    def release(self) -> None:
        if self._fh is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


@attrs.define(eq=False)
class CapiManagers:
    """The four managers of one plane. Build with :meth:`start`; a context manager."""

    workdir: Path
    isolated: bool
    ports: dict[str, Ports]
    processes: dict[str, ManagedProcess] = attrs.field(factory=dict)
    timings: dict[str, float] = attrs.field(factory=dict)
    _lock: _HostLock | None = None

    @property
    def netns_pid(self) -> int | None:
        relay = self.processes.get("netns-relay")
        return relay.pid if relay is not None else None

    @classmethod
    def start(cls, cp: ControlPlane, workdir: Path | None = None, *, isolate: bool | None = None,
              install_crds: bool = True, timeout: float = 120.0,
              lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> CapiManagers:
        """Install the CRDs (unless ``install_crds`` is False), register the webhooks, start the
        managers and return once all four are ready. ``isolate``: run them in a private network
        namespace (default: when possible)."""
        wd = (workdir or cp.workdir / "capi").resolve()
        wd.mkdir(parents=True, exist_ok=True)
        isolated = netns.can_isolate() if isolate is None else isolate
        ports = {m: Ports(free_port(), free_port(), free_port()) for m in MANAGERS}
        self = cls(workdir=wd, isolated=isolated, ports=ports)
        t = time.monotonic()
        try:
            if install_crds:
                cp.install_crds(capi_crds(), timeout=timeout)
                self.timings["crds"] = round(time.monotonic() - t, 2)
            certs = self._webhook_certs()
            self._register_webhooks(cp, certs)
            if isolated:
                self._start_relay(cp, timeout)
            else:
                self._lock = _HostLock(LOCK_FILE, lock_timeout)
            self._start_managers(cp, certs, timeout)
            self.timings["total"] = round(time.monotonic() - t, 2)
        except BaseException:
            self.stop()
            raise
        return self

    # ---- steps -------------------------------------------------------------------------------

    def _webhook_certs(self) -> Path:
        ca, ca_key = new_ca("lattice-capi-webhooks")
        crt, key = issue(ca, ca_key, "capi-webhooks", ips=["127.0.0.1"], dns=["localhost"], server=True)
        certs = self.workdir / "webhook-certs"
        write_file(certs / "ca.crt", cert_pem(ca), 0o644)
        write_file(certs / "tls.crt", crt, 0o644)
        write_file(certs / "tls.key", key)
        return certs

    def _register_webhooks(self, cp: ControlPlane, certs: Path) -> None:
        share = cp.bin_dir.parent / "share" / "capi" / "webhooks"
        ca_pem = (certs / "ca.crt").read_bytes()
        objects: list[dict[str, Any]] = []
        for manager in MANAGERS:
            path = share / f"{manager}.yaml"
            if not path.is_file():
                raise DevClusterError(f"{path} is missing: build the capi testbed component (testbed/build.sh)")
            docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
            objects += webhook_configurations(docs, manager, self.ports[manager].webhook, ca_pem)
        cp.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-",
                   input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))

    def _start_relay(self, cp: ControlPlane, timeout: float) -> None:
        into = [p for ports in self.ports.values() for p in (ports.webhook, ports.health)]
        api_port = urlparse(cp.server).port
        argv = [sys.executable, "-m", "lattice_dev.netns", "--into", ",".join(map(str, into)),
                "--out", str(api_port)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        relay = ManagedProcess.spawn("netns-relay", argv, self.workdir / "logs" / "netns-relay.log", env=env)
        self.processes["netns-relay"] = relay
        wait_until(relay, lambda: netns.READY in relay.tail(5), time.monotonic() + timeout, "the relay's listeners")

    def _argv(self, cp: ControlPlane, manager: str, certs: Path) -> list[str]:
        p = self.ports[manager]
        argv = [str(cp.bin_dir / manager), f"--kubeconfig={cp.kubeconfig}", "--leader-elect=false",
                f"--webhook-port={p.webhook}", f"--webhook-cert-dir={certs}",
                f"--health-addr=127.0.0.1:{p.health}", f"--diagnostics-address=127.0.0.1:{p.diagnostics}",
                "--insecure-diagnostics"]
        if self.isolated:
            argv = ["nsenter", f"--net=/proc/{self.netns_pid}/ns/net", "--", *argv]
        return argv

    def _start_managers(self, cp: ControlPlane, certs: Path, timeout: float) -> None:
        for manager in MANAGERS:
            env = dict(os.environ)
            if manager == "capd-manager":
                env["POD_IP"] = "127.0.0.1"  # the host of every workload cluster's endpoint
            self.processes[manager] = ManagedProcess.spawn(
                manager, self._argv(cp, manager, certs), self.workdir / "logs" / f"{manager}.log", env=env)
        deadline = time.monotonic() + timeout
        for manager in MANAGERS:
            url = f"http://127.0.0.1:{self.ports[manager].health}/readyz"
            wait_until(self.processes[manager], functools.partial(http_ok, url), deadline, "/readyz")

    # ---- teardown ------------------------------------------------------------------------------

    def stop(self) -> None:
        for name in (*reversed(MANAGERS), "netns-relay"):
            proc = self.processes.get(name)
            if proc is not None:
                proc.stop()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def logs(self, names: Sequence[str] = MANAGERS, lines: int = 20) -> str:
        return "\n".join(f"--- {n}\n{self.processes[n].tail(lines)}" for n in names if n in self.processes)

    def __enter__(self) -> CapiManagers:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
