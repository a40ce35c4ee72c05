"""The controller wrapper: compiler exceptions and bad children become Failed answers, never errors."""

from __future__ import annotations

from typing import Any

import attrs
import orjson
import pytest

from hooks import wire
from hooks.controllers import latticenamespace, latticeservice
from hooks.controllers.definition import INTERNAL_ERROR, Answer, ChildRule, HookConfig, UnknownHook
from hooks.controllers.kinds import CONFIG_MAP, SERVICE
from hooks.wire import DecoratorSyncRequest, DecoratorSyncResponse, SyncRequest, SyncResponse

CFG = HookConfig()
PARENT = {"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeService",
          "metadata": {"name": "api", "namespace": "shop", "generation": 4}, "spec": {}}
OBSERVED = {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "api", "namespace": "shop", "uid": "u1", "resourceVersion": "9"},
            "spec": {"clusterIP": "10.0.0.9"}}


def _req(**kw: Any) -> SyncRequest:
    return SyncRequest(parent=PARENT, children={"Service.v1": {"shop/api": OBSERVED}}, **kw)


def _controller(sync: Any) -> Any:
    return attrs.evolve(latticeservice.CONTROLLER, sync=sync,
                        children=(ChildRule(SERVICE), ChildRule(CONFIG_MAP)))


def test_a_compiler_exception_is_a_failed_status_keeping_the_children() -> None:
    def boom(_req: SyncRequest, _cfg: HookConfig) -> Answer[SyncResponse]:
        raise KeyError("ports")

    answer = _controller(boom).run_sync(_req(), CFG)
    assert answer.failure == INTERNAL_ERROR
    status = answer.response.status
    assert status["phase"] == "Failed"
    assert status["message"] == "internal compile error: KeyError: 'ports'"
    assert status["conditions"][0]["reason"] == INTERNAL_ERROR
    assert status["conditions"][0]["observedGeneration"] == 4
    assert [c["metadata"]["name"] for c in answer.response.children] == ["api"]
    assert "uid" not in answer.response.children[0]["metadata"]


@pytest.mark.parametrize(("child", "problem"), [
    pytest.param({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "x"}},
                 "StatefulSet.apps/v1 x: kind is not a declared child resource", id="undeclared-kind"),
    pytest.param({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}, "metadata.name is missing",
                 id="no-name"),
    pytest.param({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "other"}},
                 "must live in namespace 'shop'", id="other-namespace"),
])
def test_children_metacontroller_cannot_manage_are_refused(child: dict[str, Any], problem: str) -> None:
    def sync(_req: SyncRequest, _cfg: HookConfig) -> Answer[SyncResponse]:
        return Answer(SyncResponse(status={"phase": "Ready"}, children=[child]))

    answer = _controller(sync).run_sync(_req(), CFG)
    assert answer.failure == INTERNAL_ERROR
    assert problem in answer.response.status["message"]
    assert [c["kind"] for c in answer.response.children] == ["Service"]


def test_default_finalize_deletes_children_and_finishes_once_they_are_gone() -> None:
    ctl = latticeservice.CONTROLLER
    pending = ctl.run_sync(_req(), CFG, finalize=True).response
    assert pending.children == [] and pending.finalized is False
    done = ctl.run_sync(SyncRequest(parent={**PARENT, "status": {"phase": "Ready"}}), CFG, finalize=True).response
    assert done.to_json() == {"status": {"phase": "Ready"}, "children": [], "finalized": True}


def test_run_decodes_and_dispatches() -> None:
    ctl = latticeservice.CONTROLLER
    with pytest.raises(wire.BadRequest):
        ctl.run("sync", b"nope", CFG)
    with pytest.raises(UnknownHook):
        ctl.run("rollback", orjson.dumps({"parent": PARENT}), CFG)  # type: ignore[arg-type]
    answer = ctl.run("customize", orjson.dumps({"parent": PARENT}), CFG)
    assert answer.response.to_json() == {"relatedResources": []}  # invalid spec: nothing to relate


def test_a_decorator_exception_leaves_everything_as_it_is() -> None:
    def boom(_req: DecoratorSyncRequest, _cfg: HookConfig) -> Answer[DecoratorSyncResponse]:
        raise RuntimeError("no")

    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    gw = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
          "metadata": {"name": "shop-waypoint", "namespace": "shop", "uid": "u"}}
    ctl = attrs.evolve(latticenamespace.CONTROLLER, sync=boom)
    answer = ctl.run_sync(DecoratorSyncRequest(object=ns, attachments={"Gateway.gateway.networking.k8s.io/v1":
                                                                     {"shop/shop-waypoint": gw}}), CFG)
    assert answer.failure == INTERNAL_ERROR
    assert answer.response.to_json() == {"attachments": [{"apiVersion": gw["apiVersion"], "kind": "Gateway",
                                                          "metadata": {"name": "shop-waypoint",
                                                                       "namespace": "shop"}}],
                                         "status": None}


@pytest.mark.parametrize("metadata", [
    pytest.param("x", id="metadata-string"),
    pytest.param({"name": "api", "namespace": "shop", "annotations": "x"}, id="annotations-string"),
    pytest.param({"name": "api", "namespace": "shop", "annotations": ["x"]}, id="annotations-list"),
])
def test_an_exception_with_a_malformed_observed_child_is_still_an_answer(metadata: object) -> None:
    def boom(_req: SyncRequest, _cfg: HookConfig) -> Answer[SyncResponse]:
        raise KeyError("ports")

    child = {**OBSERVED, "metadata": metadata}
    req = SyncRequest(parent=PARENT, children={"Service.v1": {"shop/api": child}})
    answer = _controller(boom).run_sync(req, CFG)  # must not raise: it would be an HTTP 500
    assert answer.failure == INTERNAL_ERROR
    assert answer.response.status["phase"] == "Failed"
    assert [c["kind"] for c in answer.response.children] == ["Service"]  # kept, not deleted
    assert "status" not in answer.response.children[0]


@pytest.mark.parametrize(("field", "value"), [
    pytest.param("kind", ["LatticeService"], id="kind-list"),
    pytest.param("generation", [4], id="generation-list"),
])
def test_unhashable_version_fields_are_not_a_500_in_customize_or_an_internal_error_in_sync(
        field: str, value: object) -> None:
    parent: dict[str, Any] = {**PARENT, "metadata": {**PARENT["metadata"], "uid": "u-unhashable",
                                                     "resourceVersion": "1"}}
    if field == "kind":
        parent["kind"] = value
    else:
        parent["metadata"]["generation"] = value
    ctl = latticeservice.CONTROLLER
    assert ctl.run("customize", orjson.dumps({"parent": parent}), CFG).response.to_json() == {"relatedResources": []}
    answer = ctl.run("sync", orjson.dumps({"parent": parent}), CFG)
    assert answer.failure == "ValidationFailed"


def _deep(depth: int) -> Any:
    return orjson.loads(b"[" * depth + b"]" * depth)


def test_run_encodes_the_answer_and_caps_its_status_message() -> None:
    def loud(req: SyncRequest, _cfg: HookConfig) -> Answer[SyncResponse]:
        return Answer(SyncResponse(status={"phase": "Failed", "message": "m" * 100_000}, children=[]))

    answer = _controller(loud).run("sync", orjson.dumps({"parent": PARENT}), CFG)
    assert answer.body is not None and len(answer.body) < 10_000
    assert orjson.loads(answer.body)["status"]["message"].endswith("more characters)")


def test_an_unencodable_answer_becomes_failed_with_the_children_kept() -> None:
    def echo(req: SyncRequest, _cfg: HookConfig) -> Answer[SyncResponse]:
        return Answer(SyncResponse(status={"phase": "Ready", "echo": req.parent["status"]}, children=[]))

    parent = {**PARENT, "status": {"a": _deep(300)}}
    body = orjson.dumps({"parent": {**parent, "status": {}}, "children": {"Service.v1": {"shop/api": OBSERVED}}})
    body = body.replace(b'"status":{}', b'"status":{"a":' + b"[" * 300 + b"]" * 300 + b"}")
    answer = _controller(echo).run("finalize", body, CFG)
    out = orjson.loads(answer.body)
    assert answer.failure == "InvalidInput" and out["status"]["phase"] == "Failed" and out["finalized"] is False
    assert "nested too deeply" in out["status"]["message"]
    assert [c["kind"] for c in out["children"]] == ["Service"]


def test_children_too_deep_to_keep_are_a_bad_request() -> None:
    deep_child = {**OBSERVED, "spec": {"x": "__DEEP__"}}
    body = orjson.dumps({"parent": PARENT, "children": {"Service.v1": {"shop/api": deep_child}}})
    body = body.replace(b'"__DEEP__"', b"[" * 300 + b"]" * 300)
    with pytest.raises(wire.BadRequest, match="nested too deeply"):
        latticeservice.CONTROLLER.run("sync", body, CFG)  # an invalid parent: Failed, keeping the child


def test_exceptions_are_logged_without_repeating_the_input(caplog: pytest.LogCaptureFixture) -> None:
    def boom(_req: SyncRequest, _cfg: HookConfig) -> Answer[SyncResponse]:
        raise ValueError("x" * 1_000_000)

    _controller(boom).run_sync(_req(), CFG)
    assert caplog.records and all(len(r.getMessage()) < 2_000 for r in caplog.records)
    assert all(len(str(r.exc_info[1])) < 2_000 for r in caplog.records if r.exc_info)
