"""The LatticeService controller: what customize asks for, and syncs driven like Metacontroller does."""

from __future__ import annotations

from typing import Any

import pytest

import crds
from crds import LatticeService
from hooks.controllers.latticeservice import related_rules
from tests.unit.hooks.support import FakeMetacontroller, docs, in_process

API = "lattice.dev/v1alpha1"


def _service(resources: dict[str, Any], namespace: str = "shop") -> LatticeService:
    raw = {"apiVersion": API, "kind": "LatticeService", "metadata": {"name": "api", "namespace": namespace},
           "spec": {"containers": {"main": {"image": "app:1"}}, "resources": resources}}
    obj = crds.parse(raw).obj
    assert isinstance(obj, LatticeService)
    return obj


def _rules(resources: dict[str, Any]) -> list[dict[str, Any]]:
    return [r.to_json() for r in related_rules(_service(resources))]


def test_no_dependencies_no_related() -> None:
    assert _rules({}) == []


def test_named_services_and_externals_by_names_per_namespace() -> None:
    rules = _rules({
        "db": {"type": "service"},
        "auth": {"type": "service", "direction": "both"},
        "web": {"type": "service", "direction": "inbound"},
        "billing": {"type": "service", "namespace": "finance", "id": "billing-api"},
        "stripe": {"type": "external-service"},
        "cache": {"type": "volume", "params": {"size": "1Gi"}},
    })
    assert rules == [
        {"apiVersion": API, "resource": "latticeservices", "namespace": "finance", "names": ["billing-api"]},
        {"apiVersion": API, "resource": "latticeservices", "namespace": "shop", "names": ["auth", "db", "web"]},
        {"apiVersion": API, "resource": "latticeexternalservices", "namespace": "shop", "names": ["stripe"]},
    ]


def test_secrets_add_the_cedar_policies_of_lattice_system() -> None:
    rules = _rules({"db": {"type": "secret", "id": "a/b", "params": {"provider": "vault"}}})
    assert rules == [{"apiVersion": API, "resource": "cedarpolicies", "namespace": "lattice-system"}]


def test_wildcard_inbound_of_a_namespace_asks_for_that_namespace_only() -> None:
    rules = _rules({"*": {"type": "service", "direction": "inbound", "namespace": "shop"},
                    "db": {"type": "service"}, "ext": {"type": "service", "namespace": "other"}})
    assert rules == [
        {"apiVersion": API, "resource": "latticeservices", "namespace": "shop"},
        {"apiVersion": API, "resource": "latticeservices", "namespace": "other", "names": ["ext"]},
    ]


def test_wildcard_inbound_without_namespace_asks_for_every_namespace() -> None:
    rules = _rules({"*": {"type": "service", "direction": "inbound"}, "db": {"type": "service"}})
    assert rules == [{"apiVersion": API, "resource": "latticeservices"}]  # no namespace: all of them


def test_an_outbound_wildcard_asks_for_nothing_more() -> None:
    assert _rules({"*": {"type": "service", "direction": "outbound"}}) == []


def test_customize_depends_only_on_the_spec() -> None:
    mc = FakeMetacontroller(in_process())
    mc.apply_yaml(SHOP)
    parent = mc.get("LatticeService", "shop", "checkout")
    first = mc.customize(parent)
    relabelled = {**parent, "metadata": {**parent["metadata"], "labels": {"team": "x"}, "resourceVersion": "999"},
                  "status": {"phase": "Failed"}}
    assert mc.customize(relabelled) == first


SHOP = """
apiVersion: lattice.dev/v1alpha1
kind: LatticeService
metadata: {name: checkout, namespace: shop}
spec:
  containers:
    main:
      image: shop/checkout:1
      variables: {PAYMENTS_URL: "${resources.payments.url}"}
  service: {ports: {http: {port: 8080}}}
  resources:
    payments: {type: service, direction: outbound}
    web: {type: service, direction: inbound}
---
apiVersion: lattice.dev/v1alpha1
kind: LatticeService
metadata: {name: web, namespace: shop}
spec:
  containers: {main: {image: shop/web:1}}
  service: {ports: {http: {port: 3000}}}
  resources:
    checkout: {type: service, direction: outbound}
"""

PAYMENTS = """
apiVersion: lattice.dev/v1alpha1
kind: LatticeService
metadata: {name: payments, namespace: shop}
spec:
  containers: {main: {image: shop/payments:1}}
  service: {ports: {http: {port: 9000}}}
  resources:
    checkout: {type: service, direction: inbound}
"""

CHECKOUT = ("LatticeService", "shop", "checkout")


def _principals(mc: FakeMetacontroller, parent: tuple[str, str, str], policy: str) -> list[str]:
    obj = mc.child(parent, "AuthorizationPolicy", policy)
    if obj is None:
        return []
    return sorted(p for rule in obj["spec"]["rules"] for f in rule.get("from", [])
                  for p in f["source"].get("principals", []))


def test_a_dependency_arriving_later() -> None:
    mc = FakeMetacontroller(in_process())
    mc.apply_yaml(SHOP)
    answer = mc.sync(*CHECKOUT)
    # payments does not exist yet: the template cannot resolve, nothing is created yet
    assert answer["status"]["phase"] == "Compiling"
    assert "payments" in answer["status"]["message"]
    assert answer["resyncAfterSeconds"] > 0
    mc.apply_yaml(PAYMENTS)
    answer = mc.sync(*CHECKOUT)
    assert answer["status"]["phase"] == "Ready", answer["status"]
    deps = {(d["name"], d["direction"]) for d in answer["status"]["resolvedDependencies"]}
    assert deps == {("payments", "outbound"), ("web", "inbound")}
    assert "Deployment/checkout" in mc.child_names(CHECKOUT)
    deployment = mc.child(CHECKOUT, "Deployment", "checkout")
    assert deployment is not None
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "PAYMENTS_URL", "value": "http://payments.shop.svc.cluster.local:9000"} in env
    assert _principals(mc, CHECKOUT, "allow-to-checkout") == ["lattice.default.local/ns/shop/sa/web"]


def test_revocation_by_either_side() -> None:
    mc = FakeMetacontroller(in_process())
    mc.apply_yaml(SHOP + "---" + PAYMENTS)
    assert mc.sync(*CHECKOUT)["status"]["phase"] == "Ready"
    assert _principals(mc, CHECKOUT, "allow-to-checkout") == ["lattice.default.local/ns/shop/sa/web"]
    # web stops declaring checkout: the caller's principal leaves checkout's policy
    web = docs(SHOP)[1]
    web["spec"]["resources"] = {}
    mc.apply(web)
    answer = mc.sync(*CHECKOUT)
    assert answer["status"]["phase"] == "Ready"
    assert _principals(mc, CHECKOUT, "allow-to-checkout") == []
    assert ("web", "inbound") not in {(d["name"], d["direction"]) for d in answer["status"]["resolvedDependencies"]}
    # the callee side: payments stops accepting checkout, so checkout's egress to payments goes
    assert _egress_apps(mc, CHECKOUT) == ["payments"]
    payments = docs(PAYMENTS)[0]
    payments["spec"]["resources"] = {}
    mc.apply(payments)
    answer = mc.sync(*CHECKOUT)
    assert answer["status"]["phase"] == "Ready"
    assert answer["status"].get("resolvedDependencies", []) == []
    assert _egress_apps(mc, CHECKOUT) == []


def _egress_apps(mc: FakeMetacontroller, parent: tuple[str, str, str]) -> list[str]:
    cnp = mc.child(parent, "CiliumNetworkPolicy", f"policy-{parent[2]}")
    assert cnp is not None
    return sorted(ep["matchLabels"]["k8s:app.kubernetes.io/name"] for rule in cnp["spec"].get("egress", [])
                  for ep in rule.get("toEndpoints", []) if "k8s:app.kubernetes.io/name" in ep["matchLabels"])


def test_a_status_that_does_not_fit_the_model_does_not_fail_the_service() -> None:
    mc = FakeMetacontroller(in_process())
    mc.apply_yaml(SHOP + "---" + PAYMENTS)
    mc.get(*CHECKOUT)["status"] = {"phase": "Bogus", "somethingElse": [1]}
    assert mc.sync(*CHECKOUT)["status"]["phase"] == "Ready"


def test_a_broken_service_is_failed_with_every_error_and_keeps_its_children() -> None:
    mc = FakeMetacontroller(in_process())
    mc.apply_yaml(SHOP + "---" + PAYMENTS)
    mc.sync(*CHECKOUT)
    before = mc.child_names(CHECKOUT)
    broken = docs(SHOP)[0]
    broken["spec"]["replicas"] = {"min": 5, "max": 2}
    broken["spec"]["containers"]["main"]["image"] = "has space"
    mc.apply(broken)
    answer = mc.sync(*CHECKOUT)
    status = answer["status"]
    assert status["phase"] == "Failed"
    assert "spec.replicas.min" in status["message"] and "spec.containers.main.image" in status["message"]
    assert status["conditions"][0]["reason"] == "ValidationFailed"
    assert mc.child_names(CHECKOUT) == before
    # the children are handed back as last applied: nothing for Metacontroller to change
    assert all("uid" not in c["metadata"] for c in answer["children"])


SECRET = """
apiVersion: lattice.dev/v1alpha1
kind: LatticeService
metadata: {name: vaulted, namespace: shop}
spec:
  containers:
    main:
      image: shop/vaulted:1
      variables: {DB_PASS: "${resources.db.password}"}
  resources:
    db: {type: secret, id: shop/db, params: {provider: vault, keys: [password]}}
"""
PERMIT = """
apiVersion: lattice.dev/v1alpha1
kind: CedarPolicy
metadata: {name: shop-secrets, namespace: lattice-system}
spec:
  policies: |
    permit(principal, action == Lattice::Action::"AccessSecret", resource)
    when { principal.namespace == "shop" };
"""


@pytest.mark.parametrize("forbid_later", [False, True], ids=["recovery", "recovery-then-revocation"])
def test_secret_denied_then_permitted(forbid_later: bool) -> None:
    mc = FakeMetacontroller(in_process())
    mc.apply_yaml(SECRET)
    vaulted = ("LatticeService", "shop", "vaulted")
    answer = mc.sync(*vaulted)
    assert answer["status"]["phase"] == "Failed"
    assert "secret access denied: 'db'" in answer["status"]["message"]
    assert answer["resyncAfterSeconds"] == 30
    assert mc.child(vaulted, "ExternalSecret", "vaulted-db") is None
    mc.apply_yaml(PERMIT)
    answer = mc.sync(*vaulted)
    assert answer["status"]["phase"] == "Ready"
    assert mc.child(vaulted, "ExternalSecret", "vaulted-db") is not None
    if forbid_later:
        forbid = docs(PERMIT)[0]
        forbid["spec"]["policies"] += 'forbid(principal, action, resource) when { resource.path like "shop/*" };\n'
        mc.apply(forbid)
        answer = mc.sync(*vaulted)
        assert answer["status"]["phase"] == "Failed"
        assert mc.child(vaulted, "ExternalSecret", "vaulted-db") is None
        assert mc.child(vaulted, "Deployment", "vaulted") is not None


def test_pending_until_every_child_is_observed_as_desired() -> None:
    """Metacontroller writes the status even when a child's apply failed: the first answer (no
    child observed yet) and any answer while a child lacks its desired hash are Pending."""
    from hooks.controllers.applied import DESIRED_HASH
    from hooks.controllers.definition import HookConfig
    from hooks.controllers.latticeservice import CONTROLLER
    from hooks.wire import SyncRequest, group_key, object_key

    parent = {"apiVersion": API, "kind": "LatticeService",
              "metadata": {"name": "api", "namespace": "shop", "uid": "u", "generation": 1, "resourceVersion": "1"},
              "spec": {"containers": {"main": {"image": "app:1"}}, "service": {"ports": {"http": {"port": 80}}}}}
    first = CONTROLLER.run_sync(SyncRequest(parent=parent), HookConfig()).response
    assert first.status is not None and first.status["phase"] == "Pending"
    assert first.status["conditions"][0]["reason"] == "ApplyPending"
    assert "waiting for" in first.status["message"]
    observed: dict[str, dict[str, Any]] = {}
    for child in first.children:
        assert DESIRED_HASH in child["metadata"]["annotations"]
        observed.setdefault(group_key(child["apiVersion"], child["kind"]), {})[object_key(child)] = child
    ready = CONTROLLER.run_sync(SyncRequest(parent=parent, children=observed), HookConfig()).response
    assert ready.status is not None and ready.status["phase"] == "Ready"
    # One child still as an earlier apply left it (the apiserver refused the new one): Pending.
    group, objs = next(iter(observed.items()))
    key, child = next(iter(objs.items()))
    stale = {**child, "metadata": {**child["metadata"], "annotations": {DESIRED_HASH: "0" * 16}}}
    again = CONTROLLER.run_sync(SyncRequest(parent=parent, children={**observed, group: {**objs, key: stale}}),
                                HookConfig()).response
    assert again.status is not None and again.status["phase"] == "Pending"
    assert f"{child['kind']} {child['metadata']['name']}" in again.status["message"]
