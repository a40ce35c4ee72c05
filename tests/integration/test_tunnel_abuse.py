"""The tunnel attacked: a real ``lattice-cell`` process in front of a real kube-apiserver, a real
``lattice-agent`` for cluster ``b``, and attackers speaking the protocol themselves over real mTLS
with certificates they obtained honestly through the bootstrap webhook.

Route capture (issue #13, finding 1) in every variant — a disconnected sibling, a connected one,
after a cell restart, a grandchild claimed by two children, the cell's own name, malformed names —
token reuse (finding 2), identity-header smuggling through the CAPI proxy (finding 3), forged
names, foreign CAs and path-traversal spellings.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from tunnel_procs import CellProc, Proc, bootstrap, start_agent, start_cell

from lattice_dev import ControlPlane
from lattice_proto import agent_pb2 as pb
from lattice_proto import agent_pb2_grpc
from lattice_tunnel import pki
from lattice_tunnel.identity_headers import is_identity_header

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

MARKER = b'{"answered-by":"attacker"}'


class RawAgent:
    """An agent that speaks the protocol itself: announces whatever it is told, records every
    request the cell sends it and answers each with ``MARKER``. Runs its own event loop."""

    def __init__(self, cell: CellProc, cluster: str, cert: bytes, key: bytes) -> None:
        self.cluster = cluster
        self.requests: list[pb.KubernetesRequest] = []
        self.closed: grpc.aio.AioRpcError | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._open = True
        try:
            self.welcome: pb.Welcome = self._run(self._connect(cell, cert, key)).result(15)
        except BaseException:
            self.close()
            raise

    def _run(self, coro: Any) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def _connect(self, cell: CellProc, cert: bytes, key: bytes) -> pb.Welcome:
        creds = grpc.ssl_channel_credentials(cell.ca_bundle().trust_pem(), key, cert)
        self._channel = grpc.aio.secure_channel(f"127.0.0.1:{cell.grpc_port}", creds)
        self._call = agent_pb2_grpc.LatticeAgentStub(self._channel).Connect()
        first = await self._call.read()
        await self._call.write(pb.AgentMessage(ready=pb.AgentReady(agent_version="raw", protocol_version=1)))
        self._reader = asyncio.ensure_future(self._read())
        self._beat = asyncio.ensure_future(self._heartbeats())
        return first.welcome

    async def _heartbeats(self) -> None:  # the cell drops a stream that misses three
        while True:
            await asyncio.sleep(0.5)
            await self._call.write(pb.AgentMessage(heartbeat=pb.Heartbeat(state=pb.AGENT_STATE_READY)))

    async def _read(self) -> None:
        try:
            while (cmd := await self._call.read()) is not grpc.aio.EOF:
                if cmd.WhichOneof("command") == "kubernetes_request":
                    req = cmd.kubernetes_request
                    self.requests.append(req)
                    await self._call.write(pb.AgentMessage(kubernetes_response=pb.KubernetesResponse(
                        request_id=req.request_id, status_code=200, body=MARKER, end=True,
                        headers=[pb.Header(name="content-type", value="application/json")])))
        except grpc.aio.AioRpcError as exc:
            self.closed = exc

    def announce(self, *names: str, full: bool = True, removed: bool = False) -> None:
        clusters = [pb.SubtreeCluster(name=self.cluster, phase="Ready", connected=True)] if full else []
        clusters += [pb.SubtreeCluster(name=n, parent=self.cluster, phase="Ready", connected=True, removed=removed)
                     for n in names]
        self._run(self._call.write(pb.AgentMessage(subtree_state=pb.SubtreeState(full=full, clusters=clusters)))) \
            .result(10)

    def send(self, msg: pb.AgentMessage) -> None:
        self._run(self._call.write(msg)).result(10)

    def close(self) -> None:
        if not self._open:
            return
        self._open = False

        async def shut() -> None:
            for task in ("_reader", "_beat"):
                if hasattr(self, task):
                    getattr(self, task).cancel()
            if hasattr(self, "_channel"):
                await self._channel.close()

        self._run(shut()).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def obtain_certificate(cell: CellProc, cluster: str) -> tuple[bytes, bytes, str]:
    """(cert, key, token) for ``cluster`` through the real bootstrap webhook."""
    token = cell.issue_token(cluster)
    auth = {"Authorization": f"Bearer {token}"}
    csr, key = pki.generate_agent_csr(cluster)
    with cell.bootstrap_client() as c:
        assert c.get(f"/api/clusters/{cluster}/manifests", headers=auth).status_code == 200
        r = c.post(f"/api/clusters/{cluster}/csr", json={"csr_pem": csr.decode()}, headers=auth)
    assert r.status_code == 200, r.text
    return r.json()["certificate_pem"].encode(), key, token


def route(cell: CellProc, name: str) -> dict[str, Any] | None:
    return next((c for c in cell.status()["subtree"] if c["name"] == name), None)


def refused(cell: CellProc, reason: str) -> float:
    return cell.metric("lattice_cell_route_claims_refused_total", f'reason="{reason}"')


def served_by(cell: CellProc, cluster: str) -> bytes:
    with cell.proxy_client(timeout=10) as proxy:
        return proxy.get(f"/clusters/{cluster}/api").content


@pytest.fixture(scope="module")
def plane(testbed_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    cp = ControlPlane.start(tmp_path_factory.mktemp("cp-abuse"), controller_manager=False, upstream_crds=False,
                            bin_dir=testbed_bin)
    try:
        yield cp
    finally:
        cp.stop()


@pytest.fixture(scope="module")
def world(plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The root cell; cluster b bootstrapped through the webhook and its real agent connected
    (b's agent uses the same API server: what it serves is a real Kubernetes answer)."""
    logs = tmp_path_factory.mktemp("abuse-logs")
    procs: list[Proc] = []
    try:
        cell = start_cell("root", plane, logs)
        procs.append(cell)
        token_b = bootstrap(cell, "b", plane)
        agent_b = start_agent(plane, logs, "b")
        procs.append(agent_b)
        cell.wait(lambda c: c.reachable("b"), 60, "routing to b")  # type: ignore[attr-defined]
        yield {"cell": cell, "agent_b": agent_b, "plane": plane, "logs": logs, "procs": procs, "token_b": token_b}
    finally:
        for p in procs:
            p.kill()


@pytest.fixture(scope="module")
def attacker(world: dict[str, Any]) -> Iterator[RawAgent]:
    cell: CellProc = world["cell"]
    cert, key, token = obtain_certificate(cell, "a")
    agent = RawAgent(cell, "a", cert, key)
    agent.token = token  # type: ignore[attr-defined]
    agent.announce()
    cell.wait(lambda c: c.reachable("a"), 30, "routing to a")  # type: ignore[attr-defined]
    yield agent
    agent.close()


# ---- route capture (finding 1) -----------------------------------------------------------------

def test_a_connected_siblings_route_cannot_be_captured(world: dict[str, Any], attacker: RawAgent) -> None:
    cell: CellProc = world["cell"]
    before = refused(cell, "direct-child")
    attacker.announce("b")
    cell.wait(lambda c: refused(c, "direct-child") > before, 15, "the claim counted")  # type: ignore[arg-type]
    assert route(cell, "b")["via"] == "b"  # type: ignore[index]
    assert served_by(cell, "b") != MARKER and b'"versions"' in served_by(cell, "b")


def test_reproduction_a_disconnected_siblings_route_cannot_be_captured(world: dict[str, Any],
                                                                       attacker: RawAgent) -> None:
    """Issue #13, finding 1: while b was disconnected, a announced [a, b]; the cell routed b to a,
    and kept doing so after b reconnected with its own certificate."""
    cell: CellProc = world["cell"]
    agent_b: Proc = world["agent_b"]
    agent_b.kill()
    cell.wait(lambda c: not c.reachable("b"), 30, "b disconnected")  # type: ignore[attr-defined]
    before = refused(cell, "direct-child")
    attacker.announce("b")
    cell.wait(lambda c: refused(c, "direct-child") > before, 15, "the claim counted")  # type: ignore[arg-type]
    assert route(cell, "b")["via"] == "b"  # type: ignore[index]
    with cell.proxy_client(timeout=10) as proxy:
        assert proxy.get("/clusters/b/api").status_code == 503  # down, not answered by a
    agent_b.start()
    cell.wait(lambda c: c.reachable("b"), 60, "b back")  # type: ignore[attr-defined]
    assert route(cell, "b")["via"] == "b"  # type: ignore[index]
    assert b'"versions"' in served_by(cell, "b")
    assert not any(r.target_cluster == "b" for r in attacker.requests)


def test_a_grandchild_cannot_be_claimed_by_two_children(world: dict[str, Any], attacker: RawAgent) -> None:
    cell: CellProc = world["cell"]
    cert, key, _ = obtain_certificate(cell, "c")
    other = RawAgent(cell, "c", cert, key)
    try:
        other.announce("g")
        cell.wait(lambda c: (r := route(c, "g")) is not None and r["via"] == "c", 15, "g via c")  # type: ignore[arg-type]
        before = refused(cell, "owned-by-sibling")
        attacker.announce("g")
        cell.wait(lambda c: refused(c, "owned-by-sibling") > before, 15, "the claim counted")  # type: ignore[arg-type]
        assert route(cell, "g")["via"] == "c"  # type: ignore[index]
    finally:
        other.close()
    cell.wait(lambda c: not c.reachable("c"), 30, "c disconnected")  # type: ignore[attr-defined]
    attacker.announce("g")  # c is gone, but g stays registered under it
    assert route(cell, "g")["via"] == "c"  # type: ignore[index]
    assert b"attacker" not in served_by(cell, "g")


def test_a_child_cannot_claim_its_parent_or_malformed_names(world: dict[str, Any], attacker: RawAgent) -> None:
    cell: CellProc = world["cell"]
    before = refused(cell, "own-cell"), refused(cell, "invalid-name")
    attacker.announce("root", "../b", "B", "x" * 200, "a.b")
    cell.wait(lambda c: refused(c, "invalid-name") >= before[1] + 4, 15, "the claims counted")  # type: ignore[arg-type]
    assert refused(cell, "own-cell") == before[0] + 1
    names = {c["name"] for c in cell.status()["subtree"]}
    assert "root" not in names and not any(n in names for n in ("../b", "B", "a.b"))


# ---- bootstrap tokens (finding 2) --------------------------------------------------------------

def test_reproduction_a_spent_token_signs_nothing_more(world: dict[str, Any]) -> None:
    """Issue #13, finding 2: after the manifests were fetched once, the same token obtained three
    certificates for cluster a with three different keys."""
    cell: CellProc = world["cell"]
    token = cell.issue_token("t")
    auth = {"Authorization": f"Bearer {token}"}
    with cell.bootstrap_client() as c:
        assert c.get("/api/clusters/t/manifests", headers=auth).status_code == 200
        answers = [c.post("/api/clusters/t/csr", json={"csr_pem": pki.generate_agent_csr("t")[0].decode()},
                          headers=auth) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 410, 410]
        assert "token already used" in answers[1].json()["error"]
        assert c.get("/api/clusters/t/manifests", headers=auth).status_code == 410
        other = c.post("/api/clusters/b/csr", json={"csr_pem": pki.generate_agent_csr("b")[0].decode()},
                       headers=auth)
        assert other.status_code == 401  # a token is for its own cluster only
    record = world["plane"].get_json("-n", "lattice-system", "secret", "lattice-bootstrap-t")["data"]
    assert token.encode() not in b"".join(base64.b64decode(v) for v in record.values())  # hashed at rest
    assert base64.b64decode(record["csr-key-sha256"]) == pki.public_key_sha256(
        answers[0].json()["certificate_pem"].encode()).encode()


def test_the_token_does_not_live_on_after_bootstrap(world: dict[str, Any]) -> None:
    plane: ControlPlane = world["plane"]
    data = plane.get_json("-n", "lattice-system", "secret", "lattice-parent-config")["data"]
    assert "token" not in data and {"cluster", "grpc_endpoint", "ca.crt"} <= set(data)
    creds = plane.get_json("-n", "lattice-system", "secret", "lattice-agent-credentials")["data"]
    assert pki.cluster_from_certificate(base64.b64decode(creds["tls.crt"])) == "b"


# ---- identity headers (finding 3) --------------------------------------------------------------

SMUGGLED = {
    "X-Remote-User": "system:admin", "X-Remote-Group": "system:masters", "X-Remote-Extra-Scopes": "all",
    "X-HTTP-Method-Override": "DELETE", "X-HTTP-Method": "DELETE", "X-Method-Override": "DELETE",
    "Impersonate-User": "system:admin", "Impersonate-Group": "system:masters", "Impersonate-Uid": "0",
    "Impersonate-Extra-Scopes": "all", "Authorization": "Bearer stolen", "Cookie": "session=x",
    "X-Forwarded-For": "10.0.0.1", "X-Forwarded-User": "admin", "X-Forwarded-Groups": "system:masters",
    "X-Forwarded-Client-Cert": "By=spiffe://x", "X-Real-IP": "10.0.0.1", "Forwarded": "for=10.0.0.1",
    "X-Auth-Request-User": "admin", "X-Amzn-OIDC-Identity": "admin", "Remote-User": "admin",
}


def test_reproduction_identity_headers_never_reach_the_target(world: dict[str, Any], attacker: RawAgent) -> None:
    """Issue #13, finding 3: X-Remote-*, X-HTTP-Method-Override ... passed through the CAPI proxy."""
    cell: CellProc = world["cell"]
    if attacker.closed is not None:
        pytest.skip("the attacker's stream was closed by an earlier test")
    with cell.proxy_client(timeout=10) as proxy:
        r = proxy.get("/clusters/a/api/v1/namespaces", headers={**SMUGGLED, "Accept": "application/json"})
    assert r.content == MARKER
    seen = attacker.requests[-1]
    names = {h.name.lower() for h in seen.headers}
    assert not [n for n in names if is_identity_header(n)], names
    assert "accept" in names and seen.method == "GET"
    assert (seen.user, list(seen.groups)) == ("system:capi-proxy", ["lattice:capi-readers", "system:authenticated"])


def test_smuggled_headers_change_nothing_at_a_real_api_server(world: dict[str, Any]) -> None:
    cell: CellProc = world["cell"]
    with cell.proxy_client(timeout=10) as proxy:
        plain = proxy.get("/clusters/b/api/v1/namespaces/kube-system")
        smuggled = proxy.get("/clusters/b/api/v1/namespaces/kube-system", headers=SMUGGLED)
    assert plain.status_code == smuggled.status_code == 200
    assert plain.json()["metadata"]["uid"] == smuggled.json()["metadata"]["uid"]


# ---- forged names, foreign CAs, path traversal -------------------------------------------------

def test_a_message_naming_another_cluster_closes_the_stream(world: dict[str, Any]) -> None:
    cell: CellProc = world["cell"]
    cert, key, _ = obtain_certificate(cell, "f")
    forger = RawAgent(cell, "f", cert, key)
    try:
        forger.send(pb.AgentMessage(cluster_name="b", heartbeat=pb.Heartbeat()))
        cell.wait(lambda c: forger.closed is not None, 15, "the forger's stream closed")  # type: ignore[arg-type]
        assert forger.closed is not None and forger.closed.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        forger.close()
    assert cell.reachable("b")


def test_foreign_certificates_are_refused_everywhere(world: dict[str, Any]) -> None:
    cell: CellProc = world["cell"]
    foreign = pki.CaBundle(pki.generate_ca())
    csr, key = pki.generate_agent_csr("b")
    with pytest.raises(Exception):  # noqa: B017 - the handshake fails before any message
        RawAgent(cell, "b", pki.sign_agent_csr(foreign, csr, "b"), key)
    with cell.proxy_client(bundle=foreign) as proxy, pytest.raises(httpx.HTTPError):
        proxy.get("/clusters/b/api")
    with cell.proxy_client(cn="lattice-agent-b") as proxy:  # a cell-signed agent identity: not a CAPI client
        assert proxy.get("/clusters/b/api").status_code == 403
    assert cell.reachable("b")


TRAVERSALS = [
    "/clusters/a/../b/api", "/clusters/a/%2e%2e/b/api", "/clusters/a/.%2E/b/api", "/clusters/../clusters/b/api",
    "/clusters/./b/api", "/clusters/a/./../b/api", "/clusters/a/api/v1/../../../b/api",
    "/clusters/b%2F..%2Fa/api", "/clusters/a%2F..%2Fb/api", "/clusters//b/api", "/clusters/a/..%2Fb/api",
    "/%63lusters/b/api",
]


def raw_get(cell: CellProc, path: str) -> int:
    """GET ``path`` exactly as written (no client normalisation) over TLS with a CAPI client cert."""
    bundle = cell.ca_bundle()
    leaf = pki.issue_client_certificate(bundle, "capi-test")
    ctx = pki.client_ssl_context(bundle.trust_pem(), leaf.chain_pem, leaf.key_pem)
    ctx.check_hostname = False
    with socket.create_connection(("127.0.0.1", cell.proxy_port), timeout=10) as sock, \
            ctx.wrap_socket(sock, server_hostname="localhost") as tls:
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        head = b""
        while b"\r\n" not in head:
            chunk = tls.recv(4096)
            if not chunk:
                break
            head += chunk
    return int(head.split(b" ", 2)[1])


@pytest.mark.parametrize("path", TRAVERSALS)
def test_path_traversal_never_reaches_another_cluster(world: dict[str, Any], attacker: RawAgent, path: str) -> None:
    cell: CellProc = world["cell"]
    seen = len(attacker.requests)
    assert raw_get(cell, path) in (400, 404)
    assert len(attacker.requests) == seen


# ---- last: it restarts the cell ----------------------------------------------------------------

def test_after_a_cell_restart_a_registered_child_keeps_its_name(world: dict[str, Any], attacker: RawAgent) -> None:
    """The registrations (bootstrap records) are read before the cell accepts any agent."""
    cell: CellProc = world["cell"]
    agent_b: Proc = world["agent_b"]
    agent_b.kill()
    cell.kill()
    attacker.close()
    cell.start()
    cell.wait_ready(60)
    cert, key, _ = obtain_certificate(cell, "a2")
    again = RawAgent(cell, "a2", cert, key)
    try:
        again.announce("b", "d")
        cell.wait(lambda c: route(c, "d") is not None, 15, "d via a2")  # type: ignore[arg-type]
        assert route(cell, "b") is None  # b is registered: not a2's to claim, even before b reconnects
        agent_b.start()
        cell.wait(lambda c: c.reachable("b"), 60, "b back")  # type: ignore[attr-defined]
        assert route(cell, "b")["via"] == "b" and b'"versions"' in served_by(cell, "b")  # type: ignore[index]
    finally:
        again.close()
