"""What would change if a CedarPolicy were applied: the decisions that flip.

``what_if(current, change, secrets, principals, clusters)`` compares the policy set in force
(``current``) with the set after ``change`` is applied (added, or replacing the CedarPolicy of the
same name and namespace) over every request in scope:

* every secret every service declares (``SecretAccess``), and
* every (principal, cluster) pair: the principals are each user any statement of either set names,
  a member of each named group, any given ones, "any other user" (no name a statement mentions,
  no group), so an unconditional permit or forbid is seen too, and each named user in each named
  group when the change names that user or that group; clusters are the directory's. A user no
  statement names is decided like "any other user" or "any member of" its group. A change open
  to every principal (``principal`` unconstrained) treats all alike: when it adds or removes one
  such statement, a user-in-group that flips implies the user alone or the group's members flip
  too (a permit can only flip where no permit and no forbid matched, which then holds for the
  user alone; a forbid only where a permit matched and no forbid, which then holds for the group
  member or the user alone), so those rows show it. Memberships of several named groups at once
  are checked only for principals given explicitly (``--user U --group A --group B``).

Pruning keeps it fast: a statement that is the same, with the same id, in both sets decides both
alike, so only requests a *changed* statement can apply to (by action and service namespace) are
considered, and of those only the ones a changed statement is satisfied on (screened with the
changed statements alone, ``screen_store``) are decided in full, before and after.

A change in Audit mode flips nothing; its would-be flips, as if it were enforced, are reported
beside (``WhatIf.audit``). Pure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence

import attrs

from crds.cedar_policy import CedarPolicy, PolicyMode
from lattice_cedar import entities
from lattice_cedar.schema import ACCESS_CLUSTER, ACCESS_SECRET
from lattice_cedar.store import (
    POLICY_NAMESPACE,
    ClusterDirectory,
    Decision,
    PolicyStatement,
    PolicyStore,
    SecretAccess,
    enforced_sources,
)

ANY_OTHER_USER = "(any other user)"


@attrs.frozen
class Principal:
    """Someone asking for clusters: a user and the groups it is in, and how to show it."""

    user: str
    groups: tuple[str, ...] = ()
    label: str = ""

    @property
    def shown(self) -> str:
        return self.label or f"user {self.user}" + (f" (groups {', '.join(self.groups)})" if self.groups else "")


@attrs.frozen
class Flip:
    """One decision that changes: ``principal`` on ``resource`` goes from ``before`` to ``after``."""

    action: str
    principal: str  # "<namespace>/<service>" or a Principal's shown form
    resource: str  # "<provider>:<path>" or the cluster name
    before: Decision
    after: Decision
    detail: str = ""  # for a secret: the service's resource key

    @property
    def change(self) -> str:
        return f"{_word(self.before)} -> {_word(self.after)}"


def _word(d: Decision) -> str:
    return "allow" if d.allowed else "deny"


@attrs.frozen
class WhatIf:
    """``flips``: decisions the change makes; ``audit``: those it would make if enforced (Audit mode)."""

    change: str  # "add CedarPolicy x", "replace CedarPolicy x", ...
    mode: PolicyMode
    flips: tuple[Flip, ...]
    audit: tuple[Flip, ...] = ()
    evaluated: int = 0  # requests evaluated (after pruning), for the curious


def apply_change(current: Sequence[CedarPolicy], change: CedarPolicy) -> tuple[list[CedarPolicy], str]:
    """The policies after ``change`` (replacing the one with its name and namespace), and what it did."""
    same = [p for p in current if p.name == change.name and p.namespace == change.namespace]
    rest = [p for p in current if not (p.name == change.name and p.namespace == change.namespace)]
    verb = "replace" if same else "add"
    if change.namespace != POLICY_NAMESPACE:
        verb += f" (outside {POLICY_NAMESPACE}: never enforced)"
    return [*rest, change], f"{verb} CedarPolicy {change.name}"


def changed_statements(before: PolicyStore, after: PolicyStore) -> list[PolicyStatement]:
    """Statements in one set and not, identically, in the other (priority alone decides nothing)."""
    def key(s: PolicyStatement) -> tuple[str, str, str, bool]:
        return (s.id, s.effect, s.est, s.checked)

    old = {key(s): s for s in before.statements}
    new = {key(s): s for s in after.statements}
    return [s for k, s in old.items() if k not in new] + [s for k, s in new.items() if k not in old]


_NAMED = re.compile(r'Lattice::(User|Group)\s*::\s*"((?:[^"\\]|\\.)*)"')


def _names(statements: Iterable[PolicyStatement]) -> tuple[set[str], set[str]]:
    users: set[str] = set()
    groups: set[str] = set()
    for s in statements:
        for kind, name in _NAMED.findall(s.text):
            (users if kind == "User" else groups).add(_unescape(name))
    return users, groups


def named_principals(stores: Iterable[PolicyStore], extra: Iterable[Principal] = (),
                     changed: Iterable[PolicyStatement] | None = None) -> list[Principal]:
    """The users the statements name, a member of each named group, the given principals, and
    ``ANY_OTHER_USER``; and users in groups: every named user in every named group, or, given the
    ``changed`` statements, the pairs in which the change names the user or the group (see the
    module doc for why that suffices for one added or removed statement). Stable order."""
    users, groups = _names(s for store in stores for s in store.statements)
    if changed is None:
        pairs = {(u, g) for u in users for g in groups}
    else:
        hot_users, hot_groups = _names(changed)
        pairs = {(u, g) for u in users for g in groups if u in hot_users or g in hot_groups}
    out = [Principal(u, (), f"user {u}") for u in sorted(users)]
    out += [Principal(u, (g,), f"user {u} in group {g}") for u, g in sorted(pairs)]
    out += [Principal(f"(a member of {g})", (g,), f"any member of group {g}") for g in sorted(groups)]
    out += list(extra)
    out.append(Principal(ANY_OTHER_USER, (), ANY_OTHER_USER))
    seen: set[tuple[str, tuple[str, ...]]] = set()
    unique = []
    for p in out:
        if (p.user, p.groups) not in seen:
            seen.add((p.user, p.groups))
            unique.append(p)
    return unique


def _unescape(literal: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}.get(m.group(1), m.group(1)), literal)


def screen_store(changed: Sequence[PolicyStatement]) -> PolicyStore:
    """The changed statements alone, each as a permit: a request this store allows (or on which a
    statement errors) is one a changed statement is satisfied on; on any other request the
    satisfied statements of the two sets are the same, so their decisions are too."""
    as_permits = []
    for i, st in enumerate(changed):  # a statement replaced under its id is there twice: new ids
        est = json.loads(st.est)
        est["effect"] = "permit"
        as_permits.append(attrs.evolve(st, id=f"changed.{i}", effect="permit",
                                       est=json.dumps(est, separators=(",", ":"))))
    return PolicyStore(as_permits)


def _principal_blind(statement: PolicyStatement) -> bool:
    """Unconstrained principal scope and no other mention of ``principal`` anywhere."""
    scope = json.loads(statement.est).get("principal") or {}
    return scope.get("op") == "All" and len(re.findall(r"\bprincipal\b", statement.text)) == 1


def _touched(d: Decision) -> bool:
    return d.allowed or bool(d.errors)


def flips(before: PolicyStore, after: PolicyStore, secrets: Sequence[SecretAccess],
          principals: Sequence[Principal] = (), clusters: ClusterDirectory | None = None) -> tuple[list[Flip], int]:
    """Every decision that differs between ``before`` and ``after``, and how many full decisions
    were made: only on requests a changed statement can apply to (action, service namespace)
    and is satisfied on (``screen_store``)."""
    changed = changed_statements(before, after)
    screen = screen_store(changed)
    out: list[Flip] = []
    evaluated = 0
    if any(PolicyStore.applies(s, ACCESS_SECRET) for s in changed):
        namespaces = {r.namespace for r in secrets}
        touched = {ns for ns in namespaces if any(PolicyStore.applies(s, ACCESS_SECRET, ns) for s in changed)}
        picked = [r for r in secrets if r.namespace in touched]
        picked = [r for r, d in zip(picked, screen.decide_secrets(picked), strict=True) if _touched(d)]
        evaluated += 2 * len(picked)
        for r, b, a in zip(picked, before.decide_secrets(picked), after.decide_secrets(picked), strict=True):
            if b.allowed != a.allowed:
                out.append(Flip(ACCESS_SECRET, entities.service_id(r.namespace, r.service),
                                entities.secret_path_id(r.provider, r.path), b, a,
                                str(getattr(r, "resource", ""))))
    cluster_changes = [s for s in changed if PolicyStore.applies(s, ACCESS_CLUSTER)]
    if clusters is not None and clusters.labels and cluster_changes:
        # Statements that never look at the principal are satisfied on the same clusters for all.
        blind = all(_principal_blind(s) for s in cluster_changes)
        shared = [n for n, d in screen.authorize_clusters(ANY_OTHER_USER, (), clusters).items() if _touched(d)] \
            if blind else []
        for p in principals:
            hit = shared if blind else \
                [n for n, d in screen.authorize_clusters(p.user, p.groups, clusters).items() if _touched(d)]
            if not hit:
                continue
            subset = ClusterDirectory.from_labels({n: clusters.labels[n] for n in hit})
            evaluated += 2 * len(hit)
            old = before.authorize_clusters(p.user, p.groups, subset)
            new = after.authorize_clusters(p.user, p.groups, subset)
            out += [Flip(ACCESS_CLUSTER, p.shown, name, old[name], new[name])
                    for name in hit if old[name].allowed != new[name].allowed]
    return out, evaluated


def what_if(current: Sequence[CedarPolicy], change: CedarPolicy, secrets: Sequence[SecretAccess],
            principals: Sequence[Principal] = (), clusters: ClusterDirectory | None = None) -> WhatIf:
    """The flip list of applying ``change`` on top of ``current`` (see the module doc)."""
    after_policies, verb = apply_change(current, change)
    before = PolicyStore.from_sources(enforced_sources(current))
    after = PolicyStore.from_sources(enforced_sources(after_policies))
    if change.spec.mode is PolicyMode.AUDIT and change.spec.enabled:
        # Nothing flips; what would flip is the change enforced.
        enforced = attrs.evolve(change, spec=attrs.evolve(change.spec, mode=PolicyMode.ENFORCE))
        would_policies, _ = apply_change(current, enforced)
        would = PolicyStore.from_sources(enforced_sources(would_policies))
        people = named_principals((before, would), principals, changed_statements(before, would))
        done, n = flips(before, after, secrets, people, clusters)
        audit, m = flips(before, would, secrets, people, clusters)
        return WhatIf(verb, PolicyMode.AUDIT, tuple(done), tuple(audit), n + m)
    people = named_principals((before, after), principals, changed_statements(before, after))
    done, n = flips(before, after, secrets, people, clusters)
    return WhatIf(verb, change.spec.mode, tuple(done), (), n)


def principal_of(user: str, groups: Iterable[str]) -> Principal:
    return Principal(user, tuple(sorted(set(groups))))


__all__ = [
    "ANY_OTHER_USER",
    "Flip",
    "Principal",
    "WhatIf",
    "apply_change",
    "changed_statements",
    "flips",
    "named_principals",
    "principal_of",
    "what_if",
]
