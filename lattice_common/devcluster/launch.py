"""Command lines and readiness waits of the components: etcd, kube-apiserver,
kube-controller-manager and Metacontroller (called in that order by ``ControlPlane.start``), and
Lattice's hook server for ``lattice dev up``. Each listens on free loopback ports and is started
again with new ones when a port was taken in between."""

from __future__ import annotations

import shutil
import ssl
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lattice_common.devcluster.errors import DevClusterError
from lattice_common.devcluster.processes import ManagedProcess, _http_ok, _port_in_use, _wait_until, free_port

if TYPE_CHECKING:
    from lattice_common.devcluster.controlplane import ControlPlane

SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"


def spawn_with_port_retry(
    name: str,
    build: Callable[[], tuple[list[str], Callable[[], bool]]],
    deadline_for: Callable[[], float],
    what: str,
    *,
    log_dir: Path,
    processes: dict[str, ManagedProcess],
) -> ManagedProcess:
    """Spawn ``name`` with fresh ports (``build`` allocates them) and wait until ready; retry a
    few times when a port was taken by someone else in between. The process goes into
    ``processes`` as soon as it runs, its log to ``<log_dir>/<name>.log``."""
    for attempt in range(3):
        argv, ready = build()
        proc = ManagedProcess.spawn(name, argv, log_dir / f"{name}.log")
        processes[name] = proc
        try:
            _wait_until(proc, ready, deadline_for(), what)
            return proc
        except DevClusterError:
            proc.stop()
            if attempt < 2 and _port_in_use(proc):
                continue
            raise
    raise AssertionError("unreachable")


def _spawn_into(
    cp: ControlPlane,
    name: str,
    build: Callable[[], tuple[list[str], Callable[[], bool]]],
    deadline_for: Callable[[], float],
    what: str,
) -> ManagedProcess:
    return spawn_with_port_retry(name, build, deadline_for, what, log_dir=cp.workdir / "logs", processes=cp.processes)


def start_etcd(cp: ControlPlane, deadline_for: Callable[[], float]) -> None:
    data = cp.workdir / "etcd-data"

    def build() -> tuple[list[str], Callable[[], bool]]:
        shutil.rmtree(data, ignore_errors=True)
        client, peer = free_port(), free_port()
        cp.etcd_url = f"http://127.0.0.1:{client}"
        peer_url = f"http://127.0.0.1:{peer}"
        argv = [
            str(cp.bin_dir / "etcd"),
            "--name=default",
            f"--data-dir={data}",
            f"--listen-client-urls={cp.etcd_url}",
            f"--advertise-client-urls={cp.etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=default={peer_url}",
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        ]
        return argv, lambda: _http_ok(cp.etcd_url + "/health")

    _spawn_into(cp, "etcd", build, deadline_for, "etcd /health")


def start_apiserver(
    cp: ControlPlane, deadline_for: Callable[[], float], *, admission_sa: bool, extra: Sequence[str]
) -> None:
    pki = cp.workdir / "pki"
    ctx = cp.ssl_context()

    def build() -> tuple[list[str], Callable[[], bool]]:
        port = free_port()
        cp.server = f"https://127.0.0.1:{port}"
        argv = [
            str(cp.bin_dir / "kube-apiserver"),
            f"--etcd-servers={cp.etcd_url}",
            f"--etcd-prefix={cp.etcd_prefix}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={port}",
            f"--cert-dir={cp.workdir / 'apiserver-certs'}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--token-auth-file={pki / 'tokens.csv'}",
            "--authorization-mode=Node,RBAC",
            f"--service-account-issuer={cp.service_account_issuer}",
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
        return argv, lambda: _http_ok(cp.server + "/readyz", context=ctx, token=cp.token)

    _spawn_into(cp, "kube-apiserver", build, deadline_for, "/readyz")


def start_controller_manager(cp: ControlPlane, controllers: Sequence[str]) -> None:
    port = free_port()
    pki = cp.workdir / "pki"
    argv = [
        str(cp.bin_dir / "kube-controller-manager"),
        f"--kubeconfig={cp.workdir / 'kcm.kubeconfig'}",
        f"--controllers={','.join(controllers)}",
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        f"--cert-dir={cp.workdir / 'kcm-certs'}",
        f"--service-account-private-key-file={pki / 'sa.key'}",
        f"--root-ca-file={pki / 'ca.crt'}",
        "--use-service-account-credentials=false",
        "--kube-api-qps=100",
        "--kube-api-burst=200",
        "--v=1",
    ]
    cp.processes["kube-controller-manager"] = ManagedProcess.spawn(
        "kube-controller-manager", argv, cp.workdir / "logs" / "kube-controller-manager.log"
    )
    cp._kcm_port = port


def wait_controller_manager(cp: ControlPlane, deadline: float) -> None:
    proc = cp.processes["kube-controller-manager"]
    ctx = ssl._create_unverified_context()  # its serving cert is self-signed
    url = f"https://127.0.0.1:{cp._kcm_port}/healthz"
    _wait_until(proc, lambda: _http_ok(url, context=ctx), deadline, "/healthz")


def start_metacontroller(
    cp: ControlPlane,
    mc_bin: Path,
    deadline_for: Callable[[], float],
    apply_strategy: str,
    extra: Sequence[str],
) -> None:
    def build() -> tuple[list[str], Callable[[], bool]]:
        metrics, health = free_port(), free_port()
        argv = [
            str(mc_bin),
            f"--kubeconfig={cp.workdir / 'metacontroller.kubeconfig'}",
            "--discovery-interval=1s",
            "--client-go-qps=100",
            "--client-go-burst=200",
            f"--apply-strategy={apply_strategy}",
            f"--metrics-address=127.0.0.1:{metrics}",
            f"--health-probe-bind-address=127.0.0.1:{health}",
            *extra,
        ]
        return argv, lambda: _http_ok(f"http://127.0.0.1:{health}/readyz")

    _spawn_into(cp, "metacontroller", build, deadline_for, "/readyz")


def _hook_server_command() -> list[str]:
    script = Path(sys.executable).parent / "lattice-hooks"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "hooks.server.main"]


def start_hook_server(
    deadline_for: Callable[[], float], *, log_dir: Path, processes: dict[str, ManagedProcess]
) -> str:
    """Start Lattice's hook server (``lattice-hooks``, as ``lattice-hooks`` in ``processes``) on a
    free loopback port; return its URL once ``/readyz`` answers."""
    url = ""

    def build() -> tuple[list[str], Callable[[], bool]]:
        nonlocal url
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        argv = [*_hook_server_command(), "--host=127.0.0.1", f"--port={port}"]
        return argv, lambda: _http_ok(url + "/readyz")

    spawn_with_port_retry("lattice-hooks", build, deadline_for, "/readyz", log_dir=log_dir, processes=processes)
    return url
