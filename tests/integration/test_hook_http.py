"""The hook app on a real uvicorn on loopback, fed Metacontroller-shaped v2 requests.

Needs no control plane (the conftest still marks it ``integration``, like everything here): the
fake in ``tests/unit/hooks/support.py`` plays apiserver and Metacontroller, over real HTTP.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import orjson
import pytest

from hooks.context import ClusterIdentity
from hooks.controllers import CONTROLLERS, latticeservice
from hooks.controllers.definition import Answer, HookConfig
from hooks.server.app import create_app
from hooks.wire import SyncRequest, SyncResponse

# tests/integration is not a package: make the repository root importable for the shared fake.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.unit.hooks.controllers.test_latticeservice import PAYMENTS, SHOP
from tests.unit.hooks.support import FakeMetacontroller, docs

pytestmark = pytest.mark.timeout(120)

CLUSTER = ClusterIdentity(name="edge", provider="docker")
CHECKOUT = ("LatticeService", "shop", "checkout")


@pytest.fixture
def hooks_url(serve_app: Callable[[Any], Any]) -> str:
    server = serve_app(create_app(cluster=CLUSTER, max_body_bytes=256 * 1024))
    return str(server.url)


@pytest.fixture
def client(hooks_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hooks_url, timeout=10) as c:
        yield c


def _http_send(client: httpx.Client) -> Callable[[str, str, bytes], tuple[int, Any]]:
    def send(controller: str, hook: str, body: bytes) -> tuple[int, Any]:
        r = client.post(f"/hooks/{controller}/{hook}", content=body, headers={"Content-Type": "application/json"})
        return r.status_code, r.json()

    return send


@pytest.fixture
def mc(client: httpx.Client) -> FakeMetacontroller:
    return FakeMetacontroller(_http_send(client))


def _metric(client: httpx.Client, name: str, **labels: str) -> float:
    text = client.get("/metrics").text
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_health_ready_and_metrics(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"ok": True}
    ready = client.get("/readyz").json()
    assert ready["ok"] is True and set(ready["controllers"]) == {c.name for c in CONTROLLERS}
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")


def test_sync_customize_and_finalize(mc: FakeMetacontroller, client: httpx.Client) -> None:
    mc.apply_yaml(SHOP + "---" + PAYMENTS)
    rules = mc.customize(mc.get(*CHECKOUT))["relatedResources"]
    assert rules == [
        {
            "apiVersion": "lattice.dev/v1alpha1",
            "resource": "latticeservices",
            "namespace": "shop",
            "names": ["payments", "web"],
        }
    ]
    answer = mc.sync(*CHECKOUT)
    assert set(answer) <= {"status", "children", "resyncAfterSeconds"}
    assert answer["status"]["phase"] == "Ready"
    sa = mc.child(CHECKOUT, "AuthorizationPolicy", "allow-to-checkout")
    assert sa is not None and "lattice.edge.local/ns/shop/sa/web" in orjson.dumps(sa).decode()
    # finalize: delete every child, finished only once none is observed
    pending = mc.sync(*CHECKOUT, hook="finalize")
    assert pending["children"] == [] and pending["finalized"] is False
    done = mc.sync(*CHECKOUT, hook="finalize")
    assert done["finalized"] is True
    assert _metric(client, "lattice_hook_requests_total", controller="latticeservice", hook="finalize", code="200") == 2


def test_a_broken_parent_is_200_failed_with_its_children_unchanged(
    mc: FakeMetacontroller, client: httpx.Client
) -> None:
    mc.apply_yaml(SHOP + "---" + PAYMENTS)
    mc.sync(*CHECKOUT)
    observed = mc.request(*CHECKOUT)["children"]
    broken = docs(SHOP)[0]
    broken["spec"]["service"]["ports"]["http"]["port"] = 0
    broken["spec"]["resources"]["payments"]["direction"] = "sideways"
    mc.apply(broken)
    answer = mc.sync(*CHECKOUT)
    assert answer["status"]["phase"] == "Failed"
    message = answer["status"]["message"]
    assert "spec.service.ports.http.port" in message and "spec.resources.payments.direction" in message
    returned = {(c["kind"], c["metadata"]["name"]) for c in answer["children"]}
    assert returned == {(o["kind"], o["metadata"]["name"]) for g in observed.values() for o in g.values()}
    assert (
        _metric(client, "lattice_hook_compile_failures_total", controller="latticeservice", reason="ValidationFailed")
        == 1
    )


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        pytest.param(b"\x00\xff garbage", 400, "body is not JSON", id="garbage"),
        pytest.param(b'"a string"', 400, "body must be a JSON object", id="not-an-object"),
        pytest.param(b'{"children": {}}', 400, "'parent' must be a Kubernetes object", id="no-parent"),
        pytest.param(b"{" + b" " * 300_000 + b"}", 413, "larger than", id="too-large"),
    ],
)
def test_bad_bodies_are_4xx_with_a_message(client: httpx.Client, body: bytes, code: int, message: str) -> None:
    r = client.post("/hooks/latticeservice/sync", content=body)
    assert r.status_code == code
    assert message in r.json()["error"]
    assert _metric(client, "lattice_hook_requests_total", controller="latticeservice", hook="sync", code=str(code)) == 1


def test_unknown_paths(client: httpx.Client) -> None:
    assert client.post("/hooks/nope/sync", content=b"{}").status_code == 404
    assert client.post("/hooks/latticeservice/rollback", content=b"{}").status_code == 404
    assert client.get("/hooks/latticeservice/sync").status_code == 405


def test_a_compiler_exception_is_200_failed(serve_app: Callable[[Any], Any]) -> None:
    def boom(_req: SyncRequest, _cfg: HookConfig) -> Answer[SyncResponse]:
        raise ZeroDivisionError("division by zero")

    server = serve_app(create_app(controllers=[attrs.evolve(latticeservice.CONTROLLER, sync=boom)]))
    with httpx.Client(base_url=server.url, timeout=10) as client:
        mc = FakeMetacontroller(_http_send(client))
        mc.apply_yaml(SHOP)
        answer = mc.sync(*CHECKOUT)
        assert answer["status"]["phase"] == "Failed"
        assert answer["status"]["message"] == "internal compile error: ZeroDivisionError: division by zero"
        assert (
            _metric(client, "lattice_hook_compile_failures_total", controller="latticeservice", reason="InternalError")
            == 1
        )


def test_a_dependency_arriving_later_then_revocation(mc: FakeMetacontroller) -> None:
    mc.apply_yaml(SHOP)
    first = mc.sync(*CHECKOUT)
    assert first["status"]["phase"] == "Compiling" and first["resyncAfterSeconds"] > 0
    mc.apply_yaml(PAYMENTS)  # Metacontroller re-syncs checkout: payments is one of its related objects
    ready = mc.sync(*CHECKOUT)
    assert ready["status"]["phase"] == "Ready"
    assert "payments" in {d["name"] for d in ready["status"]["resolvedDependencies"]}
    cnp = mc.child(CHECKOUT, "CiliumNetworkPolicy", "policy-checkout")
    assert cnp is not None and "payments" in orjson.dumps(cnp["spec"]["egress"]).decode()
    # payments withdraws its consent: checkout's egress to it goes on the next sync
    payments = docs(PAYMENTS)[0]
    payments["spec"]["resources"] = {}
    mc.apply(payments)
    revoked = mc.sync(*CHECKOUT)
    assert "payments" not in {d["name"] for d in revoked["status"]["resolvedDependencies"]}
    cnp = mc.child(CHECKOUT, "CiliumNetworkPolicy", "policy-checkout")
    assert cnp is not None and "payments" not in orjson.dumps(cnp["spec"].get("egress", [])).decode()


def test_many_requests_in_parallel(hooks_url: str) -> None:
    import concurrent.futures

    def one(i: int) -> int:
        with httpx.Client(base_url=hooks_url, timeout=10) as c:
            mc = FakeMetacontroller(_http_send(c))
            mc.apply_yaml(SHOP + "---" + PAYMENTS)
            return len(mc.sync(*CHECKOUT)["children"])

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        counts = list(pool.map(one, range(16)))
    assert len(set(counts)) == 1 and counts[0] > 5
