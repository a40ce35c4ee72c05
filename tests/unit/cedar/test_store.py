"""The combined policy set: union, ids, enabled, namespace, priority, errors, memo."""

import json
from typing import Any

import cedarpy

from lattice_cedar import ClusterDirectory, DenyReason, PolicySource, PolicyStore, entities, propagated_policies
from lattice_cedar.schema import SECRET_PATH, SERVICE

from .support import CLUSTER, SECRET, SecretRequest, policy, secret

TWO = f"""
permit(principal, {SECRET}, resource) when {{ resource.path == "a/one" }};
permit(principal, {SECRET}, resource) when {{ resource.path == "a/two" }};
"""
OTHER_TWO = f"""
permit(principal, {SECRET}, resource) when {{ resource.path == "b/one" }};
forbid(principal, {SECRET}, resource) when {{ resource.path == "a/two" }};
"""


def test_union_keeps_every_statement_of_objects_with_clashing_positions() -> None:
    store = PolicyStore.from_policies([policy("alpha", TWO), policy("beta", OTHER_TWO)])
    assert sorted(s.id for s in store.statements) == ["alpha.0", "alpha.1", "beta.0", "beta.1"]
    one, two, b_one = store.decide_secrets([
        secret("ns", "svc", "vault", "a/one"),
        secret("ns", "svc", "vault", "a/two"),
        secret("ns", "svc", "vault", "b/one"),
    ])
    assert one.allowed and one.policies == ("alpha.0",)
    assert not two.allowed and two.policies == ("beta.1",)  # the second object's forbid is in force
    assert b_one.allowed and b_one.policies == ("beta.0",)


def test_statement_ids_and_lines_come_from_the_object() -> None:
    store = PolicyStore.from_policies([policy("alpha", TWO)])
    by_id = {s.id: s for s in store.statements}
    assert (by_id["alpha.0"].line, by_id["alpha.1"].line) == (2, 3)
    assert by_id["alpha.1"].source == "alpha" and by_id["alpha.1"].index == 1


def test_disabled_objects_contribute_nothing() -> None:
    store = PolicyStore.from_policies([policy("alpha", TWO, enabled=False), policy("beta", OTHER_TWO)])
    assert {s.source for s in store.statements} == {"beta"}
    (d,) = store.decide_secrets([secret("ns", "svc", "vault", "a/one")])
    assert d.reason is DenyReason.NO_PERMIT


def test_policies_outside_lattice_system_are_ignored() -> None:
    store = PolicyStore.from_policies([policy("alpha", TWO, namespace="payments")])
    assert len(store) == 0
    (d,) = store.decide_secrets([secret("ns", "svc", "vault", "a/one")])
    assert not d.allowed


def test_no_policy_means_deny() -> None:
    store = PolicyStore.empty()
    assert [d.allowed for d in store.decide_secrets([secret("ns", "svc", "vault", "x")])] == [False]
    assert not store.authorize_cluster("alice", [], "c").allowed


def test_priority_orders_statements_and_reporting() -> None:
    low = policy("low", f"forbid(principal, {SECRET}, resource);", priority=1)
    high = policy("zz-high", f"forbid(principal, {SECRET}, resource);", priority=500)
    store = PolicyStore.from_policies([low, high])
    assert [s.id for s in store.statements] == ["zz-high.0", "low.0"]
    (d,) = store.decide_secrets([secret("ns", "svc", "vault", "x")])
    assert d.policies == ("zz-high.0", "low.0")


def test_each_action_is_judged_by_its_own_statements() -> None:
    store = PolicyStore.from_policies([
        policy("s", f"permit(principal, {SECRET}, resource);"),
        policy("c", f"permit(principal, {CLUSTER}, resource);"),
        policy("any", "forbid(principal == Lattice::User::\"mallory\", action, resource);"),
    ])
    assert store.count("AccessSecret") == 2 and store.count("AccessCluster") == 2
    assert store.authorize_cluster("alice", [], "c1").allowed
    assert not store.authorize_cluster("mallory", [], "c1").allowed


def test_an_invalid_object_keeps_its_forbids_but_grants_nothing() -> None:
    text = f"""
    permit(principal, {SECRET}, resource);
    forbid(principal, {SECRET}, resource) when {{ resource.path like "*/prod/*" }};
    permit(principal, {SECRET}, resource) when {{ resource.nmae == "x" }};
    """
    store = PolicyStore.from_policies([policy("broken", text), policy("ok", f"permit(principal, {SECRET}, resource);")])
    assert {s.id for s in store.statements} == {"broken.1", "ok.0"}
    assert store.problems and "broken" in store.problems[0]
    prod, dev = store.decide_secrets([secret("ns", "svc", "v", "x/prod/y"), secret("ns", "svc", "v", "x/dev/y")])
    assert prod.reason is DenyReason.FORBIDDEN and dev.allowed and dev.policies == ("ok.0",)


def test_a_forbid_that_fails_to_evaluate_denies() -> None:
    # Parses, fails the schema (no attribute `pth`), and errors at runtime: Cedar would skip it and
    # let the permit win; the store denies instead.
    bad = policy("bad-forbid", f'forbid(principal, {SECRET}, resource) when {{ resource.pth like "*" }};')
    store = PolicyStore.from_policies([bad, policy("ok", f"permit(principal, {SECRET}, resource);")])
    (d,) = store.decide_secrets([secret("ns", "svc", "vault", "x")])
    assert not d.allowed
    assert d.reason is DenyReason.FORBID_FAILED and d.policies == ("bad-forbid.0",)
    assert any("bad-forbid.0" in e for e in d.errors)


def test_store_is_memoised_by_content() -> None:
    a = PolicyStore.from_policies([policy("alpha", TWO, generation=1)])
    b = PolicyStore.from_policies([policy("alpha", TWO, generation=7)])
    c = PolicyStore.from_policies([policy("alpha", TWO + "\n// changed\n")])
    d = PolicyStore.from_policies([policy("alpha", TWO, priority=3)])
    assert a is b
    assert c is not a and d is not a
    assert PolicyStore.from_sources([PolicySource("alpha", 0, TWO)]) is a


def test_duplicate_sources_never_share_ids() -> None:
    store = PolicyStore.from_sources([PolicySource("x", 5, TWO), PolicySource("x", 1, OTHER_TWO)])
    assert sorted(s.id for s in store.statements) == ["x.0", "x.1"]
    assert store.statement("x.0") is not None and store.statement("x.0").priority == 5  # type: ignore[union-attr]


def test_cluster_attributes_from_labels_and_tags() -> None:
    text = f"""
    permit(principal in Lattice::Group::"devs", {CLUSTER}, resource) when {{ resource.tier == "dev" }};
    permit(principal in Lattice::Group::"eu", {CLUSTER}, resource) when {{ resource.region like "eu-*" }};
    permit(principal in Lattice::Group::"prod", {CLUSTER}, resource)
      when {{ resource has environment && resource.environment == "production" }};
    permit(principal in Lattice::Group::"team", {CLUSTER}, resource)
      when {{ resource.hasTag("team") && resource.getTag("team") == "payments" }};
    """
    store = PolicyStore.from_policies([policy("clusters", text)])
    clusters = ClusterDirectory.from_labels({
        "dev-1": {"lattice.dev/tier": "dev"},
        "eu-1": {"lattice.dev/region": "eu-west-1", "team": "payments"},
        "prod-1": {"lattice.dev/environment": "production"},
        "plain": {},
    })
    assert store.accessible_clusters("a", ["devs"], clusters) == ["dev-1"]
    assert store.accessible_clusters("a", ["eu"], clusters) == ["eu-1"]
    assert store.accessible_clusters("a", ["prod"], clusters) == ["prod-1"]
    assert store.accessible_clusters("a", ["team"], clusters) == ["eu-1"]
    assert store.accessible_clusters("a", [], clusters) == []
    assert store.authorize_cluster("a", ["eu"], "x", {"region": "eu-central-1"}).allowed
    decisions = store.authorize_clusters("a", ["devs", "prod"], clusters)
    assert [n for n, d in decisions.items() if d.allowed] == ["dev-1", "prod-1"]


def test_odd_identities_are_plain_ids() -> None:
    store = PolicyStore.from_policies([policy("p", 'permit(principal == Lattice::User::"a\\"b", action, resource);')])
    assert store.authorize_cluster('a"b', [], 'c"1\n').allowed
    assert not store.authorize_cluster("ab", [], "c").allowed


def test_cluster_defaults_when_unlabelled() -> None:
    text = f"""permit(principal, {CLUSTER}, resource)
      when {{ resource.region == "unknown" && resource.tier == "standard" && !(resource has environment) }};"""
    store = PolicyStore.from_policies([policy("defaults", text)])
    assert store.authorize_cluster("a", [], "bare").allowed
    assert not store.authorize_cluster("a", [], "eu", {"lattice.dev/region": "eu-west-1"}).allowed


def test_propagated_policies_are_enabled_propagating_ones_in_priority_order() -> None:
    a = policy("a", "x", priority=1)
    b = policy("b", "x", priority=9)
    off = policy("off", "x", enabled=False)
    local = policy("local", "x")
    local.spec.propagate = False
    elsewhere = policy("elsewhere", "x", namespace="team")
    assert [p.name for p in propagated_policies([a, b, off, local, elsewhere])] == ["b", "a"]


NS_TEMPLATES = [
    'permit(principal, {a}, resource) when {{ principal.namespace == "{ns}" && resource.path like "{ns}/*" }};',
    'forbid(principal, {a}, resource) when {{ "{ns}" == principal.namespace && resource.path like "*/prod/*" }};',
    'permit(principal == Lattice::Service::"{ns}/api", {a}, resource);',
    'permit(principal, {a}, resource) when {{ principal.namespace == "{ns}" || resource.provider == "{ns}" }};',
    'forbid(principal, {a}, resource) when {{ principal.namespace == "{ns}" }} when {{ principal.name == "api" }};',
    'permit(principal, {a}, resource) unless {{ principal.namespace == "{ns}" }};',
    'forbid(principal, {a}, resource) when {{ principal.namespace == "{ns}" && resource.nope == "x" }};',  # invalid
]


def test_namespace_index_decides_exactly_like_the_full_set() -> None:
    import random

    rng = random.Random(5)
    namespaces = ["a", "b", "c", "d"]
    for _ in range(30):
        objs = [
            policy(f"p{i}", "\n".join(rng.choice(NS_TEMPLATES).format(a=SECRET, ns=rng.choice(namespaces))
                                      for _ in range(rng.randrange(1, 4))))
            for i in range(rng.randrange(1, 6))
        ]
        store = PolicyStore.from_policies(objs)
        reqs = [secret(rng.choice(namespaces), rng.choice(["api", "web"]), rng.choice(namespaces),
                       f"{rng.choice(namespaces)}/{rng.choice(['prod', 'dev'])}/x", resource=f"r{j}")
                for j in range(12)]
        fast = store.decide_secrets(reqs)
        # Reference: every AccessSecret statement, no namespace index.
        slow = [store._decide(store._sets["AccessSecret"], [req], _entities(r))[0]
                for r, req in zip(reqs, _requests(reqs), strict=True)]
        assert [(d.allowed, d.reason, d.policies) for d in fast] == [(d.allowed, d.reason, d.policies) for d in slow]


def test_secret_requests_meet_only_their_namespace_statements() -> None:
    text = "\n".join(t.format(a=SECRET, ns=ns) for ns in ("a", "b") for t in NS_TEMPLATES[:3])
    store = PolicyStore.from_policies([policy("idx", text)])
    assert store.count("AccessSecret") == 6
    assert store.count("AccessSecret", "a") == 3
    assert store.count("AccessSecret", "zzz") == 0


def _entities(r: SecretRequest) -> cedarpy.Entities:
    return cedarpy.Entities.from_json_str(json.dumps([
        entities.service_entity(r.namespace, r.service), entities.secret_path_entity(r.provider, r.path),
    ]))


def _requests(reqs: list[SecretRequest]) -> list[dict[str, Any]]:
    return [{"principal": entities.uid(SERVICE, f"{r.namespace}/{r.service}"),
             "action": entities.action("AccessSecret"),
             "resource": entities.uid(SECRET_PATH, f"{r.provider}:{r.path}")} for r in reqs]
