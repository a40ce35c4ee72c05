"""Building blocks shared by every model: field metadata, errors, metadata and conditions."""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

import attrs

# A check looks at one already type-checked value and returns an error message or None.
Check = Callable[[Any], "str | None"]

# A Kubernetes object as decoded JSON (``apiVersion``, ``kind``, ``metadata``, ...): what the hooks
# receive and emit, and what the cell hands a new child. Lattice's own kinds parse into the models.
KubeObject = dict[str, Any]


@attrs.frozen
class FieldError:
    """One problem with one field, e.g. ``spec.replicas.min: must be >= 0``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def join(path: str, key: str) -> str:
    """Extend a dotted field path (keys with dots or slashes are still readable as-is)."""
    return f"{path}.{key}" if path else key


@attrs.frozen
class Meta:
    """What the schema walker, the validator and the doc generator know about a field."""

    doc: str = ""
    wire: str | None = None
    aliases: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    pattern: str | None = None
    min_items: int | None = None
    free_form: bool = False
    # Limits (crds/limits.py): a string's length, or that of each string item/value of a list or
    # map; the number of items or entries; the length of each map key. In the CRD schema where
    # it can say so (maxLength, maxItems, maxProperties) and checked before anything compiles.
    max_length: int | None = None
    max_items: int | None = None
    max_key_length: int | None = None


def field(
    default: Any = attrs.NOTHING,
    *,
    doc: str = "",
    factory: Callable[[], Any] | None = None,
    wire: str | None = None,
    aliases: Sequence[str] = (),
    check: Check | Sequence[Check] = (),
    minimum: int | None = None,
    maximum: int | None = None,
    pattern: str | None = None,
    min_items: int | None = None,
    free_form: bool = False,
    max_length: int | None = None,
    max_items: int | None = None,
    max_key_length: int | None = None,
) -> Any:
    """An attrs field carrying Lattice metadata (wire name, docs, checks, schema bounds)."""
    checks = (check,) if callable(check) else tuple(check)
    meta = Meta(
        doc=doc,
        wire=wire,
        aliases=tuple(aliases),
        checks=checks,
        minimum=minimum,
        maximum=maximum,
        pattern=pattern,
        min_items=min_items,
        free_form=free_form,
        max_length=max_length,
        max_items=max_items,
        max_key_length=max_key_length,
    )
    if factory is not None:
        return attrs.field(factory=factory, metadata={"lattice": meta})
    return attrs.field(default=default, metadata={"lattice": meta})


def meta_of(a: attrs.Attribute[Any]) -> Meta:
    m = a.metadata.get("lattice")
    return m if isinstance(m, Meta) else Meta()


def camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def wire_name(a: attrs.Attribute[Any]) -> str:
    """The JSON key of a field: explicit ``wire`` or the camelCase of the Python name."""
    m = a.metadata.get("lattice")
    if isinstance(m, Meta) and m.wire:
        return m.wire
    return _camel_cached(a.name)


@functools.lru_cache(maxsize=4096)
def _camel_cached(name: str) -> str:
    return camel(name)


def is_required(a: attrs.Attribute[Any]) -> bool:
    return a.default is attrs.NOTHING


class StrEnum(enum.StrEnum):
    """An enum serialised as its value; subclasses list the allowed spellings."""


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


@attrs.define(kw_only=True)
class Condition:
    """A standard Kubernetes condition; one per ``type``."""

    type: str = field(doc="Condition type, e.g. Ready.")
    status: ConditionStatus = field(doc="True, False or Unknown.")
    reason: str | None = field(None, doc="CamelCase reason for the last transition.")
    message: str | None = field(None, doc="Human-readable detail.")
    last_transition_time: str | None = field(None, doc="RFC 3339 time of the last status change.")
    observed_generation: int | None = field(None, doc="Generation the condition was computed for.")


@attrs.define(kw_only=True)
class ObjectMeta:
    """The parts of Kubernetes metadata Lattice reads; other keys are accepted and ignored."""

    __lattice_open__: ClassVar[bool] = True

    name: str | None = field(None)
    namespace: str | None = field(None)
    labels: dict[str, str] = field(factory=dict)
    annotations: dict[str, str] = field(factory=dict)
    uid: str | None = field(None)
    generation: int | None = field(None)
    resource_version: str | None = field(None)
    creation_timestamp: str | None = field(None)
    deletion_timestamp: str | None = field(None)


@attrs.define(kw_only=True)
class SecretRef:
    """A reference to a Kubernetes Secret."""

    name: str = field(doc="Secret name.")
    namespace: str = field("lattice-system", doc="Secret namespace.")


class Phase(StrEnum):
    """Shared phases of the simple kinds (providers, external services)."""

    PENDING = "Pending"
    READY = "Ready"
    FAILED = "Failed"


@attrs.frozen
class PrinterColumn:
    name: str
    json_path: str
    type: str = "string"
    description: str = ""


@attrs.frozen
class CrdInfo:
    """Names of one kind in the API."""

    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    namespaced: bool
    columns: tuple[PrinterColumn, ...] = ()
    categories: tuple[str, ...] = ("lattice",)
    doc: str = ""


def errors_at(path: str, errors: Iterable[FieldError]) -> list[FieldError]:
    """Re-root errors computed relative to a sub-object."""
    return [FieldError(join(path, e.path) if e.path else path, e.message) for e in errors]
