"""The policy store a sync uses, built from the CedarPolicies Metacontroller delivered as related objects.

Reads only the fields the store needs from the raw objects (cheap on every sync); the store itself
is memoised by content, so unchanged policies are never parsed twice.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from lattice_common.cedar import POLICY_NAMESPACE, PolicySource, PolicyStore

CEDAR_POLICY_GROUP = "CedarPolicy.lattice.dev/v1alpha1"


def policy_sources(objects: Iterable[Mapping[str, Any]], namespace: str = POLICY_NAMESPACE) -> list[PolicySource]:
    """Enabled CedarPolicies of ``namespace`` as store sources; malformed objects are skipped."""
    out: list[PolicySource] = []
    for obj in objects:
        meta, spec = obj.get("metadata"), obj.get("spec")
        if not isinstance(meta, Mapping) or not isinstance(spec, Mapping):
            continue
        if obj.get("kind") != "CedarPolicy" or meta.get("namespace") != namespace:
            continue
        name, text = meta.get("name"), spec.get("policies")
        enabled, priority = spec.get("enabled", True), spec.get("priority", 0)
        if not isinstance(name, str) or not isinstance(text, str) or enabled is not True:
            continue
        if not isinstance(priority, int) or isinstance(priority, bool):
            priority = 0
        out.append(PolicySource(name, priority, text))
    return out


def store_from_related(related: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> PolicyStore:
    """The store for one sync request's ``related`` map (empty store: every secret denied)."""
    return PolicyStore.from_sources(policy_sources((related.get(CEDAR_POLICY_GROUP) or {}).values()))
