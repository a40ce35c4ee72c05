"""What ``${resources.<name>.<key>...}`` reads for one resource: a JSON-like tree of outputs whose
leaves may be secret keys (``SecretKeyRef``) or text mixed with them (``Parts``).

Lookups follow score-go: walk the keys through nested maps; a string is inserted as is, any other
value (number, boolean, map, list) as its JSON encoding (keys sorted, no spaces, like Go's
``json.Marshal``). A map or list holding a secret cannot be inserted: reference one of its keys.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from hooks.service.templates import Parts, Path, Resolved, SecretKeyRef, Unresolved


@attrs.frozen
class Outputs:
    """One resource's outputs. ``any_key`` answers keys not in ``values`` (secret, environment);
    ``error`` is raised by every lookup (e.g. the provisioning failed, or a peer is missing)."""

    type: str
    values: Mapping[str, Any] = attrs.field(factory=dict)
    any_key: Callable[[str], Resolved] | None = None
    error: Unresolved | None = None


def _available(values: Mapping[str, Any]) -> str:
    return ", ".join(sorted(values)) or "none"


def lookup(name: str, out: Outputs, keys: Path) -> Resolved:
    if out.error is not None:
        raise out.error
    if not keys:
        if out.type == "volume":
            raise Unresolved("a bare volume reference is only valid as a volume source "
                             f"(outputs: {_available(out.values)})")
        raise Unresolved(f"resource '{name}' needs an output key, e.g. '${{resources.{name}.<key>}}' "
                         f"(available: {_available(out.values)})")
    first = keys[0]
    if first not in out.values:
        if out.any_key is not None and len(keys) == 1:
            return out.any_key(first)
        raise Unresolved(f"resource '{name}' (type {out.type}) has no output '{first}' "
                         f"(available: {_available(out.values)})")
    value = out.values[first]
    for i, key in enumerate(keys[1:], start=1):
        where = ".".join(keys[:i])
        if not isinstance(value, Mapping):
            raise Unresolved(f"cannot look up key '{key}': output '{where}' of resource '{name}' is not a map")
        if key not in value:
            raise Unresolved(f"output '{where}' of resource '{name}' has no key '{key}' "
                             f"(available: {_available(value)})")
        value = value[key]
    return as_resolved(value, f"output '{'.'.join(keys)}' of resource '{name}'")


def has_secret(value: Any) -> bool:
    if isinstance(value, SecretKeyRef | Parts):
        return True
    if isinstance(value, Mapping):
        return any(has_secret(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(has_secret(v) for v in value)
    return False


def as_resolved(value: Any, what: str) -> Resolved:
    if isinstance(value, str | SecretKeyRef | Parts):
        return value
    if has_secret(value):
        raise Unresolved(f"{what} holds secret references and cannot be inserted whole: reference one of its keys")
    return to_json(value)


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
