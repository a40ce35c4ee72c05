"""What would change if a CedarPolicy were applied: the decisions that flip.

``what_if(current, change, secrets, principals, clusters)`` compares the policy set in force
(``current``) with the set after ``change`` is applied (added, or replacing the CedarPolicy of the
same name and namespace) over every request in scope:

* every secret every service declares (``SecretAccess``), and
* every (principal, cluster) pair: the principals are each user any statement of either set names
  (alone, and in each named group), a member of each named group, any given ones, and "any other
  user" (no name a statement mentions, no group), so an unconditional permit or forbid is seen
  too; clusters are the directory's. A user no statement names is decided like "any other user"
  or "any member of" its group, so this covers every principal in at most one named group;
  memberships of several named groups at once are checked only for principals given explicitly.

Only requests that a changed statement can apply to are evaluated (a statement that is the same,
with the same id, in both sets decides both alike), which keeps a 1,000-service fleet well under
a second. A change in Audit mode flips nothing; its would-be flips, as if it were enforced, are
reported beside (``WhatIf.audit``). Pure.
"""

from __future__ import annotations

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


def named_principals(stores: Iterable[PolicyStore], extra: Iterable[Principal] = ()) -> list[Principal]:
    """The users the statements name (alone and in each named group), a member of each named
    group, the given principals, and ``ANY_OTHER_USER``; in a stable order."""
    users: set[str] = set()
    groups: set[str] = set()
    for store in stores:
        for s in store.statements:
            for kind, name in _NAMED.findall(s.text):
                (users if kind == "User" else groups).add(_unescape(name))
    out = [Principal(u, (), f"user {u}") for u in sorted(users)]
    out += [Principal(u, (g,), f"user {u} in group {g}") for u in sorted(users) for g in sorted(groups)]
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


def flips(before: PolicyStore, after: PolicyStore, secrets: Sequence[SecretAccess],
          principals: Sequence[Principal] = (), clusters: ClusterDirectory | None = None) -> tuple[list[Flip], int]:
    """Every decision that differs between ``before`` and ``after``, and how many were evaluated."""
    changed = changed_statements(before, after)
    out: list[Flip] = []
    evaluated = 0
    if any(PolicyStore.applies(s, ACCESS_SECRET) for s in changed):
        namespaces = {r.namespace for r in secrets}
        touched = {ns for ns in namespaces if any(PolicyStore.applies(s, ACCESS_SECRET, ns) for s in changed)}
        picked = [r for r in secrets if r.namespace in touched]
        evaluated += 2 * len(picked)
        for r, b, a in zip(picked, before.decide_secrets(picked), after.decide_secrets(picked), strict=True):
            if b.allowed != a.allowed:
                out.append(Flip(ACCESS_SECRET, entities.service_id(r.namespace, r.service),
                                entities.secret_path_id(r.provider, r.path), b, a,
                                str(getattr(r, "resource", ""))))
    if clusters is not None and clusters.labels and any(PolicyStore.applies(s, ACCESS_CLUSTER) for s in changed):
        for p in principals:
            evaluated += 2 * len(clusters.labels)
            old = before.authorize_clusters(p.user, p.groups, clusters)
            new = after.authorize_clusters(p.user, p.groups, clusters)
            out += [Flip(ACCESS_CLUSTER, p.shown, name, old[name], new[name])
                    for name in clusters.labels if old[name].allowed != new[name].allowed]
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
        people = named_principals((before, would), principals)
        done, n = flips(before, after, secrets, people, clusters)
        audit, m = flips(before, would, secrets, people, clusters)
        return WhatIf(verb, PolicyMode.AUDIT, tuple(done), tuple(audit), n + m)
    people = named_principals((before, after), principals)
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
