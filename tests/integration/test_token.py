"""``lattice token`` for real: Ory Hydra v2.3.0 as the OIDC issuer (authorization code + PKCE on a
loopback redirect, the test playing the browser), the token cache (reuse, refresh, rotation, file
modes), ServiceAccount tokens from a real kube-apiserver's TokenRequest API, and kubectl using
``lattice token`` as its exec credential plugin against a kube-apiserver that trusts Hydra
(``--oidc-*``) or its own ServiceAccount tokens."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hydra import Hydra, start_hydra

from cli import token_cache
from lattice_dev import ControlPlane

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

LATTICE = str(Path(sys.executable).parent / "lattice")
CLIENT = "lattice-cli"
SCOPES = ["openid", "offline_access", "email", "groups"]


@pytest.fixture(scope="module")
def hydra(testbed_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hydra]:
    h = start_hydra(testbed_bin, tmp_path_factory.mktemp("hydra"))
    try:
        yield h
    finally:
        h.stop()


@pytest.fixture(scope="module")
def redirect_port() -> int:
    from lattice_dev import free_port

    return free_port()


@pytest.fixture(scope="module")
def client(hydra: Hydra, redirect_port: int) -> str:
    hydra.create_client(CLIENT, [f"http://127.0.0.1:{redirect_port}/callback"])
    return CLIENT


def oidc_args(hydra: Hydra, port: int, cache: Path, client_id: str = CLIENT) -> list[str]:
    return ["--oidc-issuer-url", hydra.issuer, "--oidc-client-id", client_id, "--certificate-authority",
            str(hydra.ca_file), "--redirect-url", f"http://127.0.0.1:{port}/callback", "--token-cache-dir",
            str(cache), "--oidc-extra-scope", "email", "--oidc-extra-scope", "groups", "--login-timeout", "60"]


def claims(jwt: str) -> dict[str, Any]:
    return token_cache.claims_of(jwt)


class Run:
    """``lattice token`` in the background, its stderr read line by line (where the login URL appears)."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, **(env or {})})
        self.stderr: list[str] = []

    def login_url(self, timeout: float = 30) -> str:
        assert self.proc.stderr is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                raise AssertionError(f"no login URL; stderr: {''.join(self.stderr)}")
            self.stderr.append(line)
            if line.strip().startswith("https://") and "/oauth2/auth?" in line:
                return line.strip()
        raise AssertionError("no login URL in time")

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, "".join(self.stderr) + err


def login(hydra: Hydra, argv: list[str], subject: str = "alice", env: dict[str, str] | None = None,
          groups: tuple[str, ...] = ("platform", "dev")) -> tuple[dict[str, Any], str]:
    run = Run(argv, env)
    page = hydra.play_login(run.login_url(), subject, email=f"{subject}@example.com", groups=groups, scopes=SCOPES)
    assert page.status_code == 200 and "Logged in" in page.text
    code, out, err = run.finish()
    assert code == 0, err
    return json.loads(out), err


def test_login_by_authorization_code_with_pkce(hydra: Hydra, client: str, redirect_port: int, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cred, err = login(hydra, [LATTICE, "token", *oidc_args(hydra, redirect_port, cache)])
    assert cred["apiVersion"] == "client.authentication.k8s.io/v1" and cred["kind"] == "ExecCredential"
    token = cred["status"]["token"]
    c = claims(token)
    assert (c["iss"], c["aud"], c["sub"], c["email"], c["groups"]) == (
        hydra.issuer, [CLIENT], "alice", "alice@example.com", ["platform", "dev"])
    assert cred["status"]["expirationTimestamp"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(c["exp"]))
    assert token not in err  # the token is only ever on stdout
    # The cache: a private folder and a private file holding the ID and refresh tokens.
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    [entry] = list(cache.glob("*.json"))
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    stored = json.loads(entry.read_text())
    assert stored["id_token"] == token and stored["refresh_token"] and stored["issuer"] == hydra.issuer


def test_cached_token_is_reused_without_asking_the_issuer(hydra: Hydra, client: str, redirect_port: int,
                                                          tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first, _ = login(hydra, [LATTICE, "token", *oidc_args(hydra, redirect_port, cache)])
    # A CA file that does not exist: any talk to the issuer would fail. The cached token needs none.
    argv = [LATTICE, "token", *oidc_args(hydra, redirect_port, cache)]
    argv[argv.index("--certificate-authority") + 1] = str(tmp_path / "missing-ca.crt")
    started = time.monotonic()
    again = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True)
    assert json.loads(again.stdout)["status"]["token"] == first["status"]["token"]
    assert "Log in" not in again.stderr
    print(f"cached lattice token: {time.monotonic() - started:.2f}s")
    # kubectl asked for v1beta1: it gets v1beta1 back.
    info = json.dumps({"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                       "spec": {"interactive": False}})
    beta = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True,
                          env={**os.environ, "KUBERNETES_EXEC_INFO": info})
    assert json.loads(beta.stdout)["apiVersion"] == "client.authentication.k8s.io/v1beta1"


def test_near_expiry_the_refresh_token_is_used_and_rotated(testbed_bin: Path, tmp_path: Path) -> None:
    from lattice_dev import free_port

    short = start_hydra(testbed_bin, tmp_path / "hydra", id_token_ttl="8s")
    try:
        port = free_port()
        short.create_client(CLIENT, [f"http://127.0.0.1:{port}/callback"])
        cache = tmp_path / "cache"
        argv = [LATTICE, "token", *oidc_args(short, port, cache)]
        first, _ = login(short, argv)
        [entry] = list(cache.glob("*.json"))
        refresh_before = json.loads(entry.read_text())["refresh_token"]
        c = claims(first["status"]["token"])
        assert c["exp"] - c["iat"] == 8
        time.sleep(max(0.0, c["exp"] - 2 - time.time() + 0.3))  # into the last quarter of its life
        again = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        assert again.returncode == 0, again.stderr
        assert "Log in" not in again.stderr  # no new login: refreshed
        token = json.loads(again.stdout)["status"]["token"]
        assert token != first["status"]["token"] and claims(token)["email"] == "alice@example.com"
        refresh_after = json.loads(entry.read_text())["refresh_token"]
        assert refresh_after != refresh_before  # Hydra rotates refresh tokens; the cache keeps the new one
        # A cache holding a refresh token the issuer no longer accepts: a readable note, then a login.
        stored = json.loads(entry.read_text())
        entry.write_text(json.dumps({**stored, "id_token": first["status"]["token"], "refresh_token": "bogus"}))
        os.chmod(entry, 0o644)  # and readable by others: tightened, and said so
        _, err = login(short, argv, subject="alice")
        assert "no longer accepted" in err and "was readable by others" in err
        assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    finally:
        short.stop()


def test_login_refused_and_misconfiguration_are_readable(hydra: Hydra, client: str, redirect_port: int,
                                                        tmp_path: Path) -> None:
    run = Run([LATTICE, "token", *oidc_args(hydra, redirect_port, tmp_path / "c")])
    hydra.play_login(run.login_url(), "mallory", deny=True)
    code, out, err = run.finish()
    assert code == 1 and not out and "login refused by the issuer: access_denied" in err
    wrong = subprocess.run([LATTICE, "token", "--oidc-issuer-url", hydra.issuer + "/", "--oidc-client-id", CLIENT,
                            "--certificate-authority", str(hydra.ca_file), "--token-cache-dir", str(tmp_path / "d")],
                           capture_output=True, text=True, timeout=30)
    assert wrong.returncode == 1 and "names issuer" in wrong.stderr and "Traceback" not in wrong.stderr
    no_device = subprocess.run([LATTICE, "token", *oidc_args(hydra, redirect_port, tmp_path / "e"),
                                "--grant-type", "device-code"], capture_output=True, text=True, timeout=30)
    assert no_device.returncode == 1 and "does not offer the device authorization grant" in no_device.stderr


# ---- kubectl with lattice token as its exec plugin ----

def exec_kubeconfig(cp: ControlPlane, path: Path, args: list[str], api_version: str) -> Path:
    cfg = {"apiVersion": "v1", "kind": "Config",
           "clusters": [{"name": "c", "cluster": {"server": cp.server, "certificate-authority": str(cp.ca_file)}}],
           "users": [{"name": "u", "user": {"exec": {"apiVersion": api_version, "command": LATTICE, "args": args,
                                                    "interactiveMode": "IfAvailable"}}}],
           "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}], "current-context": "x"}
    path.write_text(yaml.safe_dump(cfg))
    return path


def kubectl(cp: ControlPlane, kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(cp.bin_dir / "kubectl"), f"--kubeconfig={kubeconfig}", *args], capture_output=True,
                          text=True, timeout=90, env={**os.environ, "KUBECACHEDIR": str(kubeconfig.parent / "kc")})


def reader(cp: ControlPlane) -> None:
    """Read-only access to a few kinds (the aggregated "view" role needs kube-controller-manager)."""
    cp.kubectl("create", "clusterrole", "reader", "--verb=get,list,watch", "--resource=configmaps,serviceaccounts")


@pytest.fixture(scope="module")
def oidc_plane(hydra: Hydra, client: str, testbed_bin: Path, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[ControlPlane]:
    args = [f"--oidc-issuer-url={hydra.issuer}", f"--oidc-client-id={CLIENT}", f"--oidc-ca-file={hydra.ca_file}",
            "--oidc-username-claim=email", "--oidc-username-prefix=-", "--oidc-groups-claim=groups",
            "--oidc-groups-prefix=oidc:"]
    cp = ControlPlane.start(tmp_path_factory.mktemp("oidc-plane"), controller_manager=False, upstream_crds=False,
                            bin_dir=testbed_bin, apiserver_args=args)
    try:
        reader(cp)
        cp.kubectl("create", "clusterrolebinding", "platform-read", "--clusterrole=reader", "--group=oidc:platform")
        yield cp
    finally:
        cp.stop()


def test_kubectl_logs_in_through_lattice_token_against_an_oidc_apiserver(
        hydra: Hydra, redirect_port: int, oidc_plane: ControlPlane, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    kubeconfig = exec_kubeconfig(oidc_plane, tmp_path / "kubeconfig", ["token", *oidc_args(hydra, redirect_port,
                                                                                           cache)],
                                 "client.authentication.k8s.io/v1")
    # No login yet: kubectl runs lattice token, which prints the login URL on kubectl's stderr.
    run = Run([str(oidc_plane.bin_dir / "kubectl"), f"--kubeconfig={kubeconfig}", "auth", "whoami", "-o", "json"],
              {"KUBECACHEDIR": str(tmp_path / "kc")})
    hydra.play_login(run.login_url(), "alice", email="alice@example.com", groups=["platform"], scopes=SCOPES)
    code, out, err = run.finish()
    assert code == 0, err
    user = json.loads(out)["status"]["userInfo"]
    assert user["username"] == "alice@example.com" and "oidc:platform" in user["groups"]
    # From now on the cached token: RBAC on the real API server applies to the OIDC user.
    beta = exec_kubeconfig(oidc_plane, tmp_path / "beta", ["token", *oidc_args(hydra, redirect_port, cache)],
                           "client.authentication.k8s.io/v1beta1")
    listed = kubectl(oidc_plane, beta, "get", "configmaps", "-n", "kube-system", "-o", "name")
    assert listed.returncode == 0, listed.stderr
    denied = kubectl(oidc_plane, beta, "create", "configmap", "x", "-n", "default")
    assert denied.returncode == 1 and 'User "alice@example.com" cannot create' in denied.stderr


@pytest.fixture(scope="module")
def sa_plane(testbed_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    cp = ControlPlane.start(tmp_path_factory.mktemp("sa-plane"), controller_manager=False, upstream_crds=False,
                            bin_dir=testbed_bin)
    try:
        cp.kubectl("create", "namespace", "lattice-system")
        cp.kubectl("create", "serviceaccount", "fleet-reader", "-n", "lattice-system")
        reader(cp)
        cp.kubectl("create", "clusterrolebinding", "fleet-reader", "--clusterrole=reader",
                   "--serviceaccount=lattice-system:fleet-reader")
        yield cp
    finally:
        cp.stop()


def test_service_account_token_through_the_token_request_api(sa_plane: ControlPlane, tmp_path: Path) -> None:
    out = subprocess.run([LATTICE, "token", "--kubeconfig", str(sa_plane.kubeconfig), "-s", "fleet-reader",
                          "-d", "2h", "--audience", "lattice-proxy"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    cred = json.loads(out.stdout)
    c = claims(cred["status"]["token"])
    assert c["sub"] == "system:serviceaccount:lattice-system:fleet-reader" and c["aud"] == ["lattice-proxy"]
    assert abs(c["exp"] - time.time() - 7200) < 60
    assert cred["status"]["expirationTimestamp"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(c["exp"]))
    missing = subprocess.run([LATTICE, "token", "--kubeconfig", str(sa_plane.kubeconfig), "-s", "nobody"],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "ServiceAccount lattice-system/nobody not found" in missing.stderr
    short = subprocess.run([LATTICE, "token", "--kubeconfig", str(sa_plane.kubeconfig), "-d", "5m"],
                           capture_output=True, text=True, timeout=60)
    assert short.returncode == 2 and "at least 10m" in short.stderr
    # A caller that may not mint tokens gets told which permission is missing.
    viewer = sa_plane.write_kubeconfig(tmp_path / "viewer", user="viewer")
    denied = subprocess.run([LATTICE, "token", "--kubeconfig", str(viewer), "-s", "fleet-reader"],
                            capture_output=True, text=True, timeout=60)
    assert denied.returncode == 1 and "needs 'create' on serviceaccounts/token" in denied.stderr


def test_kubectl_uses_service_account_tokens_from_lattice_token(sa_plane: ControlPlane, tmp_path: Path) -> None:
    kubeconfig = exec_kubeconfig(sa_plane, tmp_path / "kubeconfig",
                                 ["token", f"--kubeconfig={sa_plane.kubeconfig}",
                                  "--service-account=lattice-system/fleet-reader"],  # the proxy's kubeconfig form
                                 "client.authentication.k8s.io/v1beta1")
    who = kubectl(sa_plane, kubeconfig, "auth", "whoami", "-o", "json")
    assert who.returncode == 0, who.stderr
    assert json.loads(who.stdout)["status"]["userInfo"]["username"] == \
        "system:serviceaccount:lattice-system:fleet-reader"
    assert kubectl(sa_plane, kubeconfig, "get", "serviceaccounts", "-n", "lattice-system").returncode == 0
    assert kubectl(sa_plane, kubeconfig, "delete", "serviceaccount", "fleet-reader", "-n",
                   "lattice-system").returncode == 1
    # A kubeconfig whose exec plugin is lattice token reading that same kubeconfig: stopped, not a fork bomb.
    loop = exec_kubeconfig(sa_plane, tmp_path / "loop", ["token", f"--kubeconfig={tmp_path / 'loop'}"],
                           "client.authentication.k8s.io/v1")
    looped = subprocess.run([LATTICE, "token", "--kubeconfig", str(loop)], capture_output=True, text=True, timeout=60)
    assert looped.returncode == 1 and "levels deep" in looped.stderr
