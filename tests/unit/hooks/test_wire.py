"""The Metacontroller v2 wire format: decoding bad bodies, keys, responses, keeping children."""

from __future__ import annotations

import orjson
import pytest

from hooks import wire

PARENT = {"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeService",
          "metadata": {"name": "a", "namespace": "ns", "generation": 3}}


@pytest.mark.parametrize(("body", "message"), [
    pytest.param(b"", "body is not JSON", id="empty"),
    pytest.param(b"{not json", "body is not JSON", id="garbage"),
    pytest.param(b"[1, 2]", "body must be a JSON object", id="array"),
    pytest.param(b"{}", "'parent' must be a Kubernetes object", id="no-parent"),
    pytest.param(b'{"parent": "x"}', "'parent' must be a Kubernetes object", id="parent-string"),
    pytest.param(b'{"parent": {"metadata": {}}}', "'parent.metadata.name' must be a string", id="no-name"),
    pytest.param(orjson.dumps({"parent": PARENT, "children": []}), "'children' must be a map", id="children-list"),
    pytest.param(orjson.dumps({"parent": PARENT, "related": {"X.v1": [1]}}), "'related.X.v1' must be a map",
                 id="related-group-list"),
    pytest.param(orjson.dumps({"parent": PARENT, "children": {"X.v1": {"ns/a": 1}}}),
                 "'children.X.v1.ns/a' must be a Kubernetes object", id="child-not-object"),
    pytest.param(orjson.dumps({"parent": PARENT, "related": {"X.v1": {"ns/a": {"metadata": ["x"]}}}}),
                 "'related.X.v1.ns/a.metadata.name' must be a string", id="related-metadata-list"),
    pytest.param(orjson.dumps({"parent": PARENT, "related": {"X.v1": {"ns/a": {"metadata": {"name": [1]}}}}}),
                 "'related.X.v1.ns/a.metadata.name' must be a string", id="related-name-list"),
    pytest.param(orjson.dumps({"parent": {"metadata": {"name": "p", "labels": {"a": 1}}}}),
                 "'parent.metadata.labels' must map strings to strings", id="parent-label-number"),
])
def test_decode_sync_rejects_what_is_not_a_request(body: bytes, message: str) -> None:
    with pytest.raises(wire.BadRequest, match=message):
        wire.decode_sync(body)


def test_decode_sync_reads_a_v2_request() -> None:
    child = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "ns"}}
    body = orjson.dumps({"controller": {"kind": "CompositeController"}, "parent": PARENT,
                         "children": {"Service.v1": {"ns/a": child}, "ConfigMap.v1": {}},
                         "related": None, "finalizing": True})
    req = wire.decode_sync(body)
    assert req.parent == PARENT
    assert req.children == {"Service.v1": {"ns/a": child}}  # empty groups dropped
    assert req.related == {}
    assert req.finalizing is True
    assert req.controller == {"kind": "CompositeController"}


def test_decode_decorator_and_customize() -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    req = wire.decode_decorator_sync(orjson.dumps({"object": ns, "attachments": {}}))
    assert req.object == ns and not req.finalizing
    assert wire.decode_customize(orjson.dumps({"parent": ns})).parent == ns
    with pytest.raises(wire.BadRequest, match="'object'"):
        wire.decode_decorator_sync(orjson.dumps({"parent": ns}))


def test_keys() -> None:
    assert wire.group_key("v1", "Service") == "Service.v1"
    assert wire.group_key("apps/v1", "Deployment") == "Deployment.apps/v1"
    assert wire.object_key({"metadata": {"name": "a", "namespace": "ns"}}) == "ns/a"
    assert wire.object_key({"metadata": {"name": "cluster-wide"}}) == "cluster-wide"


def test_sync_response_has_only_fields_the_strict_decoder_accepts() -> None:
    assert wire.SyncResponse(status={"phase": "Ready"}, children=[]).to_json() == {
        "status": {"phase": "Ready"}, "children": []}
    full = wire.SyncResponse(status=None, children=[], resync_after_seconds=30.0, finalized=True).to_json()
    assert set(full) == {"status", "children", "resyncAfterSeconds", "finalized"}
    dec = wire.DecoratorSyncResponse(attachments=[], labels={"a": None}, resync_after_seconds=5).to_json()
    assert dec == {"attachments": [], "status": None, "labels": {"a": None}, "resyncAfterSeconds": 5}


def test_related_rule_round_trip() -> None:
    rule = wire.RelatedRule("lattice.dev/v1alpha1", "latticeservices", namespace="ns", names=("a", "b"))
    assert rule.to_json() == {"apiVersion": "lattice.dev/v1alpha1", "resource": "latticeservices",
                              "namespace": "ns", "names": ["a", "b"]}
    assert wire.RelatedRule.from_json(rule.to_json()) == rule
    by_label = wire.RelatedRule("v1", "configmaps", label_selector={})
    assert by_label.to_json() == {"apiVersion": "v1", "resource": "configmaps", "labelSelector": {}}


def test_keep_as_is_prefers_what_metacontroller_last_applied() -> None:
    applied = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}, "spec": {"ports": [{"port": 80}]}}
    observed = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "a", "namespace": "ns", "uid": "u", "resourceVersion": "7",
                     "annotations": {wire.LAST_APPLIED: orjson.dumps(applied).decode()}},
        "spec": {"ports": [{"port": 80}], "clusterIP": "10.0.0.1"}, "status": {"loadBalancer": {}},
    }
    assert wire.keep_as_is(observed) == applied


def test_keep_as_is_without_last_applied_drops_status_and_system_fields() -> None:
    observed = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "a", "namespace": "ns", "uid": "u", "resourceVersion": "7", "generation": 2,
                             "managedFields": [{}], "creationTimestamp": "t", "labels": {"x": "y"}},
                "data": {"k": "v"}, "status": {}}
    assert wire.keep_as_is(observed) == {"apiVersion": "v1", "kind": "ConfigMap",
                                         "metadata": {"name": "a", "namespace": "ns", "labels": {"x": "y"}},
                                         "data": {"k": "v"}}


def test_observed_unchanged_is_sorted_and_complete() -> None:
    def obj(kind: str, name: str) -> dict[str, object]:
        return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": "ns"}}

    children = {"Service.v1": {"ns/b": obj("Service", "b"), "ns/a": obj("Service", "a")},
                "ConfigMap.v1": {"ns/c": obj("ConfigMap", "c")}}
    names = [(o["kind"], o["metadata"]["name"]) for o in wire.observed_unchanged(children)]
    assert names == [("ConfigMap", "c"), ("Service", "a"), ("Service", "b")]
