"""Command lines and readiness waits of the components: etcd, kube-apiserver,
kube-controller-manager and Metacontroller (called in that order by ``ControlPlane.start``), and
Lattice's hook server for ``lattice dev up``. Each listens on free loopback ports and is started
again with new ones when a port was taken in between.

A component gets what it needs as arguments (a :class:`Launch` and its own settings) and returns
what the plane learns from it (a URL, a port); it knows nothing of ``ControlPlane``."""

from __future__ import annotations

import shutil
import ssl
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import attrs

from lattice_dev.errors import DevClusterError
from lattice_dev.processes import ManagedProcess, free_port, http_ok, port_in_use, wait_until

SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"


def spawn_with_port_retry(
    name: str,
    build: Callable[[], tuple[list[str], Callable[[], bool]]],
    deadline_for: Callable[[], float],
    what: str,
    *,
    log_dir: Path,
    processes: dict[str, ManagedProcess],
    spawn: Callable[[list[str]], ManagedProcess] | None = None,
    retry_ports: bool = True,
) -> ManagedProcess:
    """Spawn ``name`` with fresh ports (``build`` allocates them) and wait until ready; retry a
    few times when a port was taken by someone else in between. The process goes into
    ``processes`` as soon as it runs, its log to ``<log_dir>/<name>.log``."""
    for attempt in range(3):
        argv, ready = build()
        proc = spawn(argv) if spawn else ManagedProcess.spawn(name, argv, log_dir / f"{name}.log")
        processes[name] = proc
        try:
            wait_until(proc, ready, deadline_for(), what)
            return proc
        except DevClusterError:
            proc.stop()
            if retry_ports and attempt < 2 and port_in_use(proc):
                continue
            raise
    raise AssertionError("unreachable")


@attrs.frozen
class Launch:
    """What every component of one plane starts from: the binaries, the work directory (``pki/``
    with the plane's certificates, ``logs/``), each component's readiness deadline, and the plane's
    process table (a component goes in as soon as it runs, so a failed start still stops it)."""

    bin_dir: Path
    workdir: Path
    deadline_for: Callable[[], float]
    processes: dict[str, ManagedProcess]

    @property
    def pki(self) -> Path:
        return self.workdir / "pki"

    def spawn(self, name: str, build: Callable[[], tuple[list[str], Callable[[], bool]]], what: str) -> ManagedProcess:
        return spawn_with_port_retry(name, build, self.deadline_for, what, log_dir=self.workdir / "logs",
                                     processes=self.processes)


def start_etcd(launch: Launch) -> str:
    """etcd on free loopback ports; its client URL."""
    data = launch.workdir / "etcd-data"
    url = ""

    def build() -> tuple[list[str], Callable[[], bool]]:
        nonlocal url
        shutil.rmtree(data, ignore_errors=True)
        client, peer = free_port(), free_port()
        url = f"http://127.0.0.1:{client}"
        peer_url = f"http://127.0.0.1:{peer}"
        argv = [
            str(launch.bin_dir / "etcd"),
            "--name=default",
            f"--data-dir={data}",
            f"--listen-client-urls={url}",
            f"--advertise-client-urls={url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=default={peer_url}",
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        ]
        return argv, lambda: http_ok(url + "/health")

    launch.spawn("etcd", build, "etcd /health")
    return url


def start_apiserver(
    launch: Launch,
    *,
    etcd_url: str,
    etcd_prefix: str,
    service_account_issuer: str,
    token: str,
    admission_sa: bool,
    extra: Sequence[str],
) -> str:
    """kube-apiserver on a free loopback port, serving with ``pki/apiserver.crt``; its URL."""
    pki = launch.pki
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    server = ""

    def build() -> tuple[list[str], Callable[[], bool]]:
        nonlocal server
        port = free_port()
        server = f"https://127.0.0.1:{port}"
        argv = [
            str(launch.bin_dir / "kube-apiserver"),
            f"--etcd-servers={etcd_url}",
            f"--etcd-prefix={etcd_prefix}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={port}",
            f"--cert-dir={launch.workdir / 'apiserver-certs'}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--token-auth-file={pki / 'tokens.csv'}",
            "--authorization-mode=Node,RBAC",
            f"--service-account-issuer={service_account_issuer}",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            "--endpoint-reconciler-type=none",
            "--allow-privileged=true",
            "--profiling=false",
            "--v=1",
        ]
        if not admission_sa:
            argv.append("--disable-admission-plugins=ServiceAccount")
        argv += list(extra)
        return argv, lambda: http_ok(server + "/readyz", context=ctx, token=token)

    launch.spawn("kube-apiserver", build, "/readyz")
    return server


def start_controller_manager(launch: Launch, controllers: Sequence[str]) -> int:
    """kube-controller-manager (with ``kcm.kubeconfig``), not waited for; its health port."""
    port = free_port()
    pki = launch.pki
    argv = [
        str(launch.bin_dir / "kube-controller-manager"),
        f"--kubeconfig={launch.workdir / 'kcm.kubeconfig'}",
        f"--controllers={','.join(controllers)}",
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        f"--cert-dir={launch.workdir / 'kcm-certs'}",
        f"--service-account-private-key-file={pki / 'sa.key'}",
        f"--root-ca-file={pki / 'ca.crt'}",
        "--use-service-account-credentials=false",
        "--kube-api-qps=100",
        "--kube-api-burst=200",
        "--v=1",
    ]
    launch.processes["kube-controller-manager"] = ManagedProcess.spawn(
        "kube-controller-manager", argv, launch.workdir / "logs" / "kube-controller-manager.log"
    )
    return port


def wait_controller_manager(launch: Launch, port: int, deadline: float) -> None:
    proc = launch.processes["kube-controller-manager"]
    ctx = ssl._create_unverified_context()  # its serving cert is self-signed
    url = f"https://127.0.0.1:{port}/healthz"
    wait_until(proc, lambda: http_ok(url, context=ctx), deadline, "/healthz")


def start_metacontroller(launch: Launch, mc_bin: Path, kubeconfig: Path, args: Sequence[str]) -> int:
    """Metacontroller (acting with ``kubeconfig``) until its /readyz answers; its metrics port.

    Only what a local process needs is set here (the kubeconfig, loopback ports for metrics and
    health); how it behaves (apply strategy, QPS, workers, discovery interval, ...) is ``args``,
    otherwise Metacontroller's own defaults."""
    metrics = 0

    def build() -> tuple[list[str], Callable[[], bool]]:
        nonlocal metrics
        metrics, health = free_port(), free_port()
        argv = [
            str(mc_bin),
            f"--kubeconfig={kubeconfig}",
            f"--metrics-address=127.0.0.1:{metrics}",
            f"--health-probe-bind-address=127.0.0.1:{health}",
            *args,
        ]
        return argv, lambda: http_ok(f"http://127.0.0.1:{health}/readyz")

    launch.spawn("metacontroller", build, "/readyz")
    return metrics


def hook_server_command() -> list[str]:
    """How to run ``lattice-hooks`` from this Python environment."""
    script = Path(sys.executable).parent / "lattice-hooks"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "hooks.server.main"]


def start_hook_server(
    deadline_for: Callable[[], float],
    *,
    log_dir: Path,
    processes: dict[str, ManagedProcess],
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    name: str = "lattice-hooks",
) -> str:
    """Start Lattice's hook server (``lattice-hooks``, as ``name`` in ``processes``) on ``port`` (a
    free loopback port when None: a taken one is then retried with another); return its URL once
    ``/readyz`` answers. ``env`` replaces the environment (cluster identity, ...)."""
    url = ""

    def build() -> tuple[list[str], Callable[[], bool]]:
        nonlocal url
        chosen = port if port is not None else free_port()
        url = f"http://127.0.0.1:{chosen}"
        argv = [*hook_server_command(), "--host=127.0.0.1", f"--port={chosen}"]
        return argv, lambda: http_ok(url + "/readyz")

    def spawn(argv: list[str]) -> ManagedProcess:
        return ManagedProcess.spawn(name, argv, log_dir / f"{name}.log", env=env)

    spawn_with_port_retry(name, build, deadline_for, "/readyz", log_dir=log_dir, processes=processes,
                          spawn=spawn, retry_ports=port is None)
    return url
