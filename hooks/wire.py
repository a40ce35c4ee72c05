"""The Metacontroller hook wire format (hooks version v2), typed once, in one place.

Requests arrive as JSON; ``decode_*`` turns the bytes into frozen request objects (raising
:class:`BadRequest` with a readable message when the body is not a request at all), and every
response object has ``to_json()`` giving exactly the fields Metacontroller's strict v2 decoder
accepts. Kubernetes objects stay plain dicts (``KubeObject``): the controllers parse what they need.

Object maps (``children``, ``attachments``, ``related``) are keyed first by ``Kind.apiVersion``
(``Deployment.apps/v1``, ``Service.v1``) and then, in v2, by ``namespace/name`` (``name`` for
cluster-scoped objects).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import attrs
import orjson

from crds import KubeObject

# "Kind.apiVersion" -> "namespace/name" -> object
ObjectMap = Mapping[str, Mapping[str, KubeObject]]

# Metacontroller (dynamic-apply) records what it applied in this annotation.
LAST_APPLIED = "metacontroller.k8s.io/last-applied-configuration"
# Read-only metadata a desired object must not carry back.
_SYSTEM_METADATA = (
    "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
    "deletionGracePeriodSeconds", "selfLink", "managedFields",
)


class BadRequest(Exception):
    """The body is not a Metacontroller hook request (answered with HTTP 400)."""


class Unencodable(Exception):
    """A response JSON cannot carry: nested deeper than the encoder's 254 levels (what it echoes
    from the request can be), or a value JSON has no form for."""


def encode(response: Any) -> bytes:
    """A response object (anything with ``to_json()``) as JSON bytes, or ``Unencodable``."""
    try:
        return orjson.dumps(response.to_json())
    except orjson.JSONEncodeError as exc:
        raise Unencodable(str(exc)) from None


def group_key(api_version: str, kind: str) -> str:
    """The key of a kind in an object map: ``Kind.group/version`` (``Kind.v1`` for core)."""
    return f"{kind}.{api_version}"


def _mapping(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a JSON object, else an empty one (malformed input is never an error)."""
    return value if isinstance(value, Mapping) else {}


def object_key(obj: Mapping[str, Any]) -> str:
    meta = _mapping(obj.get("metadata"))
    ns, name = meta.get("namespace") or "", meta.get("name") or ""
    return f"{ns}/{name}" if ns else str(name)


@attrs.frozen
class SyncRequest:
    """Composite sync/finalize: the parent, what it owns, what its customize hook asked for."""

    parent: KubeObject
    children: ObjectMap = attrs.field(factory=dict)
    related: ObjectMap = attrs.field(factory=dict)
    finalizing: bool = False
    controller: KubeObject = attrs.field(factory=dict)


@attrs.frozen
class DecoratorSyncRequest:
    """Decorator sync/finalize: the target object and its attachments."""

    object: KubeObject
    attachments: ObjectMap = attrs.field(factory=dict)
    related: ObjectMap = attrs.field(factory=dict)
    finalizing: bool = False
    controller: KubeObject = attrs.field(factory=dict)


@attrs.frozen
class CustomizeRequest:
    """Customize (same shape for Composite and Decorator; ``parent`` is the target object)."""

    parent: KubeObject
    controller: KubeObject = attrs.field(factory=dict)


@attrs.frozen
class RelatedRule:
    """One ``relatedResources`` entry: by namespace and names, or by label selector."""

    api_version: str
    resource: str
    namespace: str | None = None
    names: tuple[str, ...] = ()
    label_selector: KubeObject | None = None

    @classmethod
    def from_json(cls, rule: Mapping[str, Any]) -> RelatedRule:
        names = rule.get("names") or ()
        return cls(api_version=str(rule["apiVersion"]), resource=str(rule["resource"]),
                   namespace=rule.get("namespace"), names=tuple(str(n) for n in names),
                   label_selector=rule.get("labelSelector"))

    def to_json(self) -> KubeObject:
        out: KubeObject = {"apiVersion": self.api_version, "resource": self.resource}
        if self.label_selector is not None:
            out["labelSelector"] = self.label_selector
        if self.namespace is not None:
            out["namespace"] = self.namespace
        if self.names:
            out["names"] = list(self.names)
        return out


@attrs.frozen
class CustomizeResponse:
    related_resources: tuple[RelatedRule, ...] = ()

    def to_json(self) -> KubeObject:
        return {"relatedResources": [r.to_json() for r in self.related_resources]}


@attrs.frozen
class SyncResponse:
    """Composite answer. ``status`` replaces the parent's whole status; ``children`` is complete."""

    status: KubeObject | None
    children: list[KubeObject]
    resync_after_seconds: float | None = None
    finalized: bool | None = None

    def to_json(self) -> KubeObject:
        out: KubeObject = {"status": self.status, "children": self.children}
        if self.resync_after_seconds:
            out["resyncAfterSeconds"] = self.resync_after_seconds
        if self.finalized is not None:
            out["finalized"] = self.finalized
        return out


@attrs.frozen
class DecoratorSyncResponse:
    """Decorator answer. ``labels``/``annotations`` merge onto the target (None removes a key)."""

    attachments: list[KubeObject]
    labels: Mapping[str, str | None] = attrs.field(factory=dict)
    annotations: Mapping[str, str | None] = attrs.field(factory=dict)
    status: KubeObject | None = None
    resync_after_seconds: float | None = None
    finalized: bool | None = None

    def to_json(self) -> KubeObject:
        out: KubeObject = {"attachments": self.attachments, "status": self.status}
        if self.labels:
            out["labels"] = dict(self.labels)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.resync_after_seconds:
            out["resyncAfterSeconds"] = self.resync_after_seconds
        if self.finalized is not None:
            out["finalized"] = self.finalized
        return out


def _load(body: bytes) -> KubeObject:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise BadRequest(f"body is not JSON: {e}") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    return data


def _check_object(obj: Any, where: str) -> KubeObject:
    """A Kubernetes object as the API server guarantees it: a map whose ``metadata`` is a map with
    a string ``name`` (and, when present, a string ``namespace`` and string-to-string ``labels``
    and ``annotations``). Anything else never comes from Metacontroller. (A wrong ``kind`` is the
    parser's to report, as a Failed status.)"""
    if not isinstance(obj, dict):
        raise BadRequest(f"'{where}' must be a Kubernetes object")
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        raise BadRequest(f"'{where}.metadata.name' must be a string")
    if not isinstance(meta.get("namespace", ""), str | None):
        raise BadRequest(f"'{where}.metadata.namespace' must be a string")
    for key in ("labels", "annotations"):
        values = meta.get(key)
        if values is not None and (not isinstance(values, dict)
                                   or not all(isinstance(v, str | None) for v in values.values())):
            raise BadRequest(f"'{where}.metadata.{key}' must map strings to strings")
    return obj


def _object(data: KubeObject, field: str) -> KubeObject:
    return _check_object(data.get(field), field)


def _object_map(data: KubeObject, field: str) -> ObjectMap:
    value = data.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"'{field}' must be a map of Kind.apiVersion to objects")
    for group, objects in value.items():
        if objects is None:
            continue
        if not isinstance(objects, dict):
            raise BadRequest(f"'{field}.{str(group)[:100]}' must be a map of namespace/name to objects")
        for key, obj in objects.items():
            _check_object(obj, f"{field}.{str(group)[:100]}.{str(key)[:100]}")
    return {g: objs for g, objs in value.items() if objs}


def _controller(data: KubeObject) -> KubeObject:
    c = data.get("controller")
    return c if isinstance(c, dict) else {}


def decode_sync(body: bytes) -> SyncRequest:
    data = _load(body)
    return SyncRequest(
        parent=_object(data, "parent"),
        children=_object_map(data, "children"),
        related=_object_map(data, "related"),
        finalizing=data.get("finalizing") is True,
        controller=_controller(data),
    )


def decode_decorator_sync(body: bytes) -> DecoratorSyncRequest:
    data = _load(body)
    return DecoratorSyncRequest(
        object=_object(data, "object"),
        attachments=_object_map(data, "attachments"),
        related=_object_map(data, "related"),
        finalizing=data.get("finalizing") is True,
        controller=_controller(data),
    )


def decode_customize(body: bytes) -> CustomizeRequest:
    data = _load(body)
    return CustomizeRequest(parent=_object(data, "parent"), controller=_controller(data))


def iter_objects(objects: ObjectMap, group: str | None = None) -> Iterator[KubeObject]:
    """Every object of a map (or of one ``Kind.apiVersion`` group), in sorted key order."""
    groups = [group] if group is not None else sorted(objects)
    for g in groups:
        inner = objects.get(g) or {}
        for key in sorted(inner):
            yield inner[key]


def keep_as_is(obj: KubeObject) -> KubeObject:
    """The desired form of an observed child that must stay exactly as it is.

    With Metacontroller's default dynamic-apply strategy that is what it last applied (so the
    three-way merge finds nothing to change); otherwise the object minus status and the
    read-only metadata.
    """
    meta = _mapping(obj.get("metadata"))
    last = _mapping(meta.get("annotations")).get(LAST_APPLIED)
    if isinstance(last, str):
        try:
            applied = orjson.loads(last)
        except orjson.JSONDecodeError:
            applied = None
        if isinstance(applied, dict) and applied.get("kind") == obj.get("kind"):
            return applied
    out = {k: v for k, v in obj.items() if k != "status"}
    out["metadata"] = {k: v for k, v in meta.items() if k not in _SYSTEM_METADATA}
    return out


def observed_unchanged(objects: ObjectMap) -> list[KubeObject]:
    """Every observed child or attachment, as desired objects that change nothing."""
    return [keep_as_is(o) for o in iter_objects(objects)]


def generation(obj: Mapping[str, Any]) -> int | None:
    g = _mapping(obj.get("metadata")).get("generation")
    return g if isinstance(g, int) and not isinstance(g, bool) else None
