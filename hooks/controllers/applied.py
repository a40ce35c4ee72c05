"""Ready only once every desired child is in the cluster as desired.

Metacontroller writes a parent's status even when applying a child failed (it logs the error,
records an event and retries with backoff), so a status computed from the compile alone would say
Ready about children the apiserver refused. Instead each desired child carries a hash of itself
(annotation ``lattice.dev/desired-hash``), and a parent that would be Ready stays Pending until
every observed child carries the hash it is desired with: that annotation is only there once the
apiserver accepted the apply. A child created or updated re-syncs its parent (Metacontroller
watches the children), so Ready follows within one more sync.

Children of an ``OnDelete`` kind are never updated in place, so for them presence is enough.

The Ready condition while waiting: ``ApplyPending`` until the parent was first Ready,
``ApplyingUpdate`` once it had been (so the Events of ``hooks.controllers.events`` say "Compiled"
once, not after every edit); a parent that was failing keeps its failure condition until the
children are in (so the next Event is "Recovered", not a second first success). The phase is
Pending and the message names what is still waiting in every case.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
from typing import Any, TypeVar

import attrs
import orjson

from crds import ConditionStatus, KubeObject
from hooks import wire
from hooks.controllers.events import APPLY_PENDING, APPLYING_UPDATE
from hooks.wire import ObjectMap, SyncRequest

DESIRED_HASH = "lattice.dev/desired-hash"
TRANSIENT = frozenset({APPLY_PENDING, APPLYING_UPDATE})
READY = "Ready"

S = TypeVar("S")


def desired_hash(child: KubeObject) -> str:
    """A short hash of the child as desired (its own hash annotation left out)."""
    meta = dict(child.get("metadata") or {})
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != DESIRED_HASH}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    canonical = orjson.dumps({**child, "metadata": meta}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:16]


def stamp(children: Iterable[KubeObject]) -> list[KubeObject]:
    """Copies of ``children`` carrying their :func:`desired_hash` (the originals are not changed)."""
    out = []
    for child in children:
        meta = dict(child.get("metadata") or {})
        meta["annotations"] = {**(meta.get("annotations") or {}), DESIRED_HASH: desired_hash(child)}
        out.append({**child, "metadata": meta})
    return out


def not_applied(desired: Iterable[KubeObject], observed: ObjectMap, *, on_delete: Collection[str] = (),
                namespace: str | None = None) -> list[str]:
    """``Kind name`` of every stamped desired child that is not observed with its hash (for a
    group key in ``on_delete``: not observed at all), in the order given. A child without a
    namespace lives in ``namespace`` (the parent's, as Metacontroller defaults it)."""
    out = []
    for child in desired:
        group = wire.group_key(str(child.get("apiVersion")), str(child.get("kind")))
        meta = child.get("metadata") or {}
        key = wire.object_key({"metadata": {"name": meta.get("name"), "namespace": meta.get("namespace") or namespace}})
        seen = (observed.get(group) or {}).get(key)
        want = ((child.get("metadata") or {}).get("annotations") or {}).get(DESIRED_HASH)
        have = ((seen or {}).get("metadata") or {}).get("annotations") or {}
        if seen is None or (group not in on_delete and have.get(DESIRED_HASH) != want):
            out.append(f"{child.get('kind')} {(child.get('metadata') or {}).get('name')}")
    return out


def pending_message(compiled: str | None, waiting: list[str]) -> str:
    shown = ", ".join(waiting[:5]) + (f" and {len(waiting) - 5} more" if len(waiting) > 5 else "")
    return (f"{compiled or 'compiled'}; waiting for {len(waiting)} to be applied: {shown} (one the apiserver refuses "
            "stays here: see the events of this object)")


def _current_ready(parent: KubeObject) -> dict[str, Any] | None:
    status = parent.get("status")
    for cond in (status.get("conditions") or []) if isinstance(status, dict) else []:
        if isinstance(cond, dict) and cond.get("type") == READY:
            return cond
    return None


def until_applied(status: S, children: list[KubeObject], req: SyncRequest, pending_phase: Any, *,
                  on_delete: Collection[str] = ()) -> S:
    """``status`` (an attrs status with ``phase``, ``message`` and ``conditions``) when it is not
    Ready or every child is observed as desired; else the same status Pending (module docstring)."""
    if str(getattr(status, "phase", "")) != READY:
        return status
    meta = req.parent.get("metadata") or {}
    waiting = not_applied(children, req.children, on_delete=on_delete, namespace=meta.get("namespace"))
    if not waiting:
        return status
    message = pending_message(getattr(status, "message", None), waiting)
    old = _current_ready(req.parent) or {}
    if old.get("status") == ConditionStatus.FALSE and old.get("reason") and old.get("reason") not in TRANSIENT:
        reason, cond_message = str(old["reason"]), old.get("message")  # still failing until applied
    elif old.get("status") == ConditionStatus.TRUE or old.get("reason") == APPLYING_UPDATE:
        reason, cond_message = APPLYING_UPDATE, message
    else:
        reason, cond_message = APPLY_PENDING, message
    conditions = [attrs.evolve(c, status=ConditionStatus.FALSE, reason=reason, message=cond_message)
                  if c.type == READY else c for c in getattr(status, "conditions", [])]
    return attrs.evolve(status, phase=pending_phase, message=message, conditions=conditions)  # type: ignore[misc]
