"""The policy store and the decision API: one policy set from every enabled CedarPolicy, judged by cedarpy.

* ``PolicyStore.from_policies(cedar_policies)`` — the union of every enabled, enforced
  (``spec.mode: Enforce``) CedarPolicy in ``lattice-system``; Audit-mode policies never enter it
  (``lattice_cedar.audit`` evaluates them beside it). Each statement keeps its own id,
  ``<object-name>.<index>`` (no collisions across objects, unlike the original). Parsed once into
  cedarpy handles and memoised by content, so a hook server that rebuilds the store on every sync
  pays a dict lookup.
* ``PolicyStore.decide_secrets`` (services reading secrets: ``hooks.secrets``),
  ``authorize_cluster`` / ``authorize_clusters`` / ``accessible_clusters`` (the API proxy).

Semantics: forbid beats permit; no permit means deny. Errors never widen access: a CedarPolicy
with any error contributes its forbid statements but none of its permits, and a forbid that fails
to evaluate turns an Allow into a Deny. No I/O here.
"""

from __future__ import annotations

import enum
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

import attrs
import cedarpy

from crds.cedar_policy import CedarPolicy, PolicyMode
from lattice_cedar import entities
from lattice_cedar.entities import Entity, Uid
from lattice_cedar.schema import ACCESS_CLUSTER, ACCESS_SECRET, ACTIONS, CLUSTER, USER
from lattice_cedar.statements import Effect, parse_text

POLICY_NAMESPACE = "lattice-system"


class DenyReason(enum.StrEnum):
    NO_PERMIT = "NoPermitPolicy"
    FORBIDDEN = "ExplicitForbid"
    FORBID_FAILED = "ForbidEvaluationError"

    @property
    def text(self) -> str:
        return _REASON_TEXT[self]


_REASON_TEXT = {
    DenyReason.NO_PERMIT: "no permit policy for this service and secret path",
    DenyReason.FORBIDDEN: "access explicitly forbidden by policy",
    DenyReason.FORBID_FAILED: "a forbid policy failed to evaluate (denied to be safe)",
}


@attrs.frozen
class Decision:
    """One authorization answer."""

    allowed: bool
    reason: DenyReason | None = None  # None when allowed
    policies: tuple[str, ...] = ()  # determining statement ids, highest priority first
    errors: tuple[str, ...] = ()  # evaluation errors Cedar reported (policy ids, no values)

    @property
    def reason_text(self) -> str:
        return "" if self.reason is None else self.reason.text


@attrs.frozen
class PolicyStatement:
    """A statement of the combined policy set."""

    id: str  # "<object-name>.<index>"
    source: str  # the CedarPolicy's name
    index: int
    line: int
    effect: Effect
    priority: int
    actions: frozenset[str] | None  # None: every action
    text: str
    est: str = attrs.field(repr=False)  # Cedar JSON (EST) of the statement
    namespaces: frozenset[str] | None = None  # service namespaces it can apply to; None: any
    checked: bool = True  # passed the schema, so it cannot fail to evaluate


@attrs.frozen
class ClusterDirectory:
    """The clusters a proxy knows (name → labels), parsed once into a Cedar entity handle.

    Build it when the registry changes and reuse it for every ``authorize_clusters`` call.
    """

    labels: Mapping[str, Mapping[str, str]]
    entities: cedarpy.Entities

    @classmethod
    def from_labels(cls, clusters: Mapping[str, Mapping[str, str]]) -> ClusterDirectory:
        frozen = {name: dict(labels) for name, labels in clusters.items()}
        ents = [entities.cluster_entity(n, labels) for n, labels in frozen.items()]
        return cls(frozen, cedarpy.Entities.from_json_str(json.dumps(ents)))


class SecretAccess(Protocol):
    """One service asking for one secret: the principal ``namespace/service`` and the resource
    ``provider:path`` (``hooks.context.SecretRequest`` is one)."""

    @property
    def namespace(self) -> str: ...
    @property
    def service(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def path(self) -> str: ...


class PolicySource(NamedTuple):
    """What the combined set takes from one enabled CedarPolicy."""

    name: str
    priority: int
    text: str


def in_force(policy: CedarPolicy, namespace: str = POLICY_NAMESPACE) -> bool:
    """Enabled, in ``namespace`` (whatever its mode)."""
    return policy.spec.enabled and policy.namespace == namespace


def enforced_sources(policies: Iterable[CedarPolicy], namespace: str = POLICY_NAMESPACE) -> list[PolicySource]:
    """The store sources of the enabled, enforced (``mode: Enforce``) CedarPolicies of ``namespace``."""
    return [PolicySource(p.name, p.spec.priority, p.spec.policies) for p in policies
            if in_force(p, namespace) and p.spec.mode is PolicyMode.ENFORCE]


def audit_sources(policies: Iterable[CedarPolicy], namespace: str = POLICY_NAMESPACE) -> list[PolicySource]:
    """The sources of the enabled Audit-mode CedarPolicies of ``namespace``."""
    return [PolicySource(p.name, p.spec.priority, p.spec.policies) for p in policies
            if in_force(p, namespace) and p.spec.mode is PolicyMode.AUDIT]


class PolicyStore:
    """An immutable, parsed policy set; build it with ``from_policies`` (memoised)."""

    _memo: OrderedDict[tuple[PolicySource, ...], PolicyStore] = OrderedDict()
    _memo_lock = threading.Lock()
    MEMO_SIZE = 16
    NAMESPACE_SETS = 1024  # per-namespace secret sets kept per store

    def __init__(self, statements: Sequence[PolicyStatement], problems: Sequence[str] = ()) -> None:
        self.statements: tuple[PolicyStatement, ...] = tuple(statements)
        # Objects with errors and what was left out because of them (for logs and status).
        self.problems: tuple[str, ...] = tuple(problems)
        self._by_id = {s.id: s for s in self.statements}
        self._rank = {s.id: i for i, s in enumerate(self.statements)}
        self._sets = {a: self._build_set(a) for a in ACTIONS}
        self._ns_sets: OrderedDict[str, cedarpy.PolicySet] = OrderedDict()
        self._ns_lock = threading.Lock()

    # ---- construction -------------------------------------------------------------------

    @classmethod
    def from_policies(cls, policies: Iterable[CedarPolicy], namespace: str = POLICY_NAMESPACE) -> PolicyStore:
        """The union of every enabled, enforced CedarPolicy in ``namespace``; others are ignored."""
        return cls.from_sources(enforced_sources(policies, namespace))

    @classmethod
    def from_sources(cls, sources: Iterable[PolicySource]) -> PolicyStore:
        """The union of the given (already selected) policy texts; memoised by content."""
        key = tuple(sorted(set(sources)))
        with cls._memo_lock:
            hit = cls._memo.get(key)
            if hit is not None:
                cls._memo.move_to_end(key)
                return hit
        store = cls._build(key)
        with cls._memo_lock:
            cls._memo[key] = store
            while len(cls._memo) > cls.MEMO_SIZE:
                cls._memo.popitem(last=False)
        return store

    @classmethod
    def build(cls, sources: Iterable[PolicySource]) -> PolicyStore:
        """Like ``from_sources`` without the memo (for short-lived what-if sets)."""
        return cls._build(tuple(sorted(set(sources))))

    @classmethod
    def empty(cls) -> PolicyStore:
        return cls(())

    @classmethod
    def _build(cls, key: tuple[PolicySource, ...]) -> PolicyStore:
        statements: list[PolicyStatement] = []
        problems: list[str] = []
        # Highest priority first, then name: the order statements are evaluated and reported in.
        seen: set[str] = set()
        for name, priority, text in sorted(key, key=lambda k: (-k[1], k[0])):
            if name in seen:  # names are unique in a namespace; never let two share statement ids
                problems.append(f"CedarPolicy {name!r}: given twice; only the higher-priority copy is used")
                continue
            seen.add(name)
            parsed = parse_text(text)
            broken = [s for s in parsed if not s.valid]
            if broken:
                dropped = sum(1 for s in parsed if s.effect == "permit")
                problems.append(
                    f"CedarPolicy {name!r}: {len(broken)} invalid statement(s); "
                    f"its {dropped} permit statement(s) are not in force, its forbids are"
                )
            for s in parsed:
                if s.est is None or s.effect is None or (broken and s.effect == "permit"):
                    continue
                statements.append(PolicyStatement(
                    id=f"{name}.{s.index}", source=name, index=s.index, line=s.line, effect=s.effect,
                    priority=priority, actions=s.actions, text=s.text, est=s.est,
                    namespaces=s.namespaces, checked=s.valid,
                ))
        return cls(statements, problems)

    @staticmethod
    def applies(s: PolicyStatement, action: str, namespace: str | None = None) -> bool:
        """Whether ``s`` can take part in a decision on ``action`` (by a service of ``namespace``)."""
        if s.actions is not None and action not in s.actions:
            return False
        # Statements that may fail to evaluate always stay: their errors are part of the decision.
        return namespace is None or s.namespaces is None or not s.checked or namespace in s.namespaces

    def _build_set(self, action: str, namespace: str | None = None) -> cedarpy.PolicySet:
        # Cedar evaluates every statement for every request (no index). A statement whose action
        # scope excludes `action`, or that requires another principal namespace, can never be
        # satisfied, so each action (and, for secrets, each service namespace) gets its own set.
        chosen = [s for s in self.statements if self.applies(s, action, namespace)]
        body = ",".join(f"{json.dumps(s.id)}:{s.est}" for s in chosen)
        return cedarpy.PolicySet.from_json_str(
            f'{{"staticPolicies":{{{body}}},"templates":{{}},"templateLinks":[]}}'
        )

    def _secret_set(self, namespace: str) -> cedarpy.PolicySet:
        with self._ns_lock:
            hit = self._ns_sets.get(namespace)
            if hit is not None:
                self._ns_sets.move_to_end(namespace)
                return hit
        built = self._build_set(ACCESS_SECRET, namespace)
        with self._ns_lock:
            self._ns_sets[namespace] = built
            while len(self._ns_sets) > self.NAMESPACE_SETS:
                self._ns_sets.popitem(last=False)
        return built

    # ---- introspection ------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.statements)

    def statement(self, policy_id: str) -> PolicyStatement | None:
        return self._by_id.get(policy_id)

    def count(self, action: str, namespace: str | None = None) -> int:
        """How many statements a request for ``action`` (by a service of ``namespace``) meets."""
        if namespace is not None and action == ACCESS_SECRET:
            return len(self._secret_set(namespace))
        return len(self._sets[action])

    # ---- secrets (services) -----------------------------------------------------

    def decide_secrets(self, requests: Sequence[SecretAccess]) -> list[Decision]:
        """One decision per request, in order, with its determining statements."""
        if not requests:
            return []
        found: dict[str, Entity] = {}
        by_namespace: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for i, r in enumerate(requests):
            svc = entities.service_entity(r.namespace, r.service)
            path = entities.secret_path_entity(r.provider, r.path)
            found.setdefault(f"s {svc['uid']['id']}", svc)
            found.setdefault(f"p {path['uid']['id']}", path)
            by_namespace.setdefault(r.namespace, []).append((i, _request(svc["uid"], ACCESS_SECRET, path["uid"])))
        handle = cedarpy.Entities.from_json_str(json.dumps(list(found.values())))
        out: list[Decision | None] = [None] * len(requests)
        for namespace, group in by_namespace.items():
            decisions = self._decide(self._secret_set(namespace), [req for _, req in group], handle)
            for (i, _), decision in zip(group, decisions, strict=True):
                out[i] = decision
        return [d for d in out if d is not None]

    # ---- clusters (API proxy) -----------------------------------------------------------

    def authorize_cluster(self, user: str, groups: Iterable[str], cluster: str,
                          labels: Mapping[str, str] | None = None) -> Decision:
        """May ``user`` (member of ``groups``) reach ``cluster`` (with ``labels``)?"""
        ents = [*entities.user_entities(user, groups), entities.cluster_entity(cluster, labels)]
        handle = cedarpy.Entities.from_json_str(json.dumps(ents))
        req = _request(entities.uid(USER, user), ACCESS_CLUSTER, entities.uid(CLUSTER, cluster))
        return self._decide(self._sets[ACCESS_CLUSTER], [req], handle)[0]

    def authorize_clusters(self, user: str, groups: Iterable[str],
                           clusters: ClusterDirectory | Mapping[str, Mapping[str, str]]) -> dict[str, Decision]:
        """A decision for every cluster of the directory, in one batch."""
        directory = clusters if isinstance(clusters, ClusterDirectory) else ClusterDirectory.from_labels(clusters)
        names = list(directory.labels)
        if not names:
            return {}
        handle = directory.entities.with_added_json_str(json.dumps(entities.user_entities(user, groups)))
        principal = entities.uid(USER, user)
        reqs = [_request(principal, ACCESS_CLUSTER, entities.uid(CLUSTER, n)) for n in names]
        return dict(zip(names, self._decide(self._sets[ACCESS_CLUSTER], reqs, handle), strict=True))

    def accessible_clusters(self, user: str, groups: Iterable[str],
                            clusters: ClusterDirectory | Mapping[str, Mapping[str, str]]) -> list[str]:
        """Names of the clusters ``user`` may reach, in directory order."""
        return [n for n, d in self.authorize_clusters(user, groups, clusters).items() if d.allowed]

    # ---- evaluation ---------------------------------------------------------------------

    def _decide(self, policy_set: cedarpy.PolicySet, requests: list[dict[str, Any]],
                handle: cedarpy.Entities) -> list[Decision]:
        if len(policy_set) == 0:
            return [Decision(False, DenyReason.NO_PERMIT) for _ in requests]
        results = cedarpy.is_authorized_batch(requests, policy_set, handle)
        return [self._decision(r) for r in results]

    def _decision(self, result: cedarpy.AuthzResult) -> Decision:
        reasons = tuple(sorted(result.diagnostics.reasons, key=self._order))
        errors = tuple(result.diagnostics.errors)
        if result.decision is cedarpy.Decision.Allow:
            failed = [i for i in _errored_ids(errors) if (s := self._by_id.get(i)) and s.effect == "forbid"]
            if failed:
                return Decision(False, DenyReason.FORBID_FAILED, tuple(sorted(failed, key=self._order)), errors)
            return Decision(True, None, reasons, errors)
        if reasons:  # a Deny with determining statements: forbids matched
            return Decision(False, DenyReason.FORBIDDEN, reasons, errors)
        return Decision(False, DenyReason.NO_PERMIT, (), errors)

    def _order(self, policy_id: str) -> int:
        return self._rank.get(policy_id, len(self._rank))


def _request(principal: Uid, action: str, resource: Uid) -> dict[str, Any]:
    # No "context" key: Cedar defaults it to {} and cedarpy then skips a json.dumps per request.
    return {"principal": principal, "action": entities.action(action), "resource": resource}


_ERRORED = re.compile(r"error while evaluating policy `([^`]*)`")


def _errored_ids(errors: Iterable[str]) -> list[str]:
    return [m.group(1) for e in errors for m in _ERRORED.finditer(e)]
