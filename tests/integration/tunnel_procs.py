"""Real lattice-cell / lattice-operator / lattice-agent processes on loopback for the tunnel
integration tests (and bench/): start, wait for readiness, kill, bootstrap a child through the
webhook."""

from __future__ import annotations

import base64
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import httpx

from lattice_dev import ControlPlane, free_port
from lattice_tunnel import pki


def _die_with_parent() -> None:
    """Linux: SIGKILL this child when the test process dies, even if it is SIGKILLed itself."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


# Shorter than the defaults so tests notice a lost peer in seconds: the cell's heartbeat, and the
# agent's keepalive and reconnect backoff.
FAST_CELL = ["--heartbeat-interval", "2"]
FAST_AGENT = ["--keepalive-time", "5", "--keepalive-timeout", "5", "--backoff-max", "1"]
FAST = [*FAST_CELL, *FAST_AGENT]


@attrs.define
class Proc:
    name: str
    argv: list[str]
    log: Path
    health_port: int
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        out = self.log.open("ab")
        self.popen = subprocess.Popen(
            self.argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        return self

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:]) if self.log.exists() else ""

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.health_port}{path}", timeout=5)

    def wait(self, predicate: Callable[[Proc], bool], timeout: float = 30.0, what: str = "ready") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen is not None and self.popen.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.popen.returncode}:\n{self.tail()}")
            try:
                if predicate(self):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not {what} after {timeout}s:\n{self.tail()}")

    def wait_ready(self, timeout: float = 30.0) -> None:
        self.wait(lambda p: p.get("/readyz").status_code == 200, timeout)

    def metric(self, name: str, labels: str = "") -> float:
        text = self.get("/metrics").text
        key = f"{name}{{{labels}}}" if labels else name
        for line in text.splitlines():
            if line.startswith(key + " "):
                return float(line.split()[-1])
        return 0.0


@attrs.define
class CellProc(Proc):
    cluster: str = ""
    cp: ControlPlane | None = None
    grpc_port: int = 0
    bootstrap_port: int = 0
    proxy_port: int = 0
    api_proxy_port: int = 0

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self.get("/status").json()
        return result

    def agent_connected(self, cluster: str) -> bool:
        return any(a["cluster"] == cluster and a["connectivity"] == "connected" for a in self.status()["agents"])

    def reachable(self, cluster: str) -> bool:
        return any(c["name"] == cluster and c["connected"] for c in self.status()["subtree"])

    def ca_bundle(self) -> pki.CaBundle:
        assert self.cp is not None
        secret = self.cp.get_json("-n", "lattice-system", "secret", "lattice-ca")
        return pki.CaBundle.from_data({k: base64.b64decode(v) for k, v in secret["data"].items()})

    def proxy_client(
        self, cn: str = "capi-test", bundle: pki.CaBundle | None = None, timeout: float = 15.0
    ) -> httpx.Client:
        ca = self.ca_bundle()
        leaf = pki.issue_client_certificate(bundle or ca, cn)
        ctx = pki.client_ssl_context(ca.trust_pem(), leaf.chain_pem, leaf.key_pem)
        return httpx.Client(base_url=f"https://127.0.0.1:{self.proxy_port}", verify=ctx, timeout=timeout)

    def bootstrap_client(self) -> httpx.Client:
        ctx = pki.client_ssl_context(self.ca_bundle().trust_pem())
        return httpx.Client(base_url=f"https://127.0.0.1:{self.bootstrap_port}", verify=ctx, timeout=15)

    def issue_token(self, child: str, ttl: float = 3600) -> str:
        assert self.cp is not None
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "lattice_cell.main",
                "issue-token",
                "--kubeconfig",
                str(self.cp.kubeconfig),
                "--child",
                child,
                "--ttl",
                str(ttl),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return out.stdout.strip()


def start_cell(
    cluster: str,
    cp: ControlPlane,
    logdir: Path,
    ports: tuple[int, int, int, int] | None = None,
    extra: list[str] | None = None,
    *,
    operator: bool = False,
    kubeconfig: Path | None = None,
) -> CellProc:
    """``lattice-cell serve`` (a root), or with ``operator`` ``lattice-operator``: the cell plus,
    when the cluster has a parent config, its agent (a mid-tier cluster). ``kubeconfig``: the
    identity the cell runs as (default: the plane's admin)."""
    grpc_port, boot, proxy, health = ports or (free_port(), free_port(), free_port(), free_port())
    api_proxy = free_port()  # never the default 8082: several cells share this machine
    command = ["lattice_operator.main"] if operator else ["lattice_cell.main", "serve"]
    argv = [
        sys.executable,
        "-m",
        *command,
        "--kubeconfig",
        str(kubeconfig or cp.kubeconfig),
        "--cluster",
        cluster,
        "--bind",
        "127.0.0.1",
        "--advertise-host",
        "127.0.0.1",
        "--grpc-port",
        str(grpc_port),
        "--bootstrap-port",
        str(boot),
        "--proxy-port",
        str(proxy),
        "--health-port",
        str(health),
        "--api-proxy-port",
        str(api_proxy),
        *(FAST if operator else FAST_CELL),
        *(extra or []),
    ]
    proc = CellProc(
        f"{'operator' if operator else 'cell'}-{cluster}",
        argv,
        logdir / f"cell-{cluster}.log",
        health,
        cluster=cluster,
        cp=cp,
        grpc_port=grpc_port,
        bootstrap_port=boot,
        proxy_port=proxy,
        api_proxy_port=api_proxy,
    )
    proc.start()
    proc.wait_ready(60)
    return proc


def start_operator(
    cluster: str,
    cp: ControlPlane,
    logdir: Path,
    ports: tuple[int, int, int, int] | None = None,
    extra: list[str] | None = None,
) -> CellProc:
    return start_cell(cluster, cp, logdir, ports, extra, operator=True)


def start_agent(
    cp: ControlPlane, logdir: Path, name: str, health: int | None = None, extra: list[str] | None = None
) -> Proc:
    health = health or free_port()
    argv = [
        sys.executable,
        "-m",
        "lattice_agent.main",
        "--kubeconfig",
        str(cp.kubeconfig),
        "--bind",
        "127.0.0.1",
        "--health-port",
        str(health),
        *FAST,
        *(extra or []),
    ]
    return Proc(f"agent-{name}", argv, logdir / f"agent-{name}.log", health).start()


def bootstrap(parent: CellProc, child: str, child_cp: ControlPlane) -> str:
    """Register `child` on `parent`, fetch its manifests with the one-time token and apply them to
    the child's API server (as the node bootstrap script would). Returns the token."""
    token = parent.issue_token(child)
    with parent.bootstrap_client() as c:
        r = c.get(f"/api/clusters/{child}/manifests", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    child_cp.apply(r.text)
    return token
