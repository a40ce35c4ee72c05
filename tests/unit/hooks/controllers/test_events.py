"""Events as status transitions (``hooks.controllers.events``), driven through the controllers the
way Metacontroller drives them: each sync sees the status the previous one wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hooks.controllers.definition import Answer
from hooks.controllers.events import EventNote, EventPolicy, ObjectRef
from tests.unit.hooks.controllers.test_latticeservice import PAYMENTS, PERMIT, SECRET, SHOP
from tests.unit.hooks.support import FakeMetacontroller, docs, in_process

ROOT = Path(__file__).resolve().parents[4]
CHECKOUT = ("LatticeService", "shop", "checkout")
VAULTED = ("LatticeService", "shop", "vaulted")


def events_of(answers: list[Answer[Any]]) -> list[tuple[str, str, str]]:
    out = [(e.type, e.reason, e.regarding.name) for a in answers for e in a.events]
    answers.clear()
    return out


def test_dependency_missing_then_recovered_then_quiet() -> None:
    answers: list[Answer[Any]] = []
    mc = FakeMetacontroller(in_process(answers=answers))
    mc.apply_yaml(SHOP)
    mc.sync(*CHECKOUT)
    assert events_of(answers) == [("Warning", "DependenciesMissing", "checkout")]
    mc.sync(*CHECKOUT)
    assert events_of(answers) == []  # same status: no transition, no Event
    mc.apply_yaml(PAYMENTS)
    mc.sync(*CHECKOUT)
    [(kind, reason, message)] = [(e.type, e.reason, e.message) for a in answers for e in a.events]
    assert (kind, reason) == ("Normal", "Recovered")
    assert message.startswith("compiled ") and "(was DependenciesMissing: waiting for " in message
    answers.clear()
    mc.sync(*CHECKOUT)
    assert events_of(answers) == []


def test_secret_denied_recovered_and_denied_again() -> None:
    answers: list[Answer[Any]] = []
    mc = FakeMetacontroller(in_process(answers=answers))
    mc.apply_yaml(SECRET)
    mc.sync(*VAULTED)
    [event] = [e for a in answers for e in a.events]
    assert (event.type, event.reason) == ("Warning", "SecretAccessDenied")
    assert "secret access denied: 'db'" in event.message
    assert event.regarding.kind == "LatticeService" and event.regarding.uid
    answers.clear()
    mc.apply_yaml(PERMIT)
    mc.sync(*VAULTED)
    assert events_of(answers) == [("Normal", "Recovered", "vaulted")]
    forbid = docs(PERMIT)[0]
    forbid["spec"]["policies"] += 'forbid(principal, action, resource) when { resource.path like "shop/*" };\n'
    mc.apply(forbid)
    mc.sync(*VAULTED)
    assert events_of(answers) == [("Warning", "SecretAccessDenied", "vaulted")]


def test_one_sided_declaration_warns_and_agreement_is_normal() -> None:
    answers: list[Answer[Any]] = []
    mc = FakeMetacontroller(in_process(answers=answers))
    mc.apply_yaml(SHOP)
    mc.apply_yaml(PAYMENTS)
    web = ("LatticeService", "shop", "web")
    lonely = docs(SHOP)[0]
    lonely["spec"]["resources"].pop("web")  # checkout no longer accepts web
    mc.apply(lonely)
    mc.sync(*web)
    # The one-sided Warning comes with the first sync, "Compiled" once the children are applied.
    assert events_of(answers) == [("Warning", "OneSidedDeclaration", "web"), ("Normal", "Compiled", "web")]
    status = mc.get(*web)["status"]
    assert status["phase"] == "Ready"
    [one] = status["oneSided"]
    assert (one["name"], one["direction"]) == ("checkout", "outbound")
    assert one["fix"] == "resources:\n  web:\n    type: service\n    direction: inbound\n"
    mc.apply_yaml(SHOP)  # checkout accepts web again
    mc.sync(*web)
    assert events_of(answers) == [("Normal", "MeshAgreed", "web")]


def test_cedar_policy_invalid_then_fixed() -> None:
    answers: list[Answer[Any]] = []
    mc = FakeMetacontroller(in_process(answers=answers))
    policy = docs(PERMIT)[0]
    policy["spec"]["policies"] = "permit(principal, action, resource) when { principal.nope };"
    mc.apply(policy)
    mc.sync("CedarPolicy", "lattice-system", "shop-secrets")
    [event] = [e for a in answers for e in a.events]
    assert (event.type, event.reason, event.regarding.kind) == ("Warning", "PolicyInvalid", "CedarPolicy")
    answers.clear()
    mc.apply_yaml(PERMIT)
    mc.sync("CedarPolicy", "lattice-system", "shop-secrets")
    assert events_of(answers) == [("Normal", "Recovered", "shop-secrets")]


def test_lattice_cluster_failed_then_recovered() -> None:
    answers: list[Answer[Any]] = []
    mc = FakeMetacontroller(in_process(answers=answers))
    good = docs((ROOT / "examples" / "clusters" / "docker.yaml").read_text())[0]
    mc.apply({**good, "spec": {"providerRef": "nope"}})
    mc.sync("LatticeCluster", "", "dev")
    assert events_of(answers) == [("Warning", "ValidationFailed", "dev")]
    mc.apply(good)
    mc.sync("LatticeCluster", "", "dev")
    assert events_of(answers) == [("Normal", "Recovered", "dev")]


AUDIT_FORBID = """
apiVersion: lattice.dev/v1alpha1
kind: CedarPolicy
metadata: {name: audit-forbid, namespace: lattice-system}
spec:
  mode: Audit
  policies: |
    forbid(principal, action == Lattice::Action::"AccessSecret", resource) when { resource.path like "shop/*" };
"""


def test_audit_policy_changes_nothing_and_reports_on_both_objects() -> None:
    answers: list[Answer[Any]] = []
    mc = FakeMetacontroller(in_process(answers=answers))
    mc.apply_yaml(SECRET)
    mc.apply_yaml(PERMIT)
    mc.sync(*VAULTED)
    answers.clear()
    mc.apply_yaml(AUDIT_FORBID)
    answer = mc.sync(*VAULTED)
    assert answer["status"]["phase"] == "Ready"  # the audit forbid decides nothing
    assert mc.child(VAULTED, "ExternalSecret", "vaulted-db") is not None
    sync = answers[-1]  # after the customize call
    assert [(n.policy, n.action, n.would) for n in sync.audit] == [("audit-forbid", "AccessSecret", "deny")]
    on = {(e.regarding.kind, e.type, e.reason): e.message for e in sync.events}
    assert on[("CedarPolicy", "Warning", "AuditWouldDeny")] == (
        "shop/vaulted: secret 'db' would be denied by audit-forbid.0 were this policy enforced (it is allowed)")
    assert on[("LatticeService", "Warning", "AuditWouldDeny")] == (
        "CedarPolicy audit-forbid (Audit mode) would have denied secret 'db' by audit-forbid.0 (it is allowed)")
    policy_ref = next(e.regarding for e in sync.events if e.regarding.kind == "CedarPolicy")
    assert policy_ref.uid == mc.get("CedarPolicy", "lattice-system", "audit-forbid")["metadata"]["uid"]


def test_event_policy_on_plain_statuses() -> None:
    policy = EventPolicy(failures=frozenset({"Broken"}), first_success="Up")
    parent = {"apiVersion": "v1", "kind": "Thing", "metadata": {"name": "t", "uid": "u"}}
    ready = {"conditions": [{"type": "Ready", "status": "True", "reason": "Fine", "message": "ok"}]}
    broken = {"conditions": [{"type": "Ready", "status": "False", "reason": "Broken", "message": "bad"}]}
    ref = ObjectRef("v1", "Thing", "t", None, "u")
    assert policy.notes(parent, ready) == (EventNote(ref, "Normal", "Up", "ok"),)
    assert policy.notes({**parent, "status": ready}, ready) == ()
    assert policy.notes({**parent, "status": ready}, broken) == (EventNote(ref, "Warning", "Broken", "bad"),)
    assert policy.notes({**parent, "status": broken}, ready) == (
        EventNote(ref, "Normal", "Recovered", "ok (was Broken: bad)"),)
    assert policy.notes({"kind": "Thing"}, ready) == ()  # no name: nothing to point at


def test_children_being_applied_make_no_events() -> None:
    """The first success is one Compiled (after the Pending sync that created the children); an edit
    of a Ready service goes Pending (ApplyingUpdate) and Ready again without any Event."""
    answers: list[Answer[Any]] = []
    mc = FakeMetacontroller(in_process(answers=answers))
    mc.apply_yaml(SHOP)
    mc.apply_yaml(PAYMENTS)
    payments = ("LatticeService", "shop", "payments")
    mc.sync(*payments)
    assert events_of(answers) == [("Normal", "Compiled", "payments")]
    edited = docs(PAYMENTS)[0]
    edited["spec"]["containers"]["main"]["image"] = "shop/payments:2"
    edited["metadata"]["generation"] = 2
    mc.apply(edited)
    answer = mc.sync(*payments)
    assert answer["status"]["phase"] == "Ready"
    assert events_of(answers) == []
