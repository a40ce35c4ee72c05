"""The tunnel with real processes: a lattice-cell and a lattice-agent, each in front of its own
kube-apiserver, real mTLS on loopback, bootstrap through the webhook."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from tunnel_procs import CellProc, Proc, bootstrap, start_agent, start_cell

from lattice_cell.capi_proxy import CAPI_GROUPS, CAPI_USER
from lattice_dev import ControlPlane
from lattice_proto import agent_pb2 as pb
from lattice_proto import agent_pb2_grpc
from lattice_tunnel import pki

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def planes(testbed_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ControlPlane, ...]]:
    started = []
    try:
        for name in ("root", "a"):
            started.append(
                ControlPlane.start(
                    tmp_path_factory.mktemp(f"cp-{name}"),
                    controller_manager=False,
                    upstream_crds=False,
                    bin_dir=testbed_bin,
                )
            )
        yield tuple(started)
    finally:
        for cp in started:
            cp.stop()


@pytest.fixture(scope="module")
def world(planes: tuple[ControlPlane, ...], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    cp_root, cp_a = planes
    logs = tmp_path_factory.mktemp("tunnel-logs")
    procs: list[Proc] = []
    try:
        cell = start_cell("root", cp_root, logs)
        procs.append(cell)
        bootstrap(cell, "a", cp_a)
        agent = start_agent(cp_a, logs, "a")
        procs.append(agent)
        cell.wait(lambda c: c.reachable("a"), 30, "routing to a")  # type: ignore[attr-defined]
        yield {"cell": cell, "agent": agent, "cp_root": cp_root, "cp_a": cp_a, "logs": logs, "procs": procs}
    finally:
        for p in procs:
            p.kill()


def direct(cp: ControlPlane) -> httpx.Client:
    return httpx.Client(
        base_url=cp.server,
        verify=ssl.create_default_context(cafile=str(cp.ca_file)),
        timeout=15,
        headers={"Authorization": f"Bearer {cp.token}"},
    )


def test_agent_bootstrapped_through_the_webhook(world: dict) -> None:
    cp_a: ControlPlane = world["cp_a"]
    creds = cp_a.get_json("-n", "lattice-system", "secret", "lattice-agent-credentials")
    assert creds["type"] == "kubernetes.io/tls"
    cert = base64.b64decode(creds["data"]["tls.crt"])
    assert pki.cluster_from_certificate(cert) == "a"
    # The CA lives in the root cluster's Secret and signed the agent's certificate.
    cell: CellProc = world["cell"]
    assert pki.load_certs(cert)[0].issuer == cell.ca_bundle().signer.cert.subject


def test_bootstrap_token_cases(world: dict) -> None:
    cell: CellProc = world["cell"]
    token = cell.issue_token("b")
    short = cell.issue_token("c", ttl=1)
    csr, _ = pki.generate_agent_csr("b")
    with cell.bootstrap_client() as c:
        url = "/api/clusters/b/manifests"
        assert c.get(url).status_code == 401
        assert c.get(url, headers={"Authorization": "Bearer " + "x" * 43}).status_code == 401
        assert c.get("/api/clusters/nope/manifests", headers={"Authorization": f"Bearer {token}"}).status_code == 404
        early = c.post(
            "/api/clusters/b/csr", json={"csr_pem": csr.decode()}, headers={"Authorization": f"Bearer {token}"}
        )
        assert early.status_code == 412
        assert c.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        replay = c.get(url, headers={"Authorization": f"Bearer {token}"})
        assert (replay.status_code, replay.json()) == (410, {"error": "token already used"})
        bad = c.post("/api/clusters/b/csr", json={"csr_pem": "nope"}, headers={"Authorization": f"Bearer {token}"})
        assert bad.status_code == 400
        ok = c.post("/api/clusters/b/csr", json={"csr_pem": csr.decode()}, headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200 and pki.cluster_from_certificate(ok.json()["certificate_pem"].encode()) == "b"
        time.sleep(1.2)
        expired = c.get("/api/clusters/c/manifests", headers={"Authorization": f"Bearer {short}"})
        assert (expired.status_code, expired.json()["error"]) == (401, "invalid or expired token")


def test_get_and_list_through_the_tunnel_equal_direct(world: dict) -> None:
    cell: CellProc = world["cell"]
    cp_a: ControlPlane = world["cp_a"]
    name = f"probe-{uuid.uuid4().hex[:6]}"
    cp_a.kubectl("create", "configmap", name, "-n", "default", f"--from-literal=k={name}")
    path = f"/api/v1/namespaces/default/configmaps/{name}"
    with cell.proxy_client() as proxy, direct(cp_a) as d:
        tunnelled = proxy.get(f"/clusters/a{path}")
        assert tunnelled.status_code == 200, tunnelled.text
        assert tunnelled.json() == d.get(path).json()
        listed = proxy.get("/clusters/a/api/v1/namespaces/default/configmaps", params={"limit": "500"})
        direct_list = d.get("/api/v1/namespaces/default/configmaps", params={"limit": "500"})
        assert listed.json()["items"] == direct_list.json()["items"]
        assert proxy.get(f"/clusters/a{path}-missing").status_code == 404  # API errors pass through
        assert proxy.delete(f"/clusters/a{path}").status_code == 405
        assert proxy.get("/clusters/unknown/api").status_code == 503


def test_capi_proxy_identity_is_read_only_in_the_target_rbac(world: dict) -> None:
    """The proxy refuses writes itself (405); the identity the agent impersonates for it is also
    read-only in the child's own RBAC (installed by the bootstrap manifests), so a bypass of the
    method check would still be refused by the child's API server."""
    cp_a: ControlPlane = world["cp_a"]
    as_proxy = ["--as", CAPI_USER, *(f"--as-group={g}" for g in CAPI_GROUPS)]
    for verb, resource, allowed in [("get", "secrets", "yes"), ("list", "nodes", "yes"), ("watch", "pods", "yes"),
                                    ("create", "configmaps", "no"), ("delete", "deployments.apps", "no"),
                                    ("patch", "nodes", "no"), ("impersonate", "users", "no")]:
        out = cp_a.kubectl("auth", "can-i", verb, resource, "-A", *as_proxy, check=False)
        assert out.stdout.strip() == allowed, (verb, resource, out.stdout, out.stderr)


def test_watch_streams_and_stops_at_the_agent_when_the_client_leaves(world: dict) -> None:
    cell: CellProc = world["cell"]
    agent: Proc = world["agent"]
    cp_a: ControlPlane = world["cp_a"]
    ns = f"w-{uuid.uuid4().hex[:6]}"
    cp_a.kubectl("create", "namespace", ns)
    with (
        cell.proxy_client(timeout=20) as proxy,
        proxy.stream("GET", f"/clusters/a/api/v1/namespaces/{ns}/configmaps", params={"watch": "true"}) as r,
    ):
        assert r.status_code == 200
        lines = r.iter_lines()
        agent.wait(lambda p: p.metric("lattice_agent_active_requests", 'kind="stream"') == 1, 10, "watching")
        for i in range(3):
            cp_a.kubectl("create", "configmap", f"cm{i}", "-n", ns)
            event = json.loads(next(lines))
            assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", f"cm{i}")
    agent.wait(lambda p: p.metric("lattice_agent_active_requests", 'kind="stream"') == 0, 15, "watch cancelled")


def test_certificate_from_another_ca_is_refused(world: dict) -> None:
    cell: CellProc = world["cell"]
    foreign = pki.CaBundle(pki.generate_ca())
    csr, key = pki.generate_agent_csr("a")
    cert = pki.sign_agent_csr(foreign, csr, "a")

    async def connect() -> grpc.StatusCode:
        creds = grpc.ssl_channel_credentials(cell.ca_bundle().trust_pem(), key, cert)
        async with grpc.aio.secure_channel(f"127.0.0.1:{cell.grpc_port}", creds) as ch:
            call = agent_pb2_grpc.LatticeAgentStub(ch).Connect()
            try:
                await asyncio.wait_for(call.read(), 10)
            except grpc.aio.AioRpcError as exc:
                return exc.code()
        return grpc.StatusCode.OK

    assert asyncio.run(connect()) == grpc.StatusCode.UNAVAILABLE
    with cell.proxy_client(bundle=foreign) as proxy, pytest.raises(httpx.HTTPError):
        proxy.get("/clusters/a/api")


def test_forged_cluster_name_is_refused(world: dict) -> None:
    cell: CellProc = world["cell"]
    bundle = cell.ca_bundle()
    csr, key = pki.generate_agent_csr("forger")
    cert = pki.sign_agent_csr(bundle, csr, "forger")

    async def forge() -> tuple[grpc.StatusCode, str]:
        creds = grpc.ssl_channel_credentials(bundle.trust_pem(), key, cert)
        async with grpc.aio.secure_channel(f"127.0.0.1:{cell.grpc_port}", creds) as ch:
            call = agent_pb2_grpc.LatticeAgentStub(ch).Connect()
            assert (await call.read()).welcome.agent_cluster == "forger"
            await call.write(pb.AgentMessage(cluster_name="a", ready=pb.AgentReady(agent_version="x")))
            try:
                while True:
                    await asyncio.wait_for(call.read(), 10)
            except grpc.aio.AioRpcError as exc:
                return exc.code(), exc.details() or ""

    code, details = asyncio.run(forge())
    assert code == grpc.StatusCode.PERMISSION_DENIED and "'a'" in details and "'forger'" in details
    # The real agent a is untouched.
    assert cell.agent_connected("a")


def _get_ok(cell: CellProc) -> bool:
    with cell.proxy_client(timeout=5) as proxy:
        return proxy.get("/clusters/a/api/v1/namespaces/default").status_code == 200


def test_killed_agent_reconnects_and_serves_again(world: dict) -> None:
    cell: CellProc = world["cell"]
    agent: Proc = world["agent"]
    agent.kill()
    cell.wait(lambda c: not c.agent_connected("a"), 15, "noticing the dead agent")  # type: ignore[attr-defined]
    with cell.proxy_client() as proxy:
        assert proxy.get("/clusters/a/api").status_code == 503
    agent.start()  # same cluster, credentials now come from its Secret
    cell.wait(lambda c: c.reachable("a") and _get_ok(c), 30, "serving a again")  # type: ignore[attr-defined]


def test_killed_cell_comes_back_and_agents_reconnect(world: dict) -> None:
    cell: CellProc = world["cell"]
    agent: Proc = world["agent"]
    agent.wait_ready(30)
    cell.kill()
    agent.wait(lambda p: p.get("/readyz").status_code == 503, 30, "noticing the dead cell")
    cell.start()  # same ports; the CA comes back from Secret lattice-ca
    cell.wait_ready(60)
    cell.wait(lambda c: c.reachable("a") and _get_ok(c), 30, "serving a after restart")  # type: ignore[attr-defined]
    agent.wait_ready(10)
