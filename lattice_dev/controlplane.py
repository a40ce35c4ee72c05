"""A running control plane (:class:`ControlPlane`): its start and stop, kubeconfigs and certificates
for clients, and helpers that drive it (kubectl, apply, CRDs, API reads, polling). How each
component is launched is in :mod:`lattice_dev.launch`, which does not know this class."""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import secrets
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import attrs
import yaml

from lattice_dev import launch
from lattice_dev.binaries import find_binaries, find_metacontroller
from lattice_dev.certs import cert_pem, issue, key_pem, load_cert, load_key, new_ca, new_key, public_key_pem, write_file
from lattice_dev.crd_files import LATTICE_UPSTREAM_CRDS, load_crds, metacontroller_crd_paths, upstream_crd_paths
from lattice_dev.errors import DevClusterError, KubectlError
from lattice_dev.processes import ManagedProcess

DEFAULT_START_TIMEOUT = 120.0
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
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
    metacontroller_metrics_url: str = ""
    """``http://127.0.0.1:<port>/metrics`` of the running Metacontroller (Prometheus text)."""
    metacontroller_token: str = attrs.field(default="", repr=False)
    _ca_key_file: Path | None = None
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
        ``metacontroller``: install Metacontroller's CRDs and start it last (as
        :meth:`start_metacontroller` does, with ``metacontroller_args``: the flags that say how it
        behaves; none means Metacontroller's own defaults). To start it later, e.g. once its
        controllers and RBAC are applied, call :meth:`start_metacontroller` yourself.
        """
        bin_dir = bin_dir if bin_dir is not None else find_binaries()
        if metacontroller:
            _metacontroller_binary(bin_dir)  # fail before starting anything
        created = workdir is None
        wd = Path(tempfile.mkdtemp(prefix="lattice-cp-")) if workdir is None else Path(workdir)
        wd.mkdir(parents=True, exist_ok=True)
        wd = wd.resolve()

        # PKI, tokens, kubeconfigs
        pki = wd / "pki"
        ca, ca_key = new_ca("lattice-devcluster-ca")
        ca_pem = cert_pem(ca)
        ca_file = write_file(pki / "ca.crt", ca_pem, 0o644)
        ca_key_file = write_file(pki / "ca.key", key_pem(ca_key))
        serving_crt, serving_key = issue(
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
        write_file(pki / "apiserver.crt", serving_crt, 0o644)
        write_file(pki / "apiserver.key", serving_key)
        sa_key = new_key()
        write_file(pki / "sa.key", key_pem(sa_key))
        write_file(pki / "sa.pub", public_key_pem(sa_key), 0o644)
        admin_token = secrets.token_hex(16)
        kcm_token = secrets.token_hex(16)
        mc_token = secrets.token_hex(16)
        write_file(
            pki / "tokens.csv",
            f'{admin_token},admin,admin,"system:masters"\n'
            f'{kcm_token},system:kube-controller-manager,kcm,"system:masters"\n'
            f'{mc_token},system:serviceaccount:metacontroller:metacontroller,metacontroller,"system:masters"\n',
        )

        cp = cls(
            metacontroller_token=mc_token,
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

        components = launch.Launch(bin_dir, wd, deadline_for, cp.processes)
        try:
            if not etcd_url:
                cp.etcd_url = launch.start_etcd(components)
                phase("etcd")
            cp.server = launch.start_apiserver(
                components, etcd_url=cp.etcd_url, etcd_prefix=cp.etcd_prefix,
                service_account_issuer=cp.service_account_issuer, token=admin_token,
                admission_sa=controller_manager, extra=apiserver_args,
            )
            phase("kube-apiserver")
            cp._write_kubeconfig(cp.kubeconfig, admin_token, "admin")
            if upstream_crds:
                wanted = LATTICE_UPSTREAM_CRDS if upstream_crds is True else upstream_crds
                cp.install_crds(upstream_crd_paths(), names=wanted, timeout=timeout)
            extra = list(extra_crds)
            if extra:
                cp.install_crds(extra, timeout=timeout)
            if metacontroller:
                cp.install_crds(metacontroller_crd_paths(), timeout=timeout)
            if upstream_crds or metacontroller or extra:
                phase("crds")
            # After the CRDs, so that the garbage collector's first discovery already sees them.
            if controller_manager:
                cp._write_kubeconfig(wd / "kcm.kubeconfig", kcm_token, "kube-controller-manager")
                kcm_port = launch.start_controller_manager(components, controllers)
                launch.wait_controller_manager(components, kcm_port, deadline_for())
                phase("kube-controller-manager")
            if metacontroller:
                cp.start_metacontroller(metacontroller_args, timeout=timeout)
                phase("metacontroller")
            cp.timings["total"] = round(time.monotonic() - t_start, 2)
        except BaseException:
            cp.stop(keep_workdir=True)
            raise
        return cp

    def start_metacontroller(
        self,
        args: Sequence[str] = (),
        *,
        user: str | None = None,
        groups: Sequence[str] = (),
        timeout: float = DEFAULT_START_TIMEOUT,
    ) -> None:
        """Start Metacontroller (its CRDs must be installed: ``metacontroller=True`` at start, or
        ``install_crds(metacontroller_crd_paths())``) and wait for its /readyz.

        ``args``: how it behaves (``--apply-strategy``, ``--client-go-qps``, ``--workers``, ...);
        Metacontroller's defaults otherwise. ``user``: act as this identity (a client certificate
        with ``groups``), so its RBAC is what is tested; default a token in ``system:masters``."""
        if self.metacontroller_running:
            raise DevClusterError("Metacontroller is already running on this control plane")
        mc_bin = _metacontroller_binary(self.bin_dir)
        kubeconfig = self.workdir / "metacontroller.kubeconfig"
        if user is None:
            self._write_kubeconfig(kubeconfig, self.metacontroller_token, "metacontroller")
        else:
            self._write_kubeconfig(kubeconfig, None, user, client_cert=self.issue_client_cert(user, groups))
        components = launch.Launch(self.bin_dir, self.workdir, lambda: time.monotonic() + timeout, self.processes)
        port = launch.start_metacontroller(components, mc_bin, kubeconfig, args)
        self.metacontroller_metrics_url = f"http://127.0.0.1:{port}/metrics"

    def stop_metacontroller(self) -> None:
        """Stop Metacontroller (a later :meth:`start_metacontroller` starts it again)."""
        proc = self.processes.pop("metacontroller", None)
        if proc is not None:
            proc.stop()

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context trusting the plane's CA (for httpx: ``verify=cp.ssl_context()``)."""
        return ssl.create_default_context(cafile=str(self.ca_file))

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
        return write_file(path, yaml.safe_dump(cfg, sort_keys=False))

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
        key = load_key(self._ca_key_file.read_bytes())
        ca = load_cert(self.ca_pem.encode())
        return issue(ca, key, user, orgs=groups, client=True)

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


def _metacontroller_binary(bin_dir: Path) -> Path:
    mc_bin = find_metacontroller(bin_dir)
    if mc_bin is None:
        raise DevClusterError(
            f"Metacontroller binary not available: no metacontroller in {bin_dir} or on PATH; build it with "
            "`bash testbed/build.sh` (docs/testbed.md) or set LATTICE_METACONTROLLER_BIN to a metacontroller binary"
        )
    return mc_bin


@contextlib.contextmanager
def control_plane(workdir: Path | str | None = None, **kwargs: Any) -> Iterator[ControlPlane]:
    """``with control_plane(...) as cp:`` — same arguments as :meth:`ControlPlane.start`."""
    with ControlPlane.start(workdir, **kwargs) as cp:
        yield cp
