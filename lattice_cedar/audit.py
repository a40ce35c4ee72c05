"""Audit-mode CedarPolicies: evaluated beside the enforced set, never part of a decision.

A CedarPolicy with ``spec.mode: Audit`` is left out of the enforced ``PolicyStore``. For each one,
``AuditedStore`` keeps a second store, the enforced set plus that policy alone, and reports every
request whose decision it would change (``AuditFinding``): "were ``audit-x`` enforced, this
service would be denied this secret". Each audit policy is judged on its own against what is in
force, so two audit policies never mask each other, and a finding always names one policy.

The decision in force is always the enforced store's; nothing here can change it. Pure.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence

import attrs

from crds.cedar_policy import CedarPolicy
from lattice_cedar.schema import ACCESS_CLUSTER, ACCESS_SECRET
from lattice_cedar.store import (
    POLICY_NAMESPACE,
    ClusterDirectory,
    Decision,
    PolicySource,
    PolicyStore,
    SecretAccess,
    audit_sources,
    enforced_sources,
)


@attrs.frozen
class AuditFinding:
    """Request ``index`` would be decided ``audited`` instead of ``enforced`` were ``policy`` enforced."""

    policy: str
    action: str
    index: int
    enforced: Decision
    audited: Decision

    @property
    def would(self) -> str:
        return "allow" if self.audited.allowed else "deny"


class AuditedStore:
    """The enforced store and one what-if store per Audit-mode policy; build with ``from_sources``."""

    _memo: OrderedDict[tuple[tuple[PolicySource, ...], tuple[PolicySource, ...]], AuditedStore] = OrderedDict()
    _memo_lock = threading.Lock()
    MEMO_SIZE = 16

    def __init__(self, enforced: PolicyStore, audits: Sequence[tuple[str, PolicyStore]] = ()) -> None:
        self.enforced = enforced
        self.audits: tuple[tuple[str, PolicyStore], ...] = tuple(audits)
        # Only an audit policy's own statements can make its store decide differently.
        self._own = {name: [s for s in store.statements if s.source == name] for name, store in self.audits}

    @classmethod
    def from_policies(cls, policies: Iterable[CedarPolicy], namespace: str = POLICY_NAMESPACE) -> AuditedStore:
        listed = list(policies)
        return cls.from_sources(enforced_sources(listed, namespace), audit_sources(listed, namespace))

    @classmethod
    def from_sources(cls, enforced: Iterable[PolicySource], audit: Iterable[PolicySource] = ()) -> AuditedStore:
        """Memoised by content; the enforced store is ``PolicyStore.from_sources``'s (shared)."""
        base = tuple(sorted(set(enforced)))
        audited = tuple(sorted(set(audit)))
        key = (base, audited)
        with cls._memo_lock:
            hit = cls._memo.get(key)
            if hit is not None:
                cls._memo.move_to_end(key)
                return hit
        store = cls(PolicyStore.from_sources(base),
                    [(a.name, PolicyStore.build((*base, a))) for a in audited])
        with cls._memo_lock:
            cls._memo[key] = store
            while len(cls._memo) > cls.MEMO_SIZE:
                cls._memo.popitem(last=False)
        return store

    @property
    def audit_policies(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.audits)

    def _relevant(self, name: str, action: str, namespace: str | None = None) -> bool:
        return any(PolicyStore.applies(s, action, namespace) for s in self._own[name])

    def audit_secrets(self, requests: Sequence[SecretAccess],
                      enforced: Sequence[Decision] | None = None) -> list[AuditFinding]:
        """Every (audit policy, request) whose decision that policy would change, in request order."""
        if not self.audits or not requests:
            return []
        decided = list(enforced) if enforced is not None else self.enforced.decide_secrets(requests)
        found: list[AuditFinding] = []
        for name, store in self.audits:
            namespaces = {r.namespace for r in requests}
            relevant = {ns for ns in namespaces if self._relevant(name, ACCESS_SECRET, ns)}
            picked = [i for i, r in enumerate(requests) if r.namespace in relevant]
            if not picked:
                continue
            would = store.decide_secrets([requests[i] for i in picked])
            found += [AuditFinding(name, ACCESS_SECRET, i, decided[i], w)
                      for i, w in zip(picked, would, strict=True) if w.allowed != decided[i].allowed]
        return sorted(found, key=lambda f: (f.index, f.policy))

    def audit_cluster(self, user: str, groups: Iterable[str], cluster: str,
                      labels: Mapping[str, str] | None = None,
                      enforced: Decision | None = None) -> list[AuditFinding]:
        """The audit policies that would change ``user``'s access to ``cluster``."""
        groups = tuple(groups)
        decided = enforced or self.enforced.authorize_cluster(user, groups, cluster, labels)
        found = []
        for name, store in self.audits:
            if not self._relevant(name, ACCESS_CLUSTER):
                continue
            would = store.authorize_cluster(user, groups, cluster, labels)
            if would.allowed != decided.allowed:
                found.append(AuditFinding(name, ACCESS_CLUSTER, 0, decided, would))
        return found

    def audit_clusters(self, user: str, groups: Iterable[str],
                       directory: ClusterDirectory) -> dict[str, list[AuditFinding]]:
        """Per cluster of the directory, the audit policies that would change ``user``'s access."""
        groups = tuple(groups)
        names = list(directory.labels)
        decided = self.enforced.authorize_clusters(user, groups, directory)
        found: dict[str, list[AuditFinding]] = {n: [] for n in names}
        for name, store in self.audits:
            if not self._relevant(name, ACCESS_CLUSTER):
                continue
            would = store.authorize_clusters(user, groups, directory)
            for i, cluster in enumerate(names):
                if would[cluster].allowed != decided[cluster].allowed:
                    found[cluster].append(AuditFinding(name, ACCESS_CLUSTER, i, decided[cluster], would[cluster]))
        return {n: f for n, f in found.items() if f}
