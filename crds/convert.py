"""Raw JSON/YAML ⇄ models: one cattrs converter, and ``parse`` that reports every error.

``parse(data)`` dispatches on ``kind``, validates the raw data against the model (types,
required fields, unknown fields, enums, field checks), structures it, then runs the rules that
span several fields. All errors come back together, each naming its field path.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any, ClassVar, TypeVar

import attrs
import cattrs
import orjson
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from crds._base import CrdInfo, FieldError, ObjectMeta, StrEnum, wire_name
from crds._types import hints
from crds._validate import cross_checks, normalize, validate_raw
from crds.limits import MAX_SPEC_BYTES

API_VERSION = "lattice.dev/v1alpha1"

T = TypeVar("T")


class LatticeObject:
    """Base of every kind: gives the CRD names and convenient accessors."""

    __crd__: ClassVar[CrdInfo]
    metadata: ObjectMeta

    @property
    def name(self) -> str:
        return self.metadata.name or ""

    @property
    def namespace(self) -> str:
        return self.metadata.namespace or ""


def _omittable(a: attrs.Attribute[Any]) -> bool:
    # Unset optionals (None) and empty collections with a factory default are left out of the
    # output, so what we send to the apiserver only carries what the user or compiler set.
    return a.default is None or isinstance(a.default, attrs.Factory)  # type: ignore[arg-type]


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_structure_hook(Any, lambda v, _: v)
    conv.register_structure_hook(int | str, lambda v, _: v)
    # StrEnum members are also str: dispatch on Enum explicitly so they serialise as plain values.
    conv.register_unstructure_hook(StrEnum, lambda v: v.value)
    conv.register_unstructure_hook(enum.Enum, lambda v: v.value)

    def structure_factory(cls: type) -> Any:
        attrs.resolve_types(cls)
        renames: dict[str, Any] = {a.name: override(rename=wire_name(a)) for a in attrs.fields(cls)}
        return make_dict_structure_fn(cls, conv, _cattrs_forbid_extra_keys=False, **renames)

    def unstructure_factory(cls: type) -> Any:
        attrs.resolve_types(cls)
        renames: dict[str, Any] = {
            a.name: override(rename=wire_name(a), omit_if_default=_omittable(a)) for a in attrs.fields(cls)
        }
        inner: Any = make_dict_unstructure_fn(cls, conv, **renames)

        def run(obj: Any) -> dict[str, Any]:
            out: dict[str, Any] = inner(obj)
            out = {k: v for k, v in out.items() if v is not None}
            if isinstance(obj, LatticeObject):  # the order people expect to read
                head: dict[str, Any] = {k: out.pop(k) for k in ("apiVersion", "kind", "metadata") if k in out}
                out = {**head, **out}
            return out

        return run

    conv.register_structure_hook_factory(attrs.has, structure_factory)
    conv.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    return conv


converter = _make_converter()


@attrs.frozen
class ParseResult:
    """The outcome of parsing one object: the model (when valid) and every error."""

    kind: str
    name: str
    namespace: str
    obj: LatticeObject | None
    errors: tuple[FieldError, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


def kinds() -> dict[str, type[LatticeObject]]:
    from crds import KINDS

    return {k.__crd__.kind: k for k in KINDS}


def parse(data: Any) -> ParseResult:
    """Validate and structure one Lattice object of any kind."""
    if not isinstance(data, dict):
        return ParseResult("", "", "", None, (FieldError("", "expected a mapping (a Kubernetes object)"),))
    kind = data.get("kind")
    cls = kinds().get(kind) if isinstance(kind, str) else None
    raw_meta = data.get("metadata")
    meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
    name, ns = _text(meta.get("name")), _text(meta.get("namespace"))
    if cls is None:
        known = ", ".join(sorted(kinds()))
        shown = repr(kind[:100]) if isinstance(kind, str) else "missing" if kind is None else f"a {type(kind).__name__}"
        error = FieldError("kind", f"unknown kind {shown} (expected one of: {known})")
        return ParseResult(kind[:100] if isinstance(kind, str) else "", name, ns, None, (error,))
    obj, errors = parse_as(cls, data)
    return ParseResult(cls.__crd__.kind, name, ns, obj, tuple(errors))


def _text(value: Any) -> str:
    """A name or namespace as given, or "" for anything that is not a string."""
    return value if isinstance(value, str) else ""


def parse_as(cls: type[T], data: Any) -> tuple[T | None, list[FieldError]]:
    """Validate raw data as ``cls``; return the model (None if unreadable) and all errors.

    The model is returned even when rule errors were found; callers must check the errors.
    """
    oversized = spec_size_errors(data)
    if oversized:
        return None, oversized  # nothing else is looked at: it would cost as much as the input
    data = normalize(cls, data)
    errors = validate_raw(cls, data, "")
    if isinstance(data, dict) and "apiVersion" in data and data["apiVersion"] != API_VERSION:
        errors.append(FieldError("apiVersion", f"expected '{API_VERSION}', got {data['apiVersion']!r}"))
    try:
        obj = converter.structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError, AttributeError):
        # The raw validation above has already said what is wrong with the data.
        return None, errors or [FieldError("", "cannot read object")]
    errors.extend(cross_checks(obj, ""))
    return obj, errors


def spec_size_errors(data: Any) -> list[FieldError]:
    """A spec over ``MAX_SPEC_BYTES`` of JSON, or nested deeper than JSON encoders go (254)."""
    spec = data.get("spec") if isinstance(data, dict) else None
    if spec is None:
        return []
    try:
        size = len(orjson.dumps(spec, default=str, option=orjson.OPT_NON_STR_KEYS))
    except orjson.JSONEncodeError:
        return [FieldError("spec", "is nested too deeply to be a Kubernetes object")]
    if size > MAX_SPEC_BYTES:
        return [FieldError("spec", f"is {size:,} bytes as JSON; at most {MAX_SPEC_BYTES:,} are allowed")]
    return []


def structure(cls: type[T], data: Any) -> T:
    """Structure trusted data (already validated) into a model."""
    return converter.structure(normalize(cls, data), cls)


def dump(obj: Any) -> Any:
    """Model → plain JSON-able data, camelCase keys, unset optionals omitted."""
    return converter.unstructure(obj)


def format_errors(errors: Iterable[FieldError]) -> str:
    return "; ".join(str(e) for e in errors)


__all__ = [
    "API_VERSION", "LatticeObject", "ParseResult", "dump", "format_errors", "hints", "parse", "parse_as", "structure",
]
