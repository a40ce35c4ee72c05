"""hooks.controllers.latticenamespace: the single owner of each namespace's waypoint and mesh labels."""

from __future__ import annotations

from typing import Any

import orjson

from hooks import wire
from hooks.context import ClusterIdentity
from hooks.controllers import latticenamespace
from hooks.controllers.definition import HookConfig

CFG = HookConfig(cluster=ClusterIdentity(name="prod", provider="aws"))
API = "lattice.dev/v1alpha1"
SERVICE = {"apiVersion": API, "kind": "LatticeService", "metadata": {"name": "a", "namespace": "shop"},
           "spec": {"containers": {"main": {"image": "a:1"}}}}
MESH_LABELS = {"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "shop-waypoint"}


def _ns(labels: dict[str, str] | None = None, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "shop", "labels": {"kubernetes.io/metadata.name": "shop", **(labels or {})}, **meta}}


def _decorate(ns: dict[str, Any], services: list[dict[str, Any]]) -> wire.DecoratorSyncResponse:
    related = {"LatticeService.lattice.dev/v1alpha1": {wire.object_key(s): s for s in services}}
    return latticenamespace.CONTROLLER.run_sync(wire.DecoratorSyncRequest(object=ns, related=related), CFG).response


def test_namespace_customize_asks_for_its_services() -> None:
    answer = latticenamespace.CONTROLLER.run("customize", orjson.dumps({"parent": _ns()}), CFG)
    assert answer.response.to_json() == {"relatedResources": [
        {"apiVersion": API, "resource": "latticeservices", "namespace": "shop"}]}


def test_a_namespace_with_a_service_gets_the_waypoint_and_the_labels() -> None:
    response = _decorate(_ns(), [SERVICE])
    assert sorted((a["kind"], a["metadata"]["name"]) for a in response.attachments) == [
        ("AuthorizationPolicy", "allow-to-waypoint"), ("Gateway", "shop-waypoint")]
    assert all(a["metadata"]["namespace"] == "shop" for a in response.attachments)
    assert response.labels == MESH_LABELS


def test_the_last_service_gone_removes_attachments_and_only_our_labels() -> None:
    response = _decorate(_ns({**MESH_LABELS, "istio.io/use-waypoint": "hand-made"}), [])
    assert response.attachments == []
    assert response.labels == {"istio.io/dataplane-mode": None}  # the hand-set waypoint label stays


def test_a_terminating_namespace_gets_nothing_new() -> None:
    response = _decorate(_ns(deletionTimestamp="2026-01-01T00:00:00Z"), [SERVICE])
    assert response.attachments == [] and response.labels == {}


def test_system_namespaces_are_not_targets() -> None:
    (target,) = latticenamespace.CONTROLLER.targets
    expr = target.label_selector["matchExpressions"][0]  # type: ignore[index]
    assert expr["operator"] == "NotIn" and "kube-system" in expr["values"] and "lattice-system" in expr["values"]
