"""What happened in one sync, as the Kubernetes Events a person wants in ``kubectl describe``.

The hooks stay pure: a sync returns ``EventNote``s beside its answer and the hook server's shell
(``hooks.server.events``) writes them, deduplicated and rate limited. A note is a *transition*,
found by comparing the status the parent carries (what the last sync wrote) with the new one:

* a Ready condition entering a failure reason, or changing its message while failed (a second
  secret denied), is a Warning with that reason (``SecretAccessDenied``, ``CompilationFailed``,
  ``DependenciesMissing``, ``PolicyInvalid``, ...);
* the first success is Normal (``Compiled``, ``Validated``); success after a failure is Normal
  ``Recovered``, saying what it recovered from;
* the ``MeshAgreed`` condition turning False (or its list changing) is a Warning
  ``OneSidedDeclaration``; turning True again is Normal ``MeshAgreed``.

A status equal to the last one says nothing, so the steady stream of resyncs makes no Events.
Two syncs racing before the first status write lands can report the same transition twice; the
shell's deduplication folds those into one Event with a count.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

from crds import KubeObject

EventType = Literal["Normal", "Warning"]
NORMAL: EventType = "Normal"
WARNING: EventType = "Warning"
READY = "Ready"
MESH_AGREED = "MeshAgreed"
RECOVERED = "Recovered"
# Children still being applied: the Ready reasons hooks.controllers.applied writes.
APPLY_PENDING = "ApplyPending"
APPLYING_UPDATE = "ApplyingUpdate"
ONE_SIDED = "OneSidedDeclaration"


@attrs.frozen
class ObjectRef:
    """The object an Event is about (``kubectl describe`` finds Events by kind, name, namespace and uid)."""

    api_version: str
    kind: str
    name: str
    namespace: str | None = None
    uid: str | None = None

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> ObjectRef | None:
        meta = raw.get("metadata")
        if not isinstance(meta, Mapping) or not isinstance(meta.get("name"), str):
            return None
        api_version, kind = raw.get("apiVersion"), raw.get("kind")
        if not isinstance(api_version, str) or not isinstance(kind, str):
            return None
        namespace, uid = meta.get("namespace"), meta.get("uid")
        return cls(api_version, kind, meta["name"], namespace if isinstance(namespace, str) else None,
                   uid if isinstance(uid, str) else None)

    @property
    def shown(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@attrs.frozen
class EventNote:
    """One Event to emit about ``regarding``."""

    regarding: ObjectRef
    type: EventType
    reason: str
    message: str


@attrs.frozen
class AuditNote:
    """An Audit-mode CedarPolicy would have decided one request differently (for the metric)."""

    policy: str
    action: str
    would: str  # "allow" or "deny"


@attrs.frozen
class EventPolicy:
    """Which Ready reasons of a kind are failures, and what its first success is called."""

    failures: frozenset[str]
    first_success: str
    renamed: Mapping[str, str] = attrs.field(factory=dict)  # condition reason -> Event reason
    mesh: bool = False  # follow the MeshAgreed condition too

    def notes(self, parent: KubeObject, status: Any) -> tuple[EventNote, ...]:
        """The Events of going from the parent's current status to ``status``."""
        ref = ObjectRef.of(parent)
        if ref is None or not isinstance(status, Mapping):
            return ()
        old_status = parent.get("status")
        old = old_status if isinstance(old_status, Mapping) else {}
        out = self._ready(ref, _condition(old, READY), _condition(status, READY))
        if self.mesh:
            out += _mesh(ref, _condition(old, MESH_AGREED), _condition(status, MESH_AGREED))
        return tuple(out)

    def _ready(self, ref: ObjectRef, old: Mapping[str, Any] | None,
               new: Mapping[str, Any] | None) -> list[EventNote]:
        if new is None:
            return []
        reason, message = str(new.get("reason") or ""), str(new.get("message") or "")
        old_reason, old_message = (str(old.get("reason") or ""), str(old.get("message") or "")) if old else ("", "")
        # Children still being applied (hooks.controllers.applied): no Event yet; after an update of
        # a parent that was Ready, none either (it was Ready before and is again).
        applying = reason in (APPLY_PENDING, APPLYING_UPDATE)
        if applying or (old_reason == APPLYING_UPDATE and reason not in self.failures):
            return []
        if reason in self.failures:
            if (reason, message) == (old_reason, old_message):
                return []
            return [EventNote(ref, WARNING, self.renamed.get(reason, reason), message)]
        if old_reason in self.failures:
            return [EventNote(ref, NORMAL, RECOVERED, f"{message} (was {old_reason}: {old_message})")]
        if new.get("status") == "True" and (old is None or old.get("status") != "True"):
            return [EventNote(ref, NORMAL, self.first_success, message)]
        return []


def _mesh(ref: ObjectRef, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[EventNote]:
    if new is None:
        return []
    message = str(new.get("message") or "")
    if new.get("status") == "False":
        if old is not None and old.get("status") == "False" and old.get("message") == message:
            return []
        return [EventNote(ref, WARNING, ONE_SIDED, message)]
    if old is not None and old.get("status") == "False":
        return [EventNote(ref, NORMAL, MESH_AGREED, message)]
    return []


def _condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for cond in status.get("conditions") or []:
        if isinstance(cond, Mapping) and cond.get("type") == kind:
            return cond
    return None
