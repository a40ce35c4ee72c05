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
keeps everything running until Ctrl-C.

Teardown is reliable: every component runs in its own process group, a small reaper process kills
them all when this Python process dies for any reason (even SIGKILL), and an atexit hook stops every
control plane that is still running.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import datetime as dt
import hashlib
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import attrs
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

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

REPO_ROOT = Path(__file__).resolve().parent.parent
TESTBED = REPO_ROOT / "testbed"
REQUIRED_BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kubectl")
DEFAULT_START_TIMEOUT = 120.0
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
# kube-controller-manager controllers run by default: enough for garbage collection, namespace
# deletion, default ServiceAccounts (so the ServiceAccount admission plugin can stay on), legacy
# token Secrets, the kube-root-ca.crt ConfigMap and the aggregated admin/edit/view ClusterRoles.
DEFAULT_CONTROLLERS = (
    "garbage-collector-controller",
    "namespace-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "root-ca-certificate-publisher-controller",
    "clusterrole-aggregation-controller",
)


class DevClusterError(RuntimeError):
    """A component could not be built, started or driven."""


class KubectlError(DevClusterError):
    """kubectl exited non-zero; carries its exit code, stdout and stderr."""

    def __init__(self, args: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        self.args_ = list(args)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(f"kubectl {' '.join(args)} exited {returncode}: {stderr.strip() or stdout.strip()}")


# --------------------------------------------------------------------------------------------------
# binaries and CRDs


_bin_dir_lock = threading.Lock()
_bin_dir: Path | None = None


def _has_binaries(d: Path) -> bool:
    return all(os.access(d / b, os.X_OK) for b in REQUIRED_BINARIES)


def ensure_binaries() -> Path:
    """Return a directory holding etcd, kube-apiserver, kube-controller-manager and kubectl.

    ``KUBEBUILDER_ASSETS`` wins when it holds all of them; otherwise ``testbed/build.sh`` runs (a
    no-op of a fraction of a second when its cache is warm, ~20 min cold). Its progress goes to stderr.
    """
    global _bin_dir
    with _bin_dir_lock:
        if _bin_dir is not None and _has_binaries(_bin_dir):
            return _bin_dir
        assets = os.environ.get("KUBEBUILDER_ASSETS")
        if assets and _has_binaries(Path(assets)):
            _bin_dir = Path(assets)
            return _bin_dir
        proc = subprocess.run(
            ["bash", str(TESTBED / "build.sh")], stdout=subprocess.PIPE, stderr=None, text=True, check=False
        )
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            raise DevClusterError(f"testbed/build.sh failed (exit {proc.returncode}); see its output above")
        d = Path(lines[-1])
        if not _has_binaries(d):
            raise DevClusterError(f"testbed/build.sh printed {d}, which lacks one of {REQUIRED_BINARIES}")
        _bin_dir = d
        return d


def find_metacontroller(bin_dir: Path | None = None) -> Path | None:
    """The Metacontroller binary: ``$LATTICE_METACONTROLLER_BIN``, else ``<bin_dir>/metacontroller``."""
    env = os.environ.get("LATTICE_METACONTROLLER_BIN")
    if env:
        return Path(env) if os.access(env, os.X_OK) else None
    d = bin_dir if bin_dir is not None else ensure_binaries()
    p = d / "metacontroller"
    return p if os.access(p, os.X_OK) else None


def _run_crds_sh(*args: str) -> list[Path]:
    proc = subprocess.run(["bash", str(TESTBED / "crds.sh"), *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise DevClusterError(f"testbed/crds.sh {' '.join(args)} failed: {proc.stderr.strip()}")
    return [Path(line) for line in proc.stdout.splitlines() if line.strip()]


def upstream_crd_paths() -> list[Path]:
    """Upstream CRD YAML files (Cilium, Istio, Gateway API, External Secrets, cert-manager, CAPI)."""
    return _run_crds_sh()


def metacontroller_crd_paths() -> list[Path]:
    """Metacontroller's CRDs: ``$LATTICE_METACONTROLLER_CRDS`` (a file or a directory of *.yaml),
    else the files from its Go module (``testbed/crds.sh --metacontroller``)."""
    env = os.environ.get("LATTICE_METACONTROLLER_CRDS")
    if env:
        p = Path(env)
        return sorted(p.glob("*.yaml")) if p.is_dir() else [p]
    return _run_crds_sh("--metacontroller")


# CRDs (by metadata.name) of every upstream kind Lattice generates or references; installed by
# default. ``upstream_crds=ALL`` installs every CRD in the files testbed/crds.sh lists.
LATTICE_UPSTREAM_CRDS = frozenset(
    {
        # Cilium
        "ciliumnetworkpolicies.cilium.io",
        "ciliumclusterwidenetworkpolicies.cilium.io",
        # Istio
        "authorizationpolicies.security.istio.io",
        "peerauthentications.security.istio.io",
        "serviceentries.networking.istio.io",
        "envoyfilters.networking.istio.io",
        # Envoy Gateway (ingress rate limits)
        "backendtrafficpolicies.gateway.envoyproxy.io",
        # Gateway API
        "gatewayclasses.gateway.networking.k8s.io",
        "gateways.gateway.networking.k8s.io",
        "httproutes.gateway.networking.k8s.io",
        "grpcroutes.gateway.networking.k8s.io",
        "referencegrants.gateway.networking.k8s.io",
        # External Secrets
        "externalsecrets.external-secrets.io",
        "secretstores.external-secrets.io",
        "clustersecretstores.external-secrets.io",
        # cert-manager
        "certificates.cert-manager.io",
        "issuers.cert-manager.io",
        "clusterissuers.cert-manager.io",
        # Cluster API (core)
        "clusters.cluster.x-k8s.io",
        "clusterclasses.cluster.x-k8s.io",
        "machinedeployments.cluster.x-k8s.io",
        "machinesets.cluster.x-k8s.io",
        "machines.cluster.x-k8s.io",
        "machinepools.cluster.x-k8s.io",
        "machinehealthchecks.cluster.x-k8s.io",
    }
)
ALL = frozenset({"*"})
"""Pass as ``upstream_crds`` (or ``names``) to take every CRD in the files."""


def _cache_root() -> Path:
    env = os.environ.get("LATTICE_TESTBED_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "lattice-testbed"


def load_crds(
    crds: Iterable[Path | str | Mapping[str, Any]], *, names: Collection[str] | None = None
) -> list[dict[str, Any]]:
    """The CustomResourceDefinition documents in ``crds`` (YAML files or dicts), restricted to
    ``names`` (metadata.name) unless it is None or :data:`ALL`; raise when a named CRD is missing.
    Parsed files are cached as JSON under the testbed cache (the upstream YAML is ~10 MB)."""
    items = list(crds)
    files = [Path(c) for c in items if isinstance(c, str | Path)]
    docs: list[dict[str, Any]] = [dict(c) for c in items if isinstance(c, Mapping)]
    if files:
        h = hashlib.sha256()
        for f in files:
            st = f.stat()
            h.update(f"{f.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        cache = _cache_root() / "crd-docs" / f"{h.hexdigest()[:16]}.json"
        try:
            parsed: list[dict[str, Any]] = json.loads(cache.read_bytes())
        except (OSError, ValueError):
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            parsed = []
            for f in files:
                with open(f, encoding="utf-8") as fh:
                    parsed += [d for d in yaml.load_all(fh, Loader=loader) if d]
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(parsed))
            tmp.replace(cache)
        docs = parsed + docs
    docs = [d for d in docs if d.get("kind") == "CustomResourceDefinition"]
    if names is None or "*" in names:
        return docs
    picked = [d for d in docs if d["metadata"]["name"] in names]
    missing = set(names) - {d["metadata"]["name"] for d in picked}
    if missing:
        raise DevClusterError(f"CRDs not found in the given files: {sorted(missing)}")
    return picked


# --------------------------------------------------------------------------------------------------
# ports, processes, reaper

_ports_lock = threading.Lock()
_ports_given: set[int] = set()


def free_port() -> int:
    """A free TCP port on 127.0.0.1, never the same twice in this process."""
    with _ports_lock:
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", 0))
                port = int(s.getsockname()[1])
            if port not in _ports_given:
                _ports_given.add(port)
                return port
    raise DevClusterError("no free port found")


_REAPER_SCRIPT = r"""
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
groups = set()
for line in sys.stdin:
    line = line.strip()
    if line[:1] == "+":
        groups.add(int(line[1:]))
    elif line[:1] == "-":
        groups.discard(int(line[1:]))
def alive(g):
    try:
        os.killpg(g, 0)
        return True
    except OSError:
        return False
for g in groups:
    try:
        os.killpg(g, signal.SIGTERM)
    except OSError:
        pass
deadline = time.monotonic() + 5
while time.monotonic() < deadline and any(alive(g) for g in groups):
    time.sleep(0.1)
for g in groups:
    try:
        os.killpg(g, signal.SIGKILL)
    except OSError:
        pass
"""


class _Reaper:
    """A helper process that kills registered process groups once our stdin pipe closes, i.e. when
    this Python process exits, however it exits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None

    def _send(self, line: str) -> None:
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._proc = subprocess.Popen(
                    [sys.executable, "-c", _REAPER_SCRIPT],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    text=True,
                    start_new_session=True,
                )
            assert self._proc.stdin is not None
            with contextlib.suppress(BrokenPipeError):
                self._proc.stdin.write(line + "\n")
                self._proc.stdin.flush()

    def watch(self, pgid: int) -> None:
        self._send(f"+{pgid}")

    def forget(self, pgid: int) -> None:
        self._send(f"-{pgid}")


_reaper = _Reaper()


@attrs.define(eq=False)
class ManagedProcess:
    """One component: runs in its own process group, output appended to ``log_path``."""

    name: str
    argv: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes]

    @classmethod
    def spawn(
        cls, name: str, argv: Sequence[str], log_path: Path, *, env: Mapping[str, str] | None = None
    ) -> ManagedProcess:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            log.write(f"==== {time.strftime('%H:%M:%S')} {' '.join(argv)}\n".encode())
            log.flush()
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=dict(env) if env is not None else None,
            )
        _reaper.watch(popen.pid)
        return cls(name=name, argv=list(argv), log_path=log_path, popen=popen)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        try:
            data = self.log_path.read_bytes()[-64 * 1024 :]
        except OSError:
            return ""
        return "\n".join(data.decode(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, SIGKILL it after ``timeout`` seconds."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        # Children that outlived the leader (none expected) go too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        _reaper.forget(self.popen.pid)


def _wait_until(
    proc: ManagedProcess, ready: Callable[[], bool], deadline: float, what: str, interval: float = 0.2
) -> None:
    while True:
        if not proc.alive():
            raise DevClusterError(
                f"{proc.name} exited with code {proc.popen.returncode} before {what}; "
                f"last lines of {proc.log_path}:\n{proc.tail()}"
            )
        if ready():
            return
        if time.monotonic() > deadline:
            raise DevClusterError(
                f"{proc.name} did not become ready ({what}) in time; last lines of {proc.log_path}:\n{proc.tail()}"
            )
        time.sleep(interval)


def _http_ok(url: str, *, context: ssl.SSLContext | None = None, token: str | None = None) -> bool:
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=5, context=context) as resp:
            return int(resp.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _port_in_use(proc: ManagedProcess) -> bool:
    return "address already in use" in proc.tail(200)


# --------------------------------------------------------------------------------------------------
# PKI (an EC P-256 CA; serving and client certificates signed by it)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _new_ca(cn: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _issue(
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    cn: str,
    *,
    orgs: Sequence[str] = (),
    dns: Sequence[str] = (),
    ips: Sequence[str] = (),
    server: bool = False,
    client: bool = False,
) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    attrs_ = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs_.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    now = dt.datetime.now(dt.UTC)
    usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + (
        [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
    )
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attrs_))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = b.sign(ca_key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)


def _write(path: Path, data: bytes | str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    path.chmod(mode)
    return path


# --------------------------------------------------------------------------------------------------
# the control plane

_live_lock = threading.Lock()
_live: list[ControlPlane] = []


def _stop_all_live() -> None:
    with _live_lock:
        planes = list(reversed(_live))
    for cp in planes:
        with contextlib.suppress(Exception):
            cp.stop()


atexit.register(_stop_all_live)


@attrs.define(eq=False)
class ControlPlane:
    """A running control plane. Build one with :meth:`start`; use it as a context manager."""

    workdir: Path
    bin_dir: Path
    server: str
    """``https://127.0.0.1:<port>``"""
    token: str
    """Bearer token of ``admin`` (group ``system:masters``)."""
    ca_pem: str
    """PEM of the CA that signed the apiserver serving certificate (and accepts client certs)."""
    ca_file: Path
    kubeconfig: Path
    etcd_url: str
    etcd_prefix: str
    service_account_issuer: str
    processes: dict[str, ManagedProcess] = attrs.field(factory=dict)
    timings: dict[str, float] = attrs.field(factory=dict)
    """Seconds each start phase took (etcd, kube-apiserver, crds, kube-controller-manager, ...)."""
    remove_workdir: bool = False
    _ca_key_file: Path | None = None
    _kcm_port: int = 0
    _stopped: bool = False

    # ---------------------------------------------------------------- start / stop

    @classmethod
    def start(
        cls,
        workdir: Path | str | None = None,
        *,
        controller_manager: bool = True,
        metacontroller: bool = False,
        upstream_crds: bool | Collection[str] = True,
        extra_crds: Iterable[Path | str | Mapping[str, Any]] = (),
        controllers: Sequence[str] = DEFAULT_CONTROLLERS,
        etcd_url: str | None = None,
        apply_strategy: str = "dynamic-apply",
        metacontroller_args: Sequence[str] = (),
        apiserver_args: Sequence[str] = (),
        timeout: float = DEFAULT_START_TIMEOUT,
        bin_dir: Path | None = None,
    ) -> ControlPlane:
        """Start etcd, kube-apiserver and, as asked, kube-controller-manager, the upstream CRDs and
        Metacontroller; return once everything is ready (each component within ``timeout`` s).

        ``workdir``: where certificates, kubeconfigs, etcd data and ``logs/`` go; a new temporary
        directory (removed again by a clean :meth:`stop`) when None.
        ``upstream_crds``: True installs :data:`LATTICE_UPSTREAM_CRDS` (the upstream kinds Lattice
        generates), a collection installs those CRD names, :data:`ALL` every CRD testbed/crds.sh
        lists, False none. ``extra_crds``: more CRD files or dicts to install (all of them).
        ``controllers``: kube-controller-manager's ``--controllers``.
        ``etcd_url``: share an etcd that is already running (e.g. another plane's ``etcd_url``)
        instead of starting one; this plane then stores under its own ``--etcd-prefix``.
        ``apply_strategy``: Metacontroller's ``--apply-strategy`` (``dynamic-apply``, its default, or
        ``server-side-apply``).
        """
        bin_dir = bin_dir if bin_dir is not None else ensure_binaries()
        mc_bin: Path | None = None
        if metacontroller:
            mc_bin = find_metacontroller(bin_dir)
            if mc_bin is None:
                raise DevClusterError(
                    "Metacontroller binary not available: testbed/build.sh could not build it (see "
                    "docs/testbed.md); set LATTICE_METACONTROLLER_BIN to a metacontroller binary"
                )
        created = workdir is None
        wd = Path(tempfile.mkdtemp(prefix="lattice-cp-")) if workdir is None else Path(workdir)
        wd.mkdir(parents=True, exist_ok=True)
        wd = wd.resolve()

        # PKI, tokens, kubeconfigs
        pki = wd / "pki"
        ca, ca_key = _new_ca("lattice-devcluster-ca")
        ca_pem = ca.public_bytes(serialization.Encoding.PEM)
        ca_file = _write(pki / "ca.crt", ca_pem, 0o644)
        ca_key_file = _write(pki / "ca.key", _pem_key(ca_key))
        serving_crt, serving_key = _issue(
            ca,
            ca_key,
            "kube-apiserver",
            dns=[
                "localhost",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ],
            ips=["127.0.0.1", "::1", "10.0.0.1"],
            server=True,
        )
        _write(pki / "apiserver.crt", serving_crt, 0o644)
        _write(pki / "apiserver.key", serving_key)
        sa_key = ec.generate_private_key(ec.SECP256R1())
        _write(pki / "sa.key", _pem_key(sa_key))
        _write(
            pki / "sa.pub",
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
            0o644,
        )
        admin_token = secrets.token_hex(16)
        kcm_token = secrets.token_hex(16)
        mc_token = secrets.token_hex(16)
        _write(
            pki / "tokens.csv",
            f'{admin_token},admin,admin,"system:masters"\n'
            f'{kcm_token},system:kube-controller-manager,kcm,"system:masters"\n'
            f'{mc_token},system:serviceaccount:metacontroller:metacontroller,metacontroller,"system:masters"\n',
        )

        cp = cls(
            workdir=wd,
            bin_dir=bin_dir,
            server="",
            token=admin_token,
            ca_pem=ca_pem.decode(),
            ca_file=ca_file,
            kubeconfig=wd / "kubeconfig",
            etcd_url=etcd_url or "",
            etcd_prefix=f"/registry-{secrets.token_hex(4)}" if etcd_url else "/registry",
            service_account_issuer=SERVICE_ACCOUNT_ISSUER,
            remove_workdir=created,
            ca_key_file=ca_key_file,
        )
        with _live_lock:
            _live.append(cp)

        def deadline_for() -> float:
            return time.monotonic() + timeout

        t_start = t = time.monotonic()

        def phase(name: str) -> None:
            nonlocal t
            now = time.monotonic()
            cp.timings[name] = round(now - t, 2)
            t = now

        try:
            if not etcd_url:
                cp._start_etcd(deadline_for)
                phase("etcd")
            cp._start_apiserver(deadline_for, admission_sa=controller_manager, extra=apiserver_args)
            phase("kube-apiserver")
            cp._write_kubeconfig(cp.kubeconfig, admin_token, "admin")
            if upstream_crds:
                wanted = LATTICE_UPSTREAM_CRDS if upstream_crds is True else upstream_crds
                cp.install_crds(upstream_crd_paths(), names=wanted, timeout=timeout)
            if metacontroller:
                cp.install_crds(metacontroller_crd_paths(), timeout=timeout)
            extra = list(extra_crds)
            if extra:
                cp.install_crds(extra, timeout=timeout)
            if upstream_crds or metacontroller or extra:
                phase("crds")
            # After the CRDs, so that the garbage collector's first discovery already sees them.
            if controller_manager:
                cp._write_kubeconfig(wd / "kcm.kubeconfig", kcm_token, "kube-controller-manager")
                cp._start_controller_manager(controllers)
                cp._wait_controller_manager(deadline_for())
                phase("kube-controller-manager")
            if mc_bin is not None:
                cp._write_kubeconfig(wd / "metacontroller.kubeconfig", mc_token, "metacontroller")
                cp._start_metacontroller(mc_bin, deadline_for, apply_strategy, metacontroller_args)
                phase("metacontroller")
            cp.timings["total"] = round(time.monotonic() - t_start, 2)
        except BaseException:
            cp.stop(keep_workdir=True)
            raise
        return cp

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context trusting the plane's CA (for httpx: ``verify=cp.ssl_context()``)."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def _spawn_with_port_retry(
        self,
        name: str,
        build: Callable[[], tuple[list[str], Callable[[], bool]]],
        deadline_for: Callable[[], float],
        what: str,
    ) -> ManagedProcess:
        """Spawn ``name`` with fresh ports (``build`` allocates them) and wait until ready; retry a
        few times when a port was taken by someone else in between."""
        for attempt in range(3):
            argv, ready = build()
            proc = ManagedProcess.spawn(name, argv, self.workdir / "logs" / f"{name}.log")
            self.processes[name] = proc
            try:
                _wait_until(proc, ready, deadline_for(), what)
                return proc
            except DevClusterError:
                proc.stop()
                if attempt < 2 and _port_in_use(proc):
                    continue
                raise
        raise AssertionError("unreachable")

    def _start_etcd(self, deadline_for: Callable[[], float]) -> None:
        data = self.workdir / "etcd-data"

        def build() -> tuple[list[str], Callable[[], bool]]:
            shutil.rmtree(data, ignore_errors=True)
            client, peer = free_port(), free_port()
            self.etcd_url = f"http://127.0.0.1:{client}"
            peer_url = f"http://127.0.0.1:{peer}"
            argv = [
                str(self.bin_dir / "etcd"),
                "--name=default",
                f"--data-dir={data}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ]
            return argv, lambda: _http_ok(self.etcd_url + "/health")

        self._spawn_with_port_retry("etcd", build, deadline_for, "etcd /health")

    def _start_apiserver(self, deadline_for: Callable[[], float], *, admission_sa: bool, extra: Sequence[str]) -> None:
        pki = self.workdir / "pki"
        ctx = self.ssl_context()

        def build() -> tuple[list[str], Callable[[], bool]]:
            port = free_port()
            self.server = f"https://127.0.0.1:{port}"
            argv = [
                str(self.bin_dir / "kube-apiserver"),
                f"--etcd-servers={self.etcd_url}",
                f"--etcd-prefix={self.etcd_prefix}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={port}",
                f"--cert-dir={self.workdir / 'apiserver-certs'}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--token-auth-file={pki / 'tokens.csv'}",
                "--authorization-mode=Node,RBAC",
                f"--service-account-issuer={self.service_account_issuer}",
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
            return argv, lambda: _http_ok(self.server + "/readyz", context=ctx, token=self.token)

        self._spawn_with_port_retry("kube-apiserver", build, deadline_for, "/readyz")

    def _start_controller_manager(self, controllers: Sequence[str]) -> None:
        port = free_port()
        pki = self.workdir / "pki"
        argv = [
            str(self.bin_dir / "kube-controller-manager"),
            f"--kubeconfig={self.workdir / 'kcm.kubeconfig'}",
            f"--controllers={','.join(controllers)}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={port}",
            f"--cert-dir={self.workdir / 'kcm-certs'}",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            "--use-service-account-credentials=false",
            "--kube-api-qps=100",
            "--kube-api-burst=200",
            "--v=1",
        ]
        self.processes["kube-controller-manager"] = ManagedProcess.spawn(
            "kube-controller-manager", argv, self.workdir / "logs" / "kube-controller-manager.log"
        )
        self._kcm_port = port

    def _wait_controller_manager(self, deadline: float) -> None:
        proc = self.processes["kube-controller-manager"]
        ctx = ssl._create_unverified_context()  # its serving cert is self-signed
        url = f"https://127.0.0.1:{self._kcm_port}/healthz"
        _wait_until(proc, lambda: _http_ok(url, context=ctx), deadline, "/healthz")

    def _start_metacontroller(
        self,
        mc_bin: Path,
        deadline_for: Callable[[], float],
        apply_strategy: str,
        extra: Sequence[str],
    ) -> None:
        def build() -> tuple[list[str], Callable[[], bool]]:
            metrics, health = free_port(), free_port()
            argv = [
                str(mc_bin),
                f"--kubeconfig={self.workdir / 'metacontroller.kubeconfig'}",
                "--discovery-interval=1s",
                "--client-go-qps=100",
                "--client-go-burst=200",
                f"--apply-strategy={apply_strategy}",
                f"--metrics-address=127.0.0.1:{metrics}",
                f"--health-probe-bind-address=127.0.0.1:{health}",
                *extra,
            ]
            return argv, lambda: _http_ok(f"http://127.0.0.1:{health}/readyz")

        self._spawn_with_port_retry("metacontroller", build, deadline_for, "/readyz")

    def stop(self, *, keep_workdir: bool = False) -> None:
        """Stop every component (Metacontroller, controller manager, apiserver, etcd, in that order).
        A temporary workdir this plane created is removed unless ``keep_workdir`` (kept anyway when
        a component had died, so its log can be read)."""
        if self._stopped:
            return
        self._stopped = True
        died = [p.name for p in self.processes.values() if not p.alive()]
        for name in ("metacontroller", "kube-controller-manager", "kube-apiserver", "etcd"):
            proc = self.processes.get(name)
            if proc is not None:
                proc.stop()
        with _live_lock:
            if self in _live:
                _live.remove(self)
        if self.remove_workdir and not keep_workdir and not died:
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            shutil.rmtree(self.workdir / "etcd-data", ignore_errors=True)

    def __enter__(self) -> ControlPlane:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop(keep_workdir=exc_type is not None)

    # ---------------------------------------------------------------- clients

    @property
    def metacontroller_running(self) -> bool:
        p = self.processes.get("metacontroller")
        return p is not None and p.alive()

    def _write_kubeconfig(
        self,
        path: Path,
        token: str | None,
        user: str,
        *,
        client_cert: tuple[bytes, bytes] | None = None,
    ) -> Path:
        user_entry: dict[str, Any] = {}
        if token is not None:
            user_entry["token"] = token
        if client_cert is not None:
            user_entry["client-certificate-data"] = base64.b64encode(client_cert[0]).decode()
            user_entry["client-key-data"] = base64.b64encode(client_cert[1]).decode()
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "lattice-dev",
                    "cluster": {
                        "server": self.server,
                        "certificate-authority-data": base64.b64encode(self.ca_pem.encode()).decode(),
                    },
                }
            ],
            "users": [{"name": user, "user": user_entry}],
            "contexts": [{"name": f"{user}@lattice-dev", "context": {"cluster": "lattice-dev", "user": user}}],
            "current-context": f"{user}@lattice-dev",
        }
        return _write(path, yaml.safe_dump(cfg, sort_keys=False))

    def write_kubeconfig(
        self,
        path: Path | str,
        *,
        token: str | None = None,
        user: str = "admin",
        groups: Sequence[str] = (),
    ) -> Path:
        """Write a kubeconfig for this plane: with ``token`` (e.g. from a TokenRequest) when given,
        else with a fresh client certificate for ``user`` in ``groups`` (signed by the plane's CA,
        which the apiserver trusts). Handy for RBAC tests."""
        if token is not None:
            return self._write_kubeconfig(Path(path), token, user)
        return self._write_kubeconfig(Path(path), None, user, client_cert=self.issue_client_cert(user, groups))

    def issue_client_cert(self, user: str, groups: Sequence[str] = ()) -> tuple[bytes, bytes]:
        """(cert PEM, key PEM) of a client certificate for ``user`` with ``groups`` as O=."""
        assert self._ca_key_file is not None
        key = serialization.load_pem_private_key(self._ca_key_file.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        ca = x509.load_pem_x509_certificate(self.ca_pem.encode())
        return _issue(ca, key, user, orgs=groups, client=True)

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """An environment for subprocesses: ``base`` (default ``os.environ``) plus KUBECONFIG, a
        per-plane KUBECACHEDIR and the bin directory (kubectl) first on PATH."""
        env = dict(os.environ if base is None else base)
        env["KUBECONFIG"] = str(self.kubeconfig)
        env["KUBECACHEDIR"] = str(self.workdir / "kube-cache")
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        return env

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        timeout: float = 120.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run the built kubectl against this plane as admin; raise :class:`KubectlError` on a
        non-zero exit when ``check``."""
        argv = [str(self.bin_dir / "kubectl"), f"--kubeconfig={self.kubeconfig}", *args]
        proc = subprocess.run(
            argv, input=input, capture_output=True, text=True, timeout=timeout, env=self.env(), check=False
        )
        if check and proc.returncode != 0:
            raise KubectlError(args, proc.returncode, proc.stdout, proc.stderr)
        return proc

    def apply(
        self, objects: str | Mapping[str, Any] | Sequence[Mapping[str, Any]], *, server_side: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """``kubectl apply -f -`` of YAML text, one object, or a list of objects."""
        if isinstance(objects, str):
            text = objects
        elif isinstance(objects, Mapping):
            text = yaml.safe_dump(dict(objects))
        else:
            text = yaml.safe_dump_all([dict(o) for o in objects])
        args = ["apply", "-f", "-"]
        if server_side:
            args += ["--server-side", "--force-conflicts"]
        return self.kubectl(*args, input=text)

    def get_json(self, *args: str) -> Any:
        """``kubectl get <args> -o json``, parsed."""
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def install_crds(
        self,
        crds: Iterable[Path | str | Mapping[str, Any]],
        *,
        names: Collection[str] | None = None,
        timeout: float = DEFAULT_START_TIMEOUT,
    ) -> list[str]:
        """Server-side apply CRDs (files or dicts; only those in ``names`` when given) and wait until
        all of them are Established; return their names. Server-side, because some upstream CRDs
        are too large for client-side apply's last-applied annotation."""
        docs = load_crds(crds, names=names)
        if not docs:
            return []
        self.kubectl(
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            "-",
            input=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}),
            timeout=timeout,
        )
        crd_names = [d["metadata"]["name"] for d in docs]
        self.wait_crds_established(crd_names, timeout=timeout)
        return crd_names

    def wait_crds_established(self, names: Collection[str], *, timeout: float = 60.0) -> None:
        """Poll until every named CRD has condition Established=True."""
        want = set(names)

        def established() -> bool:
            items = self.api_get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")["items"]
            ok = {
                i["metadata"]["name"]
                for i in items
                for c in (i.get("status") or {}).get("conditions") or []
                if c.get("type") == "Established" and c.get("status") == "True"
            }
            return want <= ok

        self.wait_for(established, timeout=timeout, interval=0.2, what=f"{len(want)} CRDs Established")

    def api_get(self, path: str) -> Any:
        """GET ``path`` from the apiserver as admin and return the decoded JSON."""
        req = urllib.request.Request(self.server + path, headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(req, timeout=30, context=self.ssl_context()) as resp:
            return json.loads(resp.read())

    def wait_for(
        self, predicate: Callable[[], bool], *, timeout: float = 60.0, interval: float = 0.25, what: str = ""
    ) -> None:
        """Poll ``predicate`` until it is true; raise :class:`DevClusterError` after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise DevClusterError(f"timed out after {timeout}s waiting for {what or predicate!r}")
            time.sleep(interval)


@contextlib.contextmanager
def control_plane(workdir: Path | str | None = None, **kwargs: Any) -> Iterator[ControlPlane]:
    """``with control_plane(...) as cp:`` — same arguments as :meth:`ControlPlane.start`."""
    with ControlPlane.start(workdir, **kwargs) as cp:
        yield cp


# --------------------------------------------------------------------------------------------------
# CLI


def _cmd_up(ns: argparse.Namespace) -> int:
    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Also when started in the background of a non-interactive shell, which ignores SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    t0 = time.monotonic()
    print("building/locating binaries ...", file=sys.stderr)
    ensure_binaries()
    print("starting control plane ...", file=sys.stderr)
    try:
        cp = ControlPlane.start(
            ns.workdir,
            controller_manager=not ns.no_controller_manager,
            metacontroller=ns.metacontroller,
            upstream_crds=not ns.no_crds,
            apply_strategy=ns.apply_strategy,
        )
    except DevClusterError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    with cp:
        print(f"ready in {time.monotonic() - t0:.1f}s {cp.timings}; logs in {cp.workdir / 'logs'}", file=sys.stderr)
        print(f"export KUBECONFIG={cp.kubeconfig}", file=sys.stderr)
        print(f"export PATH={cp.bin_dir}:$PATH   # kubectl", file=sys.stderr)
        print("Ctrl-C stops everything.", file=sys.stderr)
        print(cp.kubeconfig, flush=True)
        try:
            while all(p.alive() for p in cp.processes.values()):
                time.sleep(1)
            dead = [p for p in cp.processes.values() if not p.alive()]
            for p in dead:
                print(f"{p.name} exited ({p.popen.returncode}); last lines:\n{p.tail()}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\nstopping ...", file=sys.stderr)
            return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lattice_common.devcluster")
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start a control plane and wait until Ctrl-C")
    up.add_argument("--metacontroller", action="store_true", help="also run Metacontroller")
    up.add_argument("--no-crds", action="store_true", help="do not install the upstream CRDs")
    up.add_argument("--no-controller-manager", action="store_true")
    up.add_argument("--apply-strategy", default="dynamic-apply", choices=["dynamic-apply", "server-side-apply"])
    up.add_argument("--workdir", type=Path, default=None, help="default: a new temporary directory")
    sub.add_parser("binaries", help="build (if needed) and print the bin directory")
    sub.add_parser("crds", help="print the upstream CRD file paths")
    ns = parser.parse_args(argv)
    if ns.cmd == "up":
        return _cmd_up(ns)
    if ns.cmd == "binaries":
        print(ensure_binaries())
        return 0
    for p in upstream_crd_paths():
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
