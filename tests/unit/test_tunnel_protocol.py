"""The tunnel end to end in one process: real gRPC + mTLS on loopback, fake API servers."""

import asyncio
import datetime

import grpc
import httpx
import pytest
import pytest_asyncio
from prometheus_client import REGISTRY

from lattice_agent.agent import Agent
from lattice_cell import servicer as servicer_module
from lattice_cell.cell import Cell
from lattice_proto import agent_pb2 as pb
from lattice_proto import agent_pb2_grpc
from lattice_tunnel import pki
from lattice_tunnel.kube_request import MAX_BODY, ClusterNotFound, KubeRequest, ResponseStream, TunnelTimeout
from tests.unit.tunnel_support import (
    FakeApi,
    Relay,
    agent_config,
    eventually,
    proxy_client,
    running,
    start_cell,
)

pytestmark = pytest.mark.timeout(60)


@pytest_asyncio.fixture(loop_scope="function")
async def cell():  # type: ignore[no-untyped-def]
    c = await start_cell("root")
    yield c
    await c.stop()


def connected(cell: Cell, name: str) -> bool:
    route = cell.subtree.lookup(name)
    return route is not None and cell.subtree.reachable(route)


async def test_get_through_proxy_carries_the_capi_identity(cell: Cell) -> None:
    api = FakeApi("a")
    async with running(Agent(agent_config(cell, "a"), local=api)), proxy_client(cell) as c:
        await eventually(lambda: connected(cell, "a"))
        r = await c.get("/clusters/a/api/v1/pods", params={"limit": "5"},
                        headers={"Impersonate-User": "evil", "Authorization": "Bearer stolen"})
    assert r.status_code == 200 and r.json()["cluster"] == "a"
    seen = api.seen[-1]
    assert (seen.path, seen.query, seen.user) == ("/api/v1/pods", "limit=5", "system:capi-proxy")
    # A read-only group (bound to a get/list/watch ClusterRole on the target), never system:masters.
    assert seen.groups == ("lattice:capi-readers", "system:authenticated")
    # Caller credentials and impersonation headers never enter the tunnel.
    assert not any(k.lower() in ("impersonate-user", "authorization") for k, _ in seen.headers)


async def test_proxy_is_read_only_and_503_without_agent(cell: Cell) -> None:
    async with proxy_client(cell) as c:
        assert (await c.delete("/clusters/a/api/v1/namespaces/x")).status_code == 405
        r = await c.get("/clusters/a/api")
    assert r.status_code == 503 and r.json()["reason"] == "ServiceUnavailable"


async def test_proxy_requires_a_cell_client_certificate(cell: Cell) -> None:
    foreign = pki.CaBundle(pki.generate_ca())
    async with proxy_client(cell, bundle=foreign) as c:
        with pytest.raises(httpx.HTTPError):
            await c.get("/clusters/a/api")
    ctx = pki.client_ssl_context(cell.ca().trust_pem())
    async with httpx.AsyncClient(verify=ctx) as c:
        with pytest.raises(httpx.HTTPError):
            await c.get(f"https://localhost:{cell.proxy_port}/clusters/a/api")
    async with proxy_client(cell, cn="lattice-agent-a") as c:
        assert (await c.get("/clusters/a/api")).status_code == 403


async def test_proxy_answers_410_once_pivoted(cell: Cell) -> None:
    async with running(Agent(agent_config(cell, "a"), local=FakeApi("a"))), proxy_client(cell) as c:
        await eventually(lambda: connected(cell, "a"))
        # Checks and routing read the same raw name: an encoded spelling is another (unknown) cluster.
        assert (await c.get("/clusters/%61/api")).status_code == 503
        cell.agents.record("a").pivot_complete = True
        assert (await c.get("/clusters/a/api")).status_code == 410


async def test_agent_with_foreign_ca_certificate_fails_the_handshake(cell: Cell) -> None:
    foreign = pki.CaBundle(pki.generate_ca())
    config = agent_config(cell, "a")
    csr, key = pki.generate_agent_csr("a")
    config.cert_pem, config.key_pem = pki.sign_agent_csr(foreign, csr, "a"), key
    creds = grpc.ssl_channel_credentials(config.ca_pem, config.key_pem, config.cert_pem)
    async with grpc.aio.secure_channel(config.grpc_endpoint, creds,
                                       options=[("grpc.ssl_target_name_override", "localhost")]) as ch:
        call = agent_pb2_grpc.LatticeAgentStub(ch).Connect()
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await asyncio.wait_for(call.read(), 10)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "a" not in cell.agents.records


async def raw_stream(cell: Cell, cluster: str) -> tuple[grpc.aio.Channel, grpc.aio.StreamStreamCall]:
    config = agent_config(cell, cluster)
    creds = grpc.ssl_channel_credentials(config.ca_pem, config.key_pem, config.cert_pem)
    ch = grpc.aio.secure_channel(config.grpc_endpoint, creds, options=[("grpc.ssl_target_name_override", "localhost")])
    call = agent_pb2_grpc.LatticeAgentStub(ch).Connect()
    welcome = await call.read()
    assert welcome.welcome.agent_cluster == cluster
    assert list(welcome.welcome.ancestors) == list(cell.subtree.ancestors)
    return ch, call


@pytest.mark.parametrize("forged", [
    pb.AgentMessage(cluster_name="b", heartbeat=pb.Heartbeat()),
    pb.AgentMessage(bootstrap_complete=pb.BootstrapComplete(cluster_name="b")),
    pb.AgentMessage(cluster_deleting=pb.ClusterDeleting(cluster_name="b")),
    pb.AgentMessage(subtree_state=pb.SubtreeState(full=True, clusters=[pb.SubtreeCluster(name="b")])),
    pb.AgentMessage(batch=pb.AgentMessageBatch(messages=[
        pb.AgentMessage(heartbeat=pb.Heartbeat()), pb.AgentMessage(cluster_name="b", heartbeat=pb.Heartbeat()),
    ])),
], ids=["envelope", "bootstrap-complete", "cluster-deleting", "subtree-without-self", "inside-a-batch"])
async def test_message_naming_another_cluster_closes_the_stream(cell: Cell, forged: pb.AgentMessage) -> None:
    ch, call = await raw_stream(cell, "a")
    async with ch:
        await call.write(pb.AgentMessage(cluster_name="a", heartbeat=pb.Heartbeat()))  # its own name is fine
        await call.write(forged)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            while True:
                await asyncio.wait_for(call.read(), 10)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "certificate is for 'a'" in (info.value.details() or "") or "own cluster" in (info.value.details() or "")
    assert "b" not in cell.agents.records and cell.subtree.lookup("b") is None


def counted(what: str, side: str) -> float:
    return REGISTRY.get_sample_value(f"lattice_tunnel_{what}_total", {"side": side}) or 0.0


async def test_concurrent_requests_share_gRPC_messages_both_ways(cell: Cell) -> None:
    api = FakeApi("a")
    writes = {side: counted("writes", side) for side in ("cell", "agent")}
    messages = {side: counted("messages", side) for side in ("cell", "agent")}
    async with running(Agent(agent_config(cell, "a"), local=api)):
        await eventually(lambda: connected(cell, "a"))

        async def get(i: int) -> bytes:
            stream = await cell.router.open(KubeRequest("a", "GET", f"/api/v1/namespaces/n{i}"))
            async with stream:
                return await stream.read()

        bodies = await asyncio.gather(*(get(i) for i in range(200)))
    assert [b'"path":"/api/v1/namespaces/n%d"' % i in body for i, body in enumerate(bodies)] == [True] * 200
    for side in ("cell", "agent"):
        sent = counted("messages", side) - messages[side]
        written = counted("writes", side) - writes[side]
        assert sent >= 200 and written < sent / 2, f"{side}: {sent} messages in {written} gRPC messages"


async def test_a_version_1_agent_never_receives_a_batch(cell: Cell) -> None:
    ch, call = await raw_stream(cell, "a")
    async with ch:
        await call.write(pb.AgentMessage(ready=pb.AgentReady(protocol_version=1)))
        await call.write(pb.AgentMessage(subtree_state=pb.SubtreeState(full=True, clusters=[
            pb.SubtreeCluster(name="a", connected=True)])))
        await eventually(lambda: connected(cell, "a"))
        opened = [asyncio.ensure_future(cell.router.open(KubeRequest("a", "GET", f"/api/{i}"))) for i in range(50)]
        seen = []
        while len(seen) < 50:
            cmd = await asyncio.wait_for(call.read(), 10)
            assert cmd.WhichOneof("command") == "kubernetes_request", cmd
            seen.append(cmd.kubernetes_request.request_id)
        for rid in seen:
            await call.write(pb.AgentMessage(kubernetes_response=pb.KubernetesResponse(
                request_id=rid, status_code=200, body=b"{}", end=True)))
        for fut in opened:
            assert (await fut).status == 200


async def test_an_agent_never_sends_a_batch_to_a_version_1_cell(
        cell: Cell, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(servicer_module, "PROTOCOL_VERSION", 1)  # what an older cell announces in Welcome
    kinds: list[str | None] = []
    handle = servicer_module.CellServicer._handle

    def recording(self: servicer_module.CellServicer, session: object, msg: pb.AgentMessage) -> None:
        kinds.append(msg.WhichOneof("payload"))
        handle(self, session, msg)  # type: ignore[arg-type]

    monkeypatch.setattr(servicer_module.CellServicer, "_handle", recording)
    api = FakeApi("a")
    async with running(Agent(agent_config(cell, "a"), local=api)):
        await eventually(lambda: connected(cell, "a"))

        async def get(i: int) -> int:
            stream = await cell.router.open(KubeRequest("a", "GET", f"/api/v1/namespaces/n{i}"))
            async with stream:
                await stream.read()
            return stream.status

        assert await asyncio.gather(*(get(i) for i in range(100))) == [200] * 100
    assert kinds.count("kubernetes_response") == 100 and "batch" not in kinds


async def test_subtree_cannot_hijack_a_connected_sibling(cell: Cell) -> None:
    async with running(Agent(agent_config(cell, "a"), local=FakeApi("a"))):
        await eventually(lambda: connected(cell, "a"))
        ch, call = await raw_stream(cell, "b")
        async with ch:
            await call.write(pb.AgentMessage(subtree_state=pb.SubtreeState(full=True, clusters=[
                pb.SubtreeCluster(name="b", phase="Ready", connected=True),
                pb.SubtreeCluster(name="a", parent="b", connected=True),
                pb.SubtreeCluster(name="root", parent="b", connected=True)])))
            await eventually(lambda: (r := cell.subtree.lookup("b")) is not None and r.info.phase == "Ready")
            assert cell.subtree.lookup("a").via == "a"
            assert cell.subtree.lookup("root") is None


async def test_reproduction_a_disconnected_siblings_route_cannot_be_captured(cell: Cell) -> None:
    """Issue #13, finding 1: while b was disconnected, a announced [a, b]; the cell routed b to a,
    and kept doing so after b reconnected with its own certificate."""
    async with running(Agent(agent_config(cell, "b"), local=FakeApi("b"))):
        await eventually(lambda: connected(cell, "b"))
    await eventually(lambda: not connected(cell, "b"))
    ch, call = await raw_stream(cell, "a")
    async with ch:
        await call.write(pb.AgentMessage(subtree_state=pb.SubtreeState(full=True, clusters=[
            pb.SubtreeCluster(name="a", phase="Ready", connected=True),
            pb.SubtreeCluster(name="b", parent="a", phase="Ready", connected=True)])))
        await eventually(lambda: (r := cell.subtree.lookup("a")) is not None and r.info.phase == "Ready")
        assert cell.subtree.lookup("b").via == "b"  # type: ignore[union-attr]
        async with running(Agent(agent_config(cell, "b"), local=FakeApi("b"))):
            await eventually(lambda: connected(cell, "b"))
            stream = await cell.router.open(KubeRequest("b", "GET", "/api"))
            assert b'"cluster":"b"' in await stream.read()
            await stream.aclose()


async def test_nothing_below_a_mid_cell_can_claim_its_ancestors(cell: Cell) -> None:
    mid = await start_cell("mid")
    try:
        mid_agent = Agent(agent_config(cell, "mid"), local=FakeApi("mid"), downstream=mid.router,
                          subtree=mid.subtree)
        async with running(mid_agent):
            await eventually(lambda: mid.subtree.ancestors == ("root",))
            ch, call = await raw_stream(mid, "leaf")
            async with ch:
                await call.write(pb.AgentMessage(subtree_state=pb.SubtreeState(full=True, clusters=[
                    pb.SubtreeCluster(name="leaf", phase="Ready", connected=True),
                    pb.SubtreeCluster(name="root", parent="leaf", connected=True),
                    pb.SubtreeCluster(name="mid", parent="leaf", connected=True)])))
                await eventually(lambda: (r := mid.subtree.lookup("leaf")) is not None and r.info.phase == "Ready")
                assert mid.subtree.lookup("root") is None and mid.subtree.lookup("mid") is None
                await eventually(lambda: connected(cell, "leaf"))
                assert cell.subtree.lookup("leaf").via == "mid"  # type: ignore[union-attr]
    finally:
        await mid.stop()


async def test_watch_streams_and_client_disconnect_cancels_at_the_agent(cell: Cell) -> None:
    api = FakeApi("a")
    events: asyncio.Queue[bytes | None] = asyncio.Queue()
    api.handler = lambda req: api.watch(events) if req.streaming else ResponseStream.from_bytes(200, b"{}")
    async with running(Agent(agent_config(cell, "a"), local=api)), proxy_client(cell) as c:
        await eventually(lambda: connected(cell, "a"))
        async with c.stream("GET", "/clusters/a/api/v1/pods", params={"watch": "true"}) as r:
            assert r.status_code == 200
            lines = r.aiter_lines()
            for i in range(3):
                events.put_nowait(b'{"type":"ADDED","n":%d}\n' % i)
                assert f'"n":{i}' in await asyncio.wait_for(lines.__anext__(), 5)
            assert api.open_streams == 1
        await eventually(lambda: api.open_streams == 0, 10)
        await eventually(lambda: cell.agents.session("a").in_flight == 0, 10)


async def test_slow_stream_does_not_block_others_and_window_is_respected(cell: Cell) -> None:
    api = FakeApi("a")
    produced = 0

    async def firehose() -> object:
        nonlocal produced
        while True:
            produced += 64 * 1024
            yield b"x" * (64 * 1024)

    def handler(req: KubeRequest) -> ResponseStream:
        if req.streaming:
            return ResponseStream(200, [], firehose())  # type: ignore[arg-type]
        return ResponseStream.from_bytes(200, b'{"fast":true}')

    api.handler = handler
    async with running(Agent(agent_config(cell, "a"), local=api)):
        await eventually(lambda: connected(cell, "a"))
        slow = await cell.router.open(KubeRequest("a", "GET", "/api/v1/pods", "watch=1"))  # never read
        await asyncio.sleep(0.5)
        window = cell.config.window_bytes
        assert produced <= window + 3 * 64 * 1024, "agent kept reading past the flow-control window"
        for _ in range(20):
            async with asyncio.timeout(2):
                fast = await cell.router.open(KubeRequest("a", "GET", "/api/v1/namespaces/default"))
                assert await fast.read() == b'{"fast":true}'
                await fast.aclose()
        # Draining the slow stream grants credit and lets it move again.
        got = 0
        async for chunk in slow:
            got += len(chunk)
            if got > 4 * window:
                break
        await slow.aclose()
        assert produced > 4 * window


async def test_large_request_body_is_reassembled(cell: Cell) -> None:
    api = FakeApi("a")
    body = bytes(range(256)) * (3 * 4096 + 7)  # ~3 MiB, several RequestBody messages
    async with running(Agent(agent_config(cell, "a"), local=api)):
        await eventually(lambda: connected(cell, "a"))
        stream = await cell.router.open(KubeRequest("a", "PUT", "/api/v1/configmaps/x", body=body))
        await stream.read()
        await stream.aclose()
    assert api.seen[-1].body == body


async def test_three_levels_route_from_the_root_with_the_original_identity(cell: Cell) -> None:
    mid = await start_cell("mid")
    leaf_api = FakeApi("leaf")
    try:
        mid_agent = Agent(agent_config(cell, "mid"), local=mid.router.local, downstream=mid.router,
                          subtree=mid.subtree)  # type: ignore[arg-type]
        async with running(mid_agent), running(Agent(agent_config(mid, "leaf"), local=leaf_api)):
            await eventually(lambda: connected(cell, "leaf"))
            assert cell.subtree.lookup("leaf").via == "mid"
            assert cell.subtree.lookup("leaf").info.parent == "mid"
            stream = await cell.router.open(KubeRequest("leaf", "GET", "/api/v1/nodes", user="alice",
                                                        groups=("dev",)))
            assert stream.status == 200 and b'"cluster":"leaf"' in await stream.read()
            await stream.aclose()
            assert (leaf_api.seen[-1].user, leaf_api.seen[-1].groups) == ("alice", ("dev",))
            with pytest.raises(ClusterNotFound):
                await cell.router.open(KubeRequest("elsewhere", "GET", "/api"))
        # The leaf's agent going away is seen at the root as unreachable, not unknown.
        await eventually(lambda: cell.subtree.lookup("leaf") is None or not connected(cell, "leaf"))
    finally:
        await mid.stop()


async def test_agent_reconnects_after_cell_restart_with_the_same_ca() -> None:
    first = await start_cell("root")
    storage = first.ca_storage
    port = first.grpc_port
    api = FakeApi("a")
    agent = Agent(agent_config(first, "a"), local=api)
    async with running(agent):
        assert agent.connections == 1
        await first.stop()
        await eventually(lambda: not agent.connected.is_set())
        from lattice_cell.bootstrap_tokens import MemoryTokenStore
        from lattice_cell.cell import Cell, CellConfig
        second = Cell(CellConfig(cluster="root", bind="127.0.0.1", grpc_port=port, bootstrap_port=0,
                                 proxy_port=0, health_port=0), storage, MemoryTokenStore())
        await second.start()
        try:
            await asyncio.wait_for(agent.connected.wait(), 15)
            assert agent.connections == 2
            await eventually(lambda: connected(second, "a"))
            stream = await second.router.open(KubeRequest("a", "GET", "/api"))
            assert stream.status == 200
            await stream.aclose()
        finally:
            await second.stop()


async def test_stale_agent_is_reported_and_dropped() -> None:
    cell = await start_cell("root", heartbeat_interval=0.2, maintenance_interval=0.2)
    try:
        ch, _call = await raw_stream(cell, "quiet")
        async with ch:
            await eventually(lambda: cell.agents.connectivity("quiet").value == "connected")
            await eventually(lambda: cell.agents.connectivity("quiet").value in ("stale", "disconnected"), 5)
            await eventually(lambda: cell.agents.connectivity("quiet").value == "disconnected", 5)
    finally:
        await cell.stop()


async def test_certificate_renewal_through_the_tunnel(cell: Cell) -> None:
    saved: list[bytes] = []

    async def on_credentials(cert: bytes, key: bytes, ca: bytes) -> None:
        saved.append(cert)

    config = agent_config(cell, "a")
    agent = Agent(config, local=FakeApi("a"), on_credentials=on_credentials)
    short = pki.issue_client_certificate(  # an identity close to expiry
        cell.ca(), "lattice-agent-a", validity=datetime.timedelta(minutes=1))
    agent.config.cert_pem, agent.config.key_pem = short.cert_pem, short.key_pem
    async with running(agent):
        await eventually(lambda: bool(saved), 10)
    assert pki.cluster_from_certificate(saved[-1]) == "a"
    assert pki.certificate_expiry(saved[-1]) > pki.certificate_expiry(short.cert_pem) + datetime.timedelta(days=300)


async def test_silently_dropped_connection_is_noticed_and_replaced(cell: Cell) -> None:
    relay = await Relay(cell.grpc_port).start()
    config = agent_config(cell, "a", keepalive_time=1.0, keepalive_timeout=1.0)
    config.grpc_endpoint = f"127.0.0.1:{relay.port}"
    agent = Agent(config, local=FakeApi("a"))
    try:
        async with running(agent):
            relay.freeze()  # no FIN, no RST: only HTTP/2 keepalive can tell
            await eventually(lambda: agent.connections >= 2 and agent.connected.is_set(), 20)
            await eventually(lambda: connected(cell, "a"), 10)
            stream = await cell.router.open(KubeRequest("a", "GET", "/api"))
            assert stream.status == 200
            await stream.aclose()
    finally:
        await relay.stop()


async def test_timeouts_and_body_limit(cell: Cell) -> None:
    api = FakeApi("a", hang_paths={"/slow"})
    async with running(Agent(agent_config(cell, "a"), local=api)):
        await eventually(lambda: connected(cell, "a"))
        with pytest.raises(TunnelTimeout):
            await cell.router.open(KubeRequest("a", "GET", "/slow", timeout=0.5))
        too_big = await cell.router.open(KubeRequest("a", "PUT", "/x", body=b"x" * (MAX_BODY + 1)))
        assert too_big.status == 413
        await too_big.aclose()
        ok = await cell.router.open(KubeRequest("a", "GET", "/fine"))
        assert ok.status == 200
        await ok.aclose()
