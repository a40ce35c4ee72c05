"""A fleet on loopback for the API proxy tests and bench/proxy.py: three real control planes in a
chain (root -> child -> grandchild) with real lattice-cell / lattice-operator / lattice-agent
processes, KWOK as the grandchild's node emulator (kubelet endpoints for logs, exec, attach and
port-forward), Ory Hydra as a real OIDC issuer (over TLS) and kube-apiserver as the ServiceAccount
issuer. Recipes: docs/testbed.md (KWOK, Hydra)."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import secrets
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import attrs
import httpx
import yaml
from tunnel_procs import CellProc, Proc, bootstrap, start_agent, start_cell, start_operator

from lattice_dev import ControlPlane, free_port
from lattice_dev.certs import cert_pem, issue, new_ca
from lattice_dev.crd_files import lattice_crds

ROOT = Path(__file__).resolve().parents[2]
KWOK_NODE = "kwok-node-0"
DEMO = "demo"
OIDC_CLIENT = "lattice-cli"
REDIRECT = "http://127.0.0.1:8000/callback"  # id_token(): nothing listens there, the flow stops at the redirect
# `lattice token`'s default loopback redirects (the port of the first is tried first, then the second)
LOGIN_REDIRECTS = [REDIRECT, "http://127.0.0.1:18000/callback"]


# ---------------------------------------------------------------- KWOK

def kwok_config(workdir: Path, forward_port: int) -> Path:
    """ClusterExec/Logs/Attach/PortForward for every pod (kwok.x-k8s.io/v1alpha1, no CRDs)."""
    exec_dir = workdir / "exec-root"
    exec_dir.mkdir(parents=True, exist_ok=True)
    (exec_dir / "hello.txt").write_text("hello from the grandchild\n")
    line = "2026-12-06T05:00:00.000000000Z stdout F {}\n"
    (workdir / "pod.log").write_text(line.format("first log line"))
    (workdir / "attach.log").write_text(line.format("attached output"))
    docs = [
        {"kind": "ClusterExec", "apiVersion": "kwok.x-k8s.io/v1alpha1", "metadata": {"name": "exec-local"},
         "spec": {"execs": [{"local": {"workDir": str(exec_dir),
                                       "envs": [{"name": "KWOK_TEST", "value": "from-kwok"}]}}]}},
        {"kind": "ClusterLogs", "apiVersion": "kwok.x-k8s.io/v1alpha1", "metadata": {"name": "logs"},
         "spec": {"logs": [{"logsFile": str(workdir / "pod.log"), "follow": True}]}},
        {"kind": "ClusterAttach", "apiVersion": "kwok.x-k8s.io/v1alpha1", "metadata": {"name": "attach"},
         "spec": {"attaches": [{"logsFile": str(workdir / "attach.log")}]}},
        {"kind": "ClusterPortForward", "apiVersion": "kwok.x-k8s.io/v1alpha1", "metadata": {"name": "port-forward"},
         "spec": {"forwards": [{"target": {"address": "127.0.0.1", "port": forward_port}}]}},
    ]
    path = workdir / "kubelet.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return path


def start_kwok(cp: ControlPlane, workdir: Path, bin_dir: Path, forward_port: int) -> Proc:
    stages = bin_dir.parent / "share" / "kwok" / "stages"
    port = free_port()
    argv = [str(bin_dir / "kwok"), f"--kubeconfig={cp.kubeconfig}", "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake", "--node-ip=127.0.0.1",
            f"--node-port={port}", "-c", str(kwok_config(workdir, forward_port))]
    for stage in sorted(stages.glob("*.yaml")):
        argv += ["-c", str(stage)]
    proc = Proc("kwok", argv, workdir / "kwok.log", 0).start()
    cp.apply({"apiVersion": "v1", "kind": "Node", "metadata": {
        "name": KWOK_NODE, "annotations": {"kwok.x-k8s.io/node": "fake"}, "labels": {"type": "kwok"}}})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        node = cp.get_json("node", KWOK_NODE)
        if any(c["type"] == "Ready" and c["status"] == "True" for c in node.get("status", {}).get("conditions", [])):
            return proc
        time.sleep(0.2)
    raise AssertionError(f"kwok node not Ready:\n{proc.tail()}")


def kwok_pod(name: str, namespace: str = DEMO) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
            "spec": {"nodeName": KWOK_NODE, "containers": [{"name": "main", "image": "fake/app:1"}]}}


def wait_pod_running(cp: ControlPlane, name: str, namespace: str = DEMO, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pod = cp.get_json("pod", name, "-n", namespace)
        if pod.get("status", {}).get("phase") == "Running":
            return
        time.sleep(0.2)
    raise AssertionError(f"pod {namespace}/{name} is not Running")


class EchoHttpServer:
    """What kubectl port-forward reaches through KWOK's ClusterPortForward: a tiny HTTP server."""

    def __init__(self) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = f"forwarded {self.path}".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


# ---------------------------------------------------------------- Hydra

@attrs.define
class Hydra:
    proc: Proc
    public_url: str
    admin_url: str
    ca_pem: bytes

    def client(self) -> httpx.Client:
        return httpx.Client(verify=_ssl(self.ca_pem), timeout=30)

    def register_client(self, client_id: str = OIDC_CLIENT) -> None:
        with self.client() as c:
            r = c.post(f"{self.admin_url}/admin/clients", json={
                "client_id": client_id, "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
                "scope": "openid offline_access email groups", "redirect_uris": LOGIN_REDIRECTS})
            assert r.status_code in (201, 409), r.text

    def id_token(self, subject: str, claims: Mapping[str, Any], client_id: str = OIDC_CLIENT) -> str:
        """A real ID token through Hydra's authorization-code flow with PKCE, the login and consent
        UIs played through the admin API (docs/testbed.md)."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        with self.client() as c:
            query = urlencode({"client_id": client_id, "response_type": "code", "scope": "openid offline_access",
                               "redirect_uri": REDIRECT, "state": secrets.token_hex(8), "nonce": secrets.token_hex(8),
                               "code_challenge": challenge, "code_challenge_method": "S256"})
            redirect = self._log_in(c, f"{self.public_url}/oauth2/auth?{query}", subject, claims)
            code = parse_qs(urlsplit(redirect).query)["code"][0]
            r = c.post(f"{self.public_url}/oauth2/token", data={
                "grant_type": "authorization_code", "client_id": client_id, "code": code,
                "redirect_uri": REDIRECT, "code_verifier": verifier})
            assert r.status_code == 200, r.text
            return str(r.json()["id_token"])

    def play_browser(self, auth_url: str, subject: str, claims: Mapping[str, Any]) -> httpx.Response:
        """Be the browser of a `lattice token` login: follow `auth_url`, accept login and consent as
        `subject` with `claims` in the ID token, then call the command's loopback redirect."""
        with self.client() as c:
            callback = self._log_in(c, auth_url, subject, claims)
        return httpx.get(callback, timeout=15)

    def _log_in(self, c: httpx.Client, auth_url: str, subject: str, claims: Mapping[str, Any]) -> str:
        """Hydra's login and consent UIs, played through its admin API: accept `subject`, grant the
        scopes the request asked for, `claims` in the ID token. Returns the redirect to the client."""
        r = c.get(auth_url)
        login = parse_qs(urlsplit(r.headers["location"]).query)["login_challenge"][0]
        r = c.put(f"{self.admin_url}/admin/oauth2/auth/requests/login/accept",
                  params={"login_challenge": login}, json={"subject": subject})
        r = c.get(r.json()["redirect_to"])
        consent = parse_qs(urlsplit(r.headers["location"]).query)["consent_challenge"][0]
        asked = c.get(f"{self.admin_url}/admin/oauth2/auth/requests/consent",
                      params={"consent_challenge": consent}).json()["requested_scope"]
        r = c.put(f"{self.admin_url}/admin/oauth2/auth/requests/consent/accept",
                  params={"consent_challenge": consent},
                  json={"grant_scope": asked, "session": {"id_token": dict(claims)}})  # the user consents
        r = c.get(r.json()["redirect_to"])
        return str(r.headers["location"])


def _ssl(ca_pem: bytes) -> Any:
    import ssl

    return ssl.create_default_context(cadata=ca_pem.decode())


def start_hydra(workdir: Path, bin_dir: Path) -> Hydra:
    ca, ca_key = new_ca("hydra-test-ca")
    crt, key = issue(ca, ca_key, "hydra", dns=["localhost"], ips=["127.0.0.1"], server=True)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "tls.crt").write_bytes(crt)
    (workdir / "tls.key").write_bytes(key)
    pub, adm = free_port(), free_port()
    public_url = f"https://127.0.0.1:{pub}"
    env = {**os.environ, "DSN": "memory", "URLS_SELF_ISSUER": public_url, "URLS_LOGIN": f"{public_url}/login-ui",
           "URLS_CONSENT": f"{public_url}/consent-ui", "STRATEGIES_ACCESS_TOKEN": "jwt",
           "SECRETS_SYSTEM": secrets.token_hex(24), "SERVE_PUBLIC_HOST": "127.0.0.1", "SERVE_PUBLIC_PORT": str(pub),
           "SERVE_ADMIN_HOST": "127.0.0.1", "SERVE_ADMIN_PORT": str(adm), "SERVE_TLS_ENABLED": "true",
           "SERVE_TLS_CERT_PATH": str(workdir / "tls.crt"), "SERVE_TLS_KEY_PATH": str(workdir / "tls.key"),
           "LOG_LEVEL": "warn"}
    log = (workdir / "hydra.log").open("ab")
    popen = subprocess.Popen([str(bin_dir / "hydra"), "serve", "all", "--dev", "--sqa-opt-out"], env=env,
                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    proc = Proc("hydra", [], workdir / "hydra.log", 0, popen)
    hydra = Hydra(proc, public_url, f"https://127.0.0.1:{adm}", cert_pem(ca))
    deadline = time.monotonic() + 30
    with hydra.client() as c:
        while True:
            try:
                if c.get(f"{hydra.admin_url}/health/ready").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or popen.poll() is not None:
                raise AssertionError(f"hydra did not start:\n{proc.tail()}")
            time.sleep(0.1)
    hydra.register_client()
    return hydra


# ---------------------------------------------------------------- the fleet

@attrs.define
class Fleet:
    workdir: Path
    bin_dir: Path
    planes: dict[str, ControlPlane]
    procs: dict[str, Proc]
    hydra: Hydra
    echo: EchoHttpServer
    kwok_dir: Path

    @property
    def root(self) -> CellProc:
        proc = self.procs["root"]
        assert isinstance(proc, CellProc)
        return proc

    @property
    def proxy_url(self) -> str:
        return f"https://127.0.0.1:{self.root.api_proxy_port}"

    def ca_file(self) -> Path:
        path = self.workdir / "cell-ca.crt"
        if not path.exists():
            path.write_bytes(self.root.ca_bundle().trust_pem())
        return path

    def http(self, token: str | None = None, timeout: float = 30) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.proxy_url, verify=_ssl(self.ca_file().read_bytes()), headers=headers,
                            timeout=timeout)

    def kubeconfig(self, name: str, token: str, cluster: str = "grandchild") -> Path:
        """A kubeconfig for kubectl through the proxy to `cluster` with a bearer token."""
        path = self.workdir / "kubeconfigs" / f"{name}-{cluster}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": cluster, "cluster": {"server": f"{self.proxy_url}/clusters/{cluster}",
                                                       "certificate-authority": str(self.ca_file())}}],
            "users": [{"name": name, "user": {"token": token}}],
            "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": name, "namespace": DEMO}}],
            "current-context": cluster,
        }))
        return path

    def kubectl(self, kubeconfig: Path, *args: str, input: str | None = None, timeout: float = 60,
                env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin_dir / "kubectl"), f"--kubeconfig={kubeconfig}", *args], input=input,
                              capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "KUBECACHEDIR": str(self.workdir / "kube-cache"), **(env or {})})

    def sa_token(self, namespace: str, name: str, audience: str = "lattice-proxy", plane: str = "root") -> str:
        return self.planes[plane].kubectl("create", "token", name, "-n", namespace, f"--audience={audience}",
                                          "--duration=1h").stdout.strip()

    def policy(self, name: str, text: str, priority: int = 0) -> None:
        self.planes["root"].apply({"apiVersion": "lattice.dev/v1alpha1", "kind": "CedarPolicy",
                                   "metadata": {"name": name, "namespace": "lattice-system"},
                                   "spec": {"policies": text, "priority": priority}})

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.kill()
        self.echo.stop()
        for cp in reversed(list(self.planes.values())):
            cp.stop()


def oidc_provider(hydra: Hydra) -> dict[str, Any]:
    return {"apiVersion": "lattice.dev/v1alpha1", "kind": "OIDCProvider",
            "metadata": {"name": "hydra", "namespace": "lattice-system"},
            "spec": {"issuerUrl": hydra.public_url, "clientId": OIDC_CLIENT, "usernameClaim": "email",
                     "groupsClaim": "groups", "extraScopes": ["email", "groups"], "caBundle": hydra.ca_pem.decode()}}


def start_fleet(workdir: Path, bin_dir: Path, names: Sequence[str] = ("root", "child", "grandchild"),
                root_extra: Sequence[str] = ()) -> Fleet:
    """Three planes, the cells and agents connected, KWOK in the last, Hydra, the root's Lattice
    CRDs and proxy RBAC applied (as `kubectl apply -k manifests/` would), the OIDCProvider created."""
    logs = workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    planes: dict[str, ControlPlane] = {}
    procs: dict[str, Proc] = {}
    echo = EchoHttpServer()
    fleet = Fleet(workdir, bin_dir, planes, procs, None, echo, workdir / "kwok")  # type: ignore[arg-type]
    try:
        fleet.hydra = start_hydra(workdir / "hydra", bin_dir)
        procs["hydra"] = fleet.hydra.proc
        for name in names:
            planes[name] = ControlPlane.start(workdir / f"cp-{name}", controller_manager=False, upstream_crds=False,
                                              bin_dir=bin_dir, extra_crds=lattice_crds() if name == names[0] else ())
        root = planes[names[0]]
        root.kubectl("create", "namespace", "lattice-system")
        root.apply((ROOT / "manifests" / "proxy-rbac.yaml").read_text())
        procs[names[0]] = start_cell(names[0], root, logs, extra=list(root_extra))
        parent = procs[names[0]]
        for name in names[1:-1]:
            assert isinstance(parent, CellProc)
            bootstrap(parent, name, planes[name])
            procs[name] = parent = start_operator(name, planes[name], logs)
        leaf = names[-1]
        assert isinstance(parent, CellProc)
        bootstrap(parent, leaf, planes[leaf])
        procs[leaf] = start_agent(planes[leaf], logs, leaf)
        fleet.root.wait(lambda c: c.reachable(leaf), 60, f"routing to {leaf}")  # type: ignore[attr-defined]
        root.apply(oidc_provider(fleet.hydra))
        planes[leaf].kubectl("create", "namespace", DEMO)
        procs["kwok"] = start_kwok(planes[leaf], fleet.kwok_dir, bin_dir, echo.port)
        return fleet
    except BaseException:
        fleet.stop()
        raise


def wait_until(predicate: Any, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached in {timeout}s")




# ---------------------------------------------------------------- the JWT signer for invalid tokens

class CraftedIssuer:
    """Only to craft the *invalid* tokens (expired, not yet valid, wrong audience, unknown key, alg
    none, HMAC with the public key): an OIDC discovery document and JWKS over HTTPS whose private
    keys the test holds. Valid tokens in the tests come from Hydra."""

    def __init__(self, workdir: Path) -> None:
        import ssl

        import jwt
        from cryptography.hazmat.primitives.asymmetric import rsa

        self._jwt = jwt
        self.keys = {"k1": rsa.generate_private_key(65537, 2048)}
        ca, ca_key = new_ca("crafted-issuer-ca")
        crt, key = issue(ca, ca_key, "crafted", ips=["127.0.0.1"], server=True)
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "crafted.crt").write_bytes(crt)
        (workdir / "crafted.key").write_bytes(key)
        self.ca_pem = cert_pem(ca)
        issuer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    doc: dict[str, Any] = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks"}
                elif self.path == "/jwks":
                    doc = {"keys": [issuer.jwk(kid) for kid in issuer.keys]}
                else:
                    self.send_error(404)
                    return
                body = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(workdir / "crafted.crt", workdir / "crafted.key")
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def jwk(self, kid: str) -> dict[str, Any]:
        from jwt.algorithms import RSAAlgorithm

        entry: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.keys[kid].public_key()))
        return {**entry, "kid": kid, "use": "sig", "alg": "RS256"}

    def rotate(self, kid: str) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.keys = {kid: rsa.generate_private_key(65537, 2048)}

    def claims(self, subject: str, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        return {"iss": self.url, "sub": subject, "aud": OIDC_CLIENT, "email": subject, "iat": now,
                "exp": now + 600, **overrides}

    def sign(self, claims: Mapping[str, Any], kid: str = "k1", key: Any = None, alg: str = "RS256") -> str:
        signing_key = key if key is not None else self.keys[kid]
        return str(self._jwt.encode(dict(claims), signing_key, algorithm=alg, headers={"kid": kid}))

    def provider(self) -> dict[str, Any]:
        return {"apiVersion": "lattice.dev/v1alpha1", "kind": "OIDCProvider",
                "metadata": {"name": "crafted", "namespace": "lattice-system"},
                "spec": {"issuerUrl": self.url, "clientId": OIDC_CLIENT, "usernameClaim": "email",
                         "caBundle": self.ca_pem.decode()}}

    def stop(self) -> None:
        self.server.shutdown()


# ---------------------------------------------------------------- who may do what in the tests

ACCESS = 'action == Lattice::Action::"AccessCluster"'
POLICIES = {
    "alice": f'permit(principal == Lattice::User::"alice@example.com", {ACCESS}, resource);',
    "bob": f'permit(principal == Lattice::User::"bob@example.com", {ACCESS}, resource);',
    "sre": f'permit(principal in Lattice::Group::"sre", {ACCESS}, resource);',
    "no-eve": f'forbid(principal == Lattice::User::"eve@example.com", {ACCESS}, resource);',
    "ci": f'permit(principal == Lattice::User::"system:serviceaccount:ci:deployer", {ACCESS}, resource);',
}
PODS = ("web", "idle", "cancel")


def demo_rbac(users: Sequence[str]) -> list[dict[str, Any]]:
    """On the grandchild: a Role in `demo` for everything kubectl's verbs need, bound to `users`."""
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "demo-all", "namespace": DEMO},
            "rules": [{"apiGroups": ["", "apps"], "verbs": ["*"],
                       "resources": ["pods", "pods/log", "pods/exec", "pods/attach", "pods/portforward",
                                     "configmaps", "deployments", "events"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "demo-all", "namespace": DEMO},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "demo-all"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": u} for u in users]}
    return [role, binding]


def prepare_access(fleet: Fleet) -> None:
    """Cedar policies on the root, RBAC and KWOK pods on the grandchild, ServiceAccount ci/deployer on
    the root (idempotent: every test module calls it)."""
    root, leaf = fleet.planes["root"], fleet.planes["grandchild"]
    for name, text in POLICIES.items():
        fleet.policy(name, text)
    leaf.apply(demo_rbac(["alice@example.com", "carol@example.com", "eve@example.com",
                          "system:serviceaccount:ci:deployer"]))
    for pod in PODS:
        leaf.apply(kwok_pod(pod))
    for pod in PODS:
        wait_pod_running(leaf, pod)
    root.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ci"}})
    root.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "deployer", "namespace": "ci"}})
