"""What a Lattice controller is, as data: its parent (or targets), its child kinds with their
update strategies, and its hooks as pure functions of the request.

The same objects feed the hook server (``hooks.server.app``), the Metacontroller objects
(``hooks.controllers_manifest``) and ``lattice render``. Running a hook goes through
``Composite.run`` / ``Decorator.run``, which turn a compiler exception or an undeclared child kind
into a Failed answer that keeps the observed children, so bad input never becomes an HTTP error.
``run`` also encodes the answer (``Answer.body``), with status messages capped: an answer JSON
cannot carry (observed children or a status echoed back nested deeper than the encoder goes)
becomes a Failed status with the children kept, or — when the kept children themselves cannot
be encoded — ``wire.BadRequest`` (HTTP 400: Metacontroller then changes nothing).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, Generic, Literal, TypeVar

import attrs

import crds
from crds import Condition, ConditionStatus, KubeObject
from hooks import wire
from hooks.context import ClusterIdentity
from hooks.controllers.events import AuditNote, EventNote, EventPolicy
from hooks.messages import cap_status, clip, join_capped
from hooks.wire import (
    CustomizeRequest,
    CustomizeResponse,
    DecoratorSyncRequest,
    DecoratorSyncResponse,
    SyncRequest,
    SyncResponse,
)

log = logging.getLogger("hooks")

Hook = Literal["sync", "finalize", "customize"]
HOOKS: tuple[Hook, ...] = ("sync", "customize", "finalize")
UpdateMethod = Literal["OnDelete", "Recreate", "InPlace"]
INTERNAL_ERROR = "InternalError"
INVALID_INPUT = "InvalidInput"
UNENCODABLE = ("the request holds data nested too deeply to be sent back (JSON encoders stop at 254 "
               "levels): the observed children are kept as they are")

R = TypeVar("R")


@attrs.frozen
class Kind:
    """A Kubernetes kind as Metacontroller names it (apiVersion + plural resource)."""

    api_version: str
    kind: str
    resource: str
    namespaced: bool = True

    @property
    def group_key(self) -> str:
        return wire.group_key(self.api_version, self.kind)


@attrs.frozen
class ChildRule:
    """A child (or attachment) kind and how Metacontroller updates an existing one."""

    kind: Kind
    update: UpdateMethod = "InPlace"
    why: str = ""


@attrs.frozen
class HookConfig:
    """What every hook may use besides its request: the cluster the hooks run in, and the clock
    (condition transition times, Lease freshness; tests pass a fixed one)."""

    cluster: ClusterIdentity = attrs.field(factory=ClusterIdentity)
    clock: Callable[[], float] = time.time


@attrs.frozen
class Answer(Generic[R]):
    """A hook response plus what the shell reports about it: when the parent is reported as
    failed, the reason (for metrics); the Events to emit; what Audit-mode policies would change."""

    response: R
    failure: str | None = None
    events: tuple[EventNote, ...] = ()
    audit: tuple[AuditNote, ...] = ()
    body: bytes | None = None  # the encoded response, once ``run`` made it


SyncFn = Callable[[SyncRequest, HookConfig], Answer[SyncResponse]]
DecoratorSyncFn = Callable[[DecoratorSyncRequest, HookConfig], Answer[DecoratorSyncResponse]]
CustomizeFn = Callable[[CustomizeRequest, HookConfig], CustomizeResponse]
# The status of a parent that cannot be compiled: (messages, generation, reason) -> status.
FailedStatusFn = Callable[[list[str], "int | None", str], KubeObject]


class UnknownHook(Exception):
    pass


def no_related(_req: CustomizeRequest, _cfg: HookConfig) -> CustomizeResponse:
    return CustomizeResponse(())


def declared_kinds(rules: Iterable[ChildRule]) -> dict[str, Kind]:
    return {r.kind.group_key: r.kind for r in rules}


def _check_children(declared: dict[str, Kind], parent: KubeObject, children: list[KubeObject]) -> str | None:
    """Why the desired children cannot be handed to Metacontroller, or None."""
    parent_ns = (parent.get("metadata") or {}).get("namespace")
    for child in children:
        kind = declared.get(f"{child.get('kind')}.{child.get('apiVersion')}")
        meta = child.get("metadata") or {}
        ns = meta.get("namespace")
        problem = None
        if kind is None:
            problem = "kind is not a declared child resource of this controller"
        elif not meta.get("name"):
            problem = "metadata.name is missing"
        elif kind.namespaced and parent_ns and ns and ns != parent_ns:
            problem = f"a child of a namespaced parent must live in namespace {parent_ns!r}"
        elif kind.namespaced and not parent_ns and not ns:
            problem = "a namespaced child of a cluster-scoped parent needs metadata.namespace"
        elif not kind.namespaced and ns:
            problem = "cluster-scoped kind cannot have metadata.namespace"
        if problem is not None:
            return f"{child.get('kind')}.{child.get('apiVersion')} {wire.object_key(child)}: {problem}"
    return None


def _internal(exc: BaseException | str) -> str:
    if isinstance(exc, str):
        return f"internal compile error: {clip(exc, 1024)}"
    return f"internal compile error: {type(exc).__name__}: {clip(str(exc), 1024)}"


def _key(obj: KubeObject) -> str:
    """An object's namespace/name for a log line (input: clipped)."""
    return clip(wire.object_key(obj), 253)


def _encoded(answer: Answer[Any]) -> Answer[Any]:
    return attrs.evolve(answer, body=wire.encode(answer.response))


def default_finalize(req: SyncRequest, _cfg: HookConfig) -> Answer[SyncResponse]:
    """Delete every child; finalized once none is observed. The status is kept as it is."""
    observed = any(True for _ in wire.iter_objects(req.children))
    status = req.parent.get("status")
    return Answer(SyncResponse(status=status if isinstance(status, dict) else None,
                               children=[], finalized=not observed))


@attrs.frozen
class Composite:
    """A CompositeController: one parent kind owning children of the declared kinds."""

    name: str
    parent: Kind
    children: tuple[ChildRule, ...]
    sync: SyncFn
    failed_status: FailedStatusFn
    customize: CustomizeFn | None = None
    # Every kind the customize hook may relate (read only): the RBAC of Lattice's Metacontroller
    # grants reads on exactly these, the parent and the children (hooks.controllers_manifest).
    related: tuple[Kind, ...] = ()
    finalize: SyncFn = default_finalize
    # Declare the finalize hook to Metacontroller (it then holds a finalizer on every parent).
    declare_finalize: bool = False
    resync_period_seconds: int = 300
    doc: str = ""
    # The Events of a sync's status transitions (hooks.controllers.events); None: no Events.
    events: EventPolicy | None = None
    declared: dict[str, Kind] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "declared", declared_kinds(self.children))

    def run(self, hook: Hook, body: bytes, cfg: HookConfig) -> Answer[Any]:
        """Decode ``body`` (raising ``wire.BadRequest``), run one hook, encode its answer."""
        if hook == "customize":
            return _encode_customize(self.customize, body, cfg)
        if hook not in ("sync", "finalize"):
            raise UnknownHook(hook)
        req = wire.decode_sync(body)
        finalize = hook == "finalize"
        answer = self.run_sync(req, cfg, finalize=finalize)
        response = answer.response
        answer = attrs.evolve(answer, response=attrs.evolve(response, status=cap_status(response.status)))
        try:
            return _encoded(answer)
        except wire.Unencodable as exc:
            log.warning("%s %s of %s: answer not encodable (%s); Failed, children kept", self.name, hook,
                        _key(req.parent), exc)
        status = self.failed_status([UNENCODABLE], wire.generation(req.parent), INVALID_INPUT)
        fallback = Answer(SyncResponse(status=status, children=wire.observed_unchanged(req.children),
                                       finalized=False if finalize else None), INVALID_INPUT)
        try:
            return _encoded(fallback)
        except wire.Unencodable:
            raise wire.BadRequest(UNENCODABLE) from None

    def run_sync(self, req: SyncRequest, cfg: HookConfig, *, finalize: bool = False) -> Answer[SyncResponse]:
        answer = self._run_sync(req, cfg, finalize=finalize)
        if self.events is None or finalize:
            return answer
        return attrs.evolve(answer, events=self.events.notes(req.parent, answer.response.status) + answer.events)

    def _run_sync(self, req: SyncRequest, cfg: HookConfig, *, finalize: bool) -> Answer[SyncResponse]:
        fn = self.finalize if finalize else self.sync
        try:
            answer = fn(req, cfg)
            problem = _check_children(self.declared, req.parent, answer.response.children)
        except Exception as exc:  # a compiler bug must not become an HTTP error
            log.error("%s %s of %s failed: %s", self.name, "finalize" if finalize else "sync",
                      _key(req.parent), _internal(exc), exc_info=_traceback_only(exc))
            return self.internal_error(req, _internal(exc), finalize=finalize)
        if problem is not None:
            return self.internal_error(req, _internal(problem), finalize=finalize)
        return answer

    def internal_error(self, req: SyncRequest, message: str, *, finalize: bool = False) -> Answer[SyncResponse]:
        status = self.failed_status([message], wire.generation(req.parent), INTERNAL_ERROR)
        children = wire.observed_unchanged(req.children)
        return Answer(SyncResponse(status=status, children=children,
                                   finalized=False if finalize else None), INTERNAL_ERROR)

    def failed(self, req: SyncRequest, messages: list[str], reason: str) -> Answer[SyncResponse]:
        """The parent cannot be compiled: Failed status with every message, children unchanged."""
        status = self.failed_status(messages, wire.generation(req.parent), reason)
        return Answer(SyncResponse(status=status, children=wire.observed_unchanged(req.children)), reason)


@attrs.frozen
class Target:
    """A DecoratorController target kind, optionally narrowed by a label selector."""

    kind: Kind
    label_selector: KubeObject | None = None


def _default_decorator_finalize(req: DecoratorSyncRequest, _cfg: HookConfig) -> Answer[DecoratorSyncResponse]:
    observed = any(True for _ in wire.iter_objects(req.attachments))
    return Answer(DecoratorSyncResponse(attachments=[], finalized=not observed))


@attrs.frozen
class Decorator:
    """A DecoratorController: attachments (and labels) added to existing objects."""

    name: str
    targets: tuple[Target, ...]
    attachments: tuple[ChildRule, ...]
    sync: DecoratorSyncFn
    customize: CustomizeFn | None = None
    related: tuple[Kind, ...] = ()
    finalize: DecoratorSyncFn = _default_decorator_finalize
    declare_finalize: bool = False
    resync_period_seconds: int = 600
    doc: str = ""
    declared: dict[str, Kind] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "declared", declared_kinds(self.attachments))

    def run(self, hook: Hook, body: bytes, cfg: HookConfig) -> Answer[Any]:
        if hook == "customize":
            return _encode_customize(self.customize, body, cfg)
        if hook not in ("sync", "finalize"):
            raise UnknownHook(hook)
        req = wire.decode_decorator_sync(body)
        finalize = hook == "finalize"
        try:
            return _encoded(self.run_sync(req, cfg, finalize=finalize))
        except wire.Unencodable as exc:
            log.warning("%s %s of %s: answer not encodable (%s); attachments kept", self.name, hook,
                        _key(req.object), exc)
        fallback = Answer(DecoratorSyncResponse(attachments=wire.observed_unchanged(req.attachments),
                                                finalized=False if finalize else None), INVALID_INPUT)
        try:
            return _encoded(fallback)
        except wire.Unencodable:
            raise wire.BadRequest(UNENCODABLE) from None

    def run_sync(self, req: DecoratorSyncRequest, cfg: HookConfig, *,
                 finalize: bool = False) -> Answer[DecoratorSyncResponse]:
        fn = self.finalize if finalize else self.sync
        try:
            answer = fn(req, cfg)
            problem = _check_children(self.declared, req.object, answer.response.attachments)
        except Exception as exc:
            log.error("%s sync of %s failed: %s", self.name, _key(req.object), _internal(exc),
                      exc_info=_traceback_only(exc))
            problem = f"{type(exc).__name__}: {clip(str(exc), 1024)}"
        if problem is None:
            return answer
        log.error("%s: %s", self.name, _internal(problem))
        # Leave everything as it is: same attachments, no label change, status untouched.
        return Answer(DecoratorSyncResponse(attachments=wire.observed_unchanged(req.attachments),
                                            finalized=False if finalize else None), INTERNAL_ERROR)


Controller = Composite | Decorator


def _encode_customize(customize: CustomizeFn | None, body: bytes, cfg: HookConfig) -> Answer[Any]:
    answer = Answer((customize or no_related)(wire.decode_customize(body), cfg))
    try:
        return _encoded(answer)
    except wire.Unencodable:
        raise wire.BadRequest(UNENCODABLE) from None


class ClippedError(Exception):
    """Stands in for an exception in a log record: its type and clipped text, its traceback."""


def _traceback_only(exc: BaseException) -> tuple[type[BaseException], BaseException, Any]:
    """exc_info for a log record whose traceback names the code but does not repeat the input:
    an exception's own text can quote a whole object."""
    return (ClippedError, ClippedError(f"{type(exc).__name__}: {clip(str(exc))}"), exc.__traceback__)


def failed_status_for(status_cls: Callable[..., Any], phase: Any) -> FailedStatusFn:
    """The Failed status of a kind whose status has ``phase``, ``message`` and ``conditions``."""

    def failed_status(messages: list[str], generation: int | None, reason: str) -> KubeObject:
        message = join_capped(messages)
        ready = Condition(type="Ready", status=ConditionStatus.FALSE, reason=reason,
                          message=message, observed_generation=generation)
        out: KubeObject = crds.dump(status_cls(phase=phase, message=message, conditions=[ready]))
        return out

    return failed_status
