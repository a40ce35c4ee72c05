"""Cedar ``AccessCluster`` decisions for the proxy, with a cache that forgets everything the moment
a CedarPolicy or the subtree (cluster labels) changes.

The policy set is every enabled CedarPolicy of ``lattice-system`` (``lattice_cedar.PolicyStore``,
which parses each distinct text once). Decisions are cached per (user, groups, cluster): a hit is a
dict lookup, which is what most requests of a busy client cost.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import Counter

from lattice_cedar import POLICY_NAMESPACE, Decision, PolicySource, PolicyStore
from lattice_cell.proxy.identity import Identity

log = logging.getLogger(__name__)

DECISIONS = Counter("lattice_api_proxy_authz_total", "Cedar AccessCluster decisions of the API proxy "
                    "(cache misses only)", ["decision"])
CACHE_ENTRIES = 65536


def policy_sources(objects: Iterable[Mapping[str, Any]]) -> list[PolicySource]:
    """The enabled CedarPolicies of lattice-system, read from raw objects (name, priority, text)."""
    sources = []
    for obj in objects:
        meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
        if meta.get("namespace", POLICY_NAMESPACE) != POLICY_NAMESPACE or spec.get("enabled", True) is False:
            continue
        text, priority = spec.get("policies"), spec.get("priority", 0)
        if isinstance(text, str) and isinstance(priority, int):
            sources.append(PolicySource(str(meta.get("name", "")), priority, text))
    return sources


class ClusterAuthorizer:
    def __init__(self, store: PolicyStore | None = None) -> None:
        self.store = store or PolicyStore.empty()  # default deny until the first list arrives
        self.policies_loaded = store is not None
        self._cache: dict[tuple[str, tuple[str, ...], str], Decision] = {}

    def set_policies(self, objects: Iterable[Mapping[str, Any]]) -> None:
        self.store = PolicyStore.from_sources(policy_sources(objects))
        self.policies_loaded = True
        self._cache.clear()
        for problem in self.store.problems:
            log.warning("Cedar: %s", problem)
        log.info("API proxy: %d Cedar statement(s) in force", len(self.store))

    def invalidate(self) -> None:
        self._cache.clear()

    def decide(self, identity: Identity, cluster: str, labels: Mapping[str, str] | None) -> Decision:
        key = (identity.username, identity.groups, cluster)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        decision = self.store.authorize_cluster(identity.username, identity.groups, cluster, labels)
        DECISIONS.labels("allow" if decision.allowed else "deny").inc()
        if decision.allowed:
            log.debug("AccessCluster %s -> %s allowed by %s", identity.username, cluster, list(decision.policies))
        else:
            log.info("AccessCluster denied: user %r (groups %s) -> cluster %r: %s %s%s", identity.username,
                     list(identity.groups), cluster, decision.reason, list(decision.policies),
                     f" errors: {list(decision.errors)}" if decision.errors else "")
        if len(self._cache) >= CACHE_ENTRIES:
            self._cache.clear()
        self._cache[key] = decision
        return decision

    def accessible(self, identity: Identity, clusters: Mapping[str, Mapping[str, str]]) -> list[str]:
        """Names of the clusters the caller may access, in the order given."""
        return [name for name, labels in clusters.items() if self.decide(identity, name, labels).allowed]


def denial_message(identity: Identity, cluster: str, decision: Decision) -> str:
    why = {"NoPermitPolicy": "no Cedar policy permits it", "ExplicitForbid": "forbidden by Cedar policy",
           "ForbidEvaluationError": "a forbid policy failed to evaluate (denied to be safe)"}
    reason = why.get(str(decision.reason), str(decision.reason))
    ids = f" ({', '.join(decision.policies)})" if decision.policies else ""
    return f"user {identity.username!r} cannot access cluster {cluster!r}: {reason}{ids}"
