"""lattice_cell.proxy.authz: Cedar AccessCluster through lattice_cedar, and its decision cache."""

from __future__ import annotations

from lattice_cell.proxy.authz import ClusterAuthorizer, denial_message, policy_sources
from lattice_cell.proxy.identity import Identity

ACCESS = 'action == Lattice::Action::"AccessCluster"'


def policy(name: str, text: str, **spec: object) -> dict[str, object]:
    return {"metadata": {"name": name, "namespace": "lattice-system"}, "spec": {"policies": text, **spec}}


ALICE = Identity("alice", ("dev", "system:authenticated"))


def test_default_deny_until_policies_arrive_then_permit_and_forbid() -> None:
    authz = ClusterAuthorizer()
    assert not authz.decide(ALICE, "prod", {}).allowed
    authz.set_policies([policy("dev", f'permit(principal in Lattice::Group::"dev", {ACCESS}, resource);'),
                        policy("no-prod", f'forbid(principal, {ACCESS}, resource) when {{ resource.hasTag("team") && '
                                          'resource.getTag("team") == "payments" };')])
    assert authz.decide(ALICE, "staging", {}).allowed
    denied = authz.decide(ALICE, "prod", {"team": "payments"})
    assert not denied.allowed and denied.policies == ("no-prod.0",)
    assert denial_message(ALICE, "prod", denied) == ("user 'alice' cannot access cluster 'prod': "
                                                     "forbidden by Cedar policy (no-prod.0)")


def test_the_cache_forgets_on_any_policy_change_and_on_invalidate() -> None:
    authz = ClusterAuthorizer()
    authz.set_policies([policy("a", f'permit(principal == Lattice::User::"alice", {ACCESS}, resource);')])
    assert authz.decide(ALICE, "c", {}).allowed
    authz.set_policies([])
    assert not authz.decide(ALICE, "c", {}).allowed
    authz.set_policies([policy("a", f'permit(principal == Lattice::User::"alice", {ACCESS}, resource) when '
                                    '{ resource.region == "eu" };')])
    assert not authz.decide(ALICE, "c", {"lattice.dev/region": "us"}).allowed
    authz.invalidate()  # labels changed (the subtree said so)
    assert authz.decide(ALICE, "c", {"lattice.dev/region": "eu"}).allowed


def test_only_enabled_policies_of_lattice_system_count() -> None:
    objs = [policy("on", "x"), policy("off", "y", enabled=False),
            {"metadata": {"name": "elsewhere", "namespace": "team"}, "spec": {"policies": "z"}}]
    assert [s.name for s in policy_sources(objs)] == ["on"]


def test_accessible_keeps_the_order_given() -> None:
    authz = ClusterAuthorizer()
    authz.set_policies([policy("a", f'permit(principal, {ACCESS}, resource) when {{ resource.name != "b" }};')])
    assert authz.accessible(ALICE, {"c": {}, "b": {}, "a": {}}) == ["c", "a"]
