"""hooks.controllers.latticeexternalservice: a LatticeExternalService becomes its ServiceEntry."""

from __future__ import annotations

from pathlib import Path

from hooks import wire
from hooks.context import ClusterIdentity
from hooks.controllers import latticeexternalservice
from hooks.controllers.definition import HookConfig
from tests.unit.hooks.support import FakeMetacontroller, docs, in_process

CFG = HookConfig(cluster=ClusterIdentity(name="prod", provider="aws"))
ROOT = Path(__file__).resolve().parents[4]


def test_the_readme_example_compiles_to_a_service_entry() -> None:
    text = (ROOT / "examples" / "services" / "stripe-api.yaml").read_text()
    mc = FakeMetacontroller(in_process(CFG))
    mc.apply_yaml(text)
    (raw,) = docs(text)
    answer = mc.sync("LatticeExternalService", raw["metadata"]["namespace"], raw["metadata"]["name"])
    assert answer["status"]["phase"] == "Ready"
    assert [c["kind"] for c in answer["children"]] == ["ServiceEntry"]


def test_an_invalid_one_is_failed_with_its_errors_and_keeps_its_children() -> None:
    parent = {"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeExternalService",
              "metadata": {"name": "x", "namespace": "shop"}, "spec": {"endpoints": {"api": 5}}}
    observed = {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
                "metadata": {"name": "x", "namespace": "shop"}, "spec": {}}
    req = wire.SyncRequest(parent=parent, children={"ServiceEntry.networking.istio.io/v1": {"shop/x": observed}})
    answer = latticeexternalservice.CONTROLLER.run_sync(req, CFG)
    assert answer.failure == "ValidationFailed" and answer.response.status is not None
    assert answer.response.status["phase"] == "Failed" and "spec.endpoints" in answer.response.status["message"]
    assert [c["metadata"]["name"] for c in answer.response.children] == ["x"]
