"""lattice_cell.proxy.front (+ upgrades, service): the API proxy of an in-process cell over real
HTTPS and real gRPC, a leaf agent whose API server switches protocols (tunnel_support.UpgradeServer),
tokens signed with keys the test holds (the issuer's key cache is filled directly)."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from lattice_agent.agent import Agent
from lattice_cell.cell import Cell
from lattice_cell.proxy import ApiProxyConfig
from lattice_cell.proxy.oidc import IssuerSettings
from lattice_tunnel.kube_exec import KubeExecutor
from lattice_tunnel.kube_target import KubeTarget
from tests.unit.tunnel_support import FakeApi, UpgradeServer, agent_config, eventually, running, start_cell

pytestmark = pytest.mark.timeout(60)
ISSUER = "https://sso.example.com"
KEY = rsa.generate_private_key(65537, 2048)
ACCESS = 'action == Lattice::Action::"AccessCluster"'


def token(email: str, groups: tuple[str, ...] = ()) -> str:
    now = int(time.time())
    return jwt.encode({"iss": ISSUER, "aud": "cli", "sub": email, "email": email, "groups": list(groups),
                       "iat": now, "exp": now + 300}, KEY, algorithm="RS256", headers={"kid": "k"})


@pytest_asyncio.fixture(loop_scope="function")
async def proxied() -> AsyncIterator[tuple[Cell, UpgradeServer]]:
    root = await start_cell("root", api_proxy=ApiProxyConfig(port=0, sa_audiences=[]))
    assert root.api_proxy is not None
    issuer, = await root.api_proxy.authn.set_providers(
        [IssuerSettings("sso", ISSUER, "cli", ("cli",), username_claim="email")])
    issuer.keys = {"k": jwt.PyJWK(json.loads(RSAAlgorithm.to_jwk(KEY.public_key())))}
    issuer.fetched_at = time.monotonic()
    root.api_proxy.authz.set_policies([{"metadata": {"name": "p", "namespace": "lattice-system"}, "spec": {
        "policies": f'permit(principal == Lattice::User::"alice@x", {ACCESS}, resource);'}}])
    server = await UpgradeServer().start()
    leaf_exec = KubeExecutor(KubeTarget(server=f"http://127.0.0.1:{server.port}", token="leaf"))
    try:
        async with running(Agent(agent_config(root, "leaf"), local=leaf_exec)):
            await eventually(lambda: root.router.knows("leaf"))
            yield root, server
    finally:
        await leaf_exec.aclose()
        await server.stop()
        await root.stop()


def client(cell: Cell, tok: str | None = None) -> httpx.AsyncClient:
    ctx = ssl.create_default_context(cadata=cell.ca().trust_pem().decode())
    return httpx.AsyncClient(base_url=f"https://localhost:{cell.api_proxy_port}", verify=ctx, timeout=10,
                             headers={"Authorization": f"Bearer {tok}"} if tok else {})


async def test_requests_carry_the_authenticated_identity(proxied: tuple[Cell, UpgradeServer]) -> None:
    root, _ = proxied
    async with client(root) as anon:
        assert (await anon.get("/healthz")).text == "ok"
        assert (await anon.get("/auth/providers")).json()["oidc"][0]["issuerUrl"] == ISSUER
        r = await anon.get("/clusters/root/api")
        assert r.status_code == 401 and r.json()["message"].startswith("authentication failed")
    async with client(root, token("alice@x", ("dev",))) as alice:
        r = await alice.get("/clusters/root/api/v1/pods", headers={"X-Remote-User": "admin"})
        assert r.status_code == 200 and r.json()["user"] == "alice@x"
        local = root.router.local
        assert isinstance(local, FakeApi)
        seen = local.seen[-1]
        assert seen.groups == ("dev", "system:authenticated")
        assert dict(seen.extra) == {"lattice.dev/authenticated-by": ("oidc:sso",),
                                    "lattice.dev/proxy-cluster": ("root",)}
        assert not any(k.lower() in ("authorization", "x-remote-user") for k, _ in seen.headers)
        assert (await alice.get("/clusters/root/api", headers={"Impersonate-User": "admin"})).status_code == 403
        assert [i["name"] for i in (await alice.get("/clusters")).json()["items"]] == ["root", "leaf"]
        assert (await alice.get("/clusters/leaf")).json()["depth"] == 1
    async with client(root, token("mallory@x")) as mallory:
        r = await mallory.get("/clusters/root/api")
        assert r.status_code == 403 and "cannot access cluster 'root'" in r.json()["message"]


async def raw_upgrade(cell: Cell, tok: str, extra: str = "") -> tuple[asyncio.StreamReader, asyncio.StreamWriter, str]:
    ctx = ssl.create_default_context(cadata=cell.ca().trust_pem().decode())
    reader, writer = await asyncio.open_connection("127.0.0.1", cell.api_proxy_port, ssl=ctx,
                                                   server_hostname="localhost")
    writer.write(f"POST /clusters/leaf/api/v1/namespaces/d/pods/p/exec?command=cat HTTP/1.1\r\nHost: localhost\r\n"
                 f"Authorization: Bearer {tok}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n{extra}\r\n".encode()
                 + b"early bytes")
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    return reader, writer, head


async def test_an_upgrade_is_relayed_byte_for_byte(proxied: tuple[Cell, UpgradeServer]) -> None:
    root, server = proxied
    reader, writer, head = await raw_upgrade(root, token("alice@x"))
    assert head.startswith("HTTP/1.1 101 ") and "Upgrade: SPDY/3.1" in head
    assert await reader.readexactly(11) == b"EARLY BYTES"  # sent right behind the request head
    writer.write(b"more")
    assert await reader.readexactly(4) == b"MORE"
    assert server.heads[-1]["impersonate-user"] == ["alice@x"]
    writer.close()  # the client goes away: the target's connection is closed too
    await eventually(lambda: server.open_connections == 0)


async def test_a_refused_upgrade_is_answered_and_closed(proxied: tuple[Cell, UpgradeServer]) -> None:
    root, server = proxied
    for tok, extra, code in ((token("mallory@x"), "", "403"), ("garbage", "", "401"),
                             (token("alice@x"), "Impersonate-User: admin\r\n", "403")):
        reader, writer, head = await raw_upgrade(root, tok, extra)
        assert head.split()[1] == code, head
        fields = dict(line.lower().split(": ", 1) for line in head.split("\r\n")[1:] if ": " in line)
        length = int(fields["content-length"])
        assert b'"kind":"Status"' in await reader.readexactly(length)
        assert await reader.read() == b""  # closed
        writer.close()
    assert server.heads == []  # none of them reached the target


def client_from(cell: Cell, source: str, tok: str) -> httpx.AsyncClient:
    """A client whose connections leave from `source` (any 127.x address reaches the proxy on 127.0.0.1)."""
    ctx = ssl.create_default_context(cadata=cell.ca().trust_pem().decode())
    ctx.check_hostname = False  # the certificate names localhost; the test dials 127.0.0.1 from `source`
    return httpx.AsyncClient(base_url=f"https://127.0.0.1:{cell.api_proxy_port}", timeout=10,
                             transport=httpx.AsyncHTTPTransport(verify=ctx, local_address=source),
                             headers={"Authorization": f"Bearer {tok}"})


async def test_a_flood_of_bad_tokens_is_throttled_by_peer_address(proxied: tuple[Cell, UpgradeServer]) -> None:
    root, _ = proxied
    async with client_from(root, "127.0.0.21", "garbage") as flood:
        codes = [(await flood.get("/clusters/root/api")).status_code for _ in range(20)]
        assert codes == [401] * 20  # the shipped allowance: 20
        # Another address claimed in a header changes nothing: the key is the connection's peer.
        r = await flood.get("/clusters/root/api", headers={"X-Forwarded-For": "198.51.100.9",
                                                           "X-Real-IP": "198.51.100.9", "Forwarded": "for=1.2.3.4"})
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) in (2, 3)  # one try back every 60 s / 20
        status = r.json()
        assert status["kind"] == "Status" and status["reason"] == "TooManyRequests" and status["code"] == 429
        assert "authentication failures are throttled" in status["message"] and "127.0.0.21" in status["message"]
        assert status["details"]["retryAfterSeconds"] == int(r.headers["retry-after"])
        assert "garbage" not in r.text
    async with client_from(root, "127.0.0.21", token("alice@x")) as same:
        assert (await same.get("/clusters")).status_code == 429  # a token never seen: maybe a guess
    async with client_from(root, "127.0.0.22", token("alice@x")) as other:
        assert (await other.get("/clusters")).status_code == 200  # another address is served
    heads = []  # upgrades (exec, attach, port-forward) from 127.0.0.1: its own allowance, then 429 too
    for _ in range(21):
        _reader, writer, head = await raw_upgrade(root, "garbage")
        heads.append(head)
        writer.close()
    assert [h.split()[1] for h in heads] == ["401"] * 20 + ["429"]
    assert "retry-after: " in heads[-1].lower()
