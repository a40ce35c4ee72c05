"""Validate raw JSON data against a model class, collecting every error with its path.

This runs before cattrs structures the data, so one pass reports every wrong type, missing
field, unknown field, enum spelling and field check at once.
"""

from __future__ import annotations

from typing import Any

import attrs

from crds._base import FieldError, errors_at, join, meta_of, wire_name
from crds._types import Shape, field_shape
from crds.limits import MAX_NESTING

_TYPE_NAMES = {
    "str": "a string",
    "int": "an integer",
    "bool": "true or false",
    "float": "a number",
    "list": "a list",
    "dict": "a mapping",
    "object": "a mapping",
    "int_or_str": "an integer or a string",
}


def _describe(v: Any) -> str:
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int | float):
        return f"the number {v}"
    if isinstance(v, str):
        return f"the string '{v}'" if len(v) < 40 else "a string"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "a mapping"
    if v is None:
        return "null"
    return type(v).__name__


_WIRE_KEYS: dict[type, dict[str, attrs.Attribute[Any]]] = {}


def wire_keys(cls: type) -> dict[str, attrs.Attribute[Any]]:
    """Every accepted JSON key of a class (wire names and aliases) → attribute (cached: read only)."""
    found = _WIRE_KEYS.get(cls)
    if found is None:
        found = _WIRE_KEYS[cls] = _wire_keys(cls)
    return found


def _wire_keys(cls: type) -> dict[str, attrs.Attribute[Any]]:
    out: dict[str, attrs.Attribute[Any]] = {}
    for a in attrs.fields(cls):
        out[wire_name(a)] = a
        for alias in meta_of(a).aliases:
            out[alias] = a
    return out


def normalize(cls: type, data: Any) -> Any:
    """Rewrite alias spellings (``allowed_requesters``) to wire names, recursively."""
    if not isinstance(data, dict):
        return data
    keys = wire_keys(cls)
    out: dict[str, Any] = {}
    for k, v in data.items():
        a = keys.get(k)
        wire = wire_name(a) if a is not None else k
        if a is None or (k != wire and wire in data):
            out[k] = v  # unknown, or both spellings given: validation reports it
            continue
        out[wire] = _normalize_value(field_shape(cls, a.name), v)
    return out


def _normalize_value(s: Shape, v: Any) -> Any:
    if s.kind == "object":
        return normalize(s.cls, v)
    if s.kind == "list" and isinstance(v, list) and s.item is not None:
        return [_normalize_value(s.item, x) for x in v]
    if s.kind == "dict" and isinstance(v, dict) and s.item is not None:
        return {k: _normalize_value(s.item, x) for k, x in v.items()}
    return v


def validate_raw(cls: type, data: Any, path: str) -> list[FieldError]:
    """All type, presence, enum and field-check errors of ``data`` as an instance of ``cls``."""
    if not isinstance(data, dict):
        return [FieldError(path, f"expected a mapping, got {_describe(data)}")]
    errors: list[FieldError] = []
    keys = wire_keys(cls)
    seen: set[str] = set()
    for key, value in data.items():
        a = keys.get(key)
        if a is None:
            if not getattr(cls, "__lattice_open__", False):
                known = ", ".join(sorted(wire_name(x) for x in attrs.fields(cls)))
                errors.append(FieldError(join(path, key), f"unknown field (known fields: {known})"))
            continue
        if a.name in seen:
            errors.append(FieldError(join(path, key), "given twice under different spellings"))
        seen.add(a.name)
        errors.extend(_check_field(cls, a, value, join(path, wire_name(a))))
    for a in attrs.fields(cls):
        if a.default is attrs.NOTHING and a.name not in seen:
            errors.append(FieldError(join(path, wire_name(a)), "required field is missing"))
    return errors


def _check_field(cls: type, a: attrs.Attribute[Any], value: Any, path: str) -> list[FieldError]:
    s = field_shape(cls, a.name)
    if value is None:
        if s.nullable or a.default is None:
            return []
        return [FieldError(path, f"must not be null (expected {_TYPE_NAMES.get(s.kind, 'a value')})")]
    m = meta_of(a)
    if m.free_form and _deeper_than(value, MAX_NESTING):
        return [FieldError(path, f"is nested more than {MAX_NESTING} levels deep")]
    too_many = _over_limits(m, value, path)
    if too_many:
        return too_many  # before walking the items: an oversized value costs nothing more
    errors = validate_value(s, value, path)
    if errors:
        return errors
    errors.extend(_too_long(m, value, path))
    if m.minimum is not None and isinstance(value, int | float) and value < m.minimum:
        errors.append(FieldError(path, f"must be >= {m.minimum}, got {value}"))
    if m.maximum is not None and isinstance(value, int | float) and value > m.maximum:
        errors.append(FieldError(path, f"must be <= {m.maximum}, got {value}"))
    if m.min_items is not None and isinstance(value, list | dict) and len(value) < m.min_items:
        what = "entry" if m.min_items == 1 else "entries"
        errors.append(FieldError(path, f"must have at least {m.min_items} {what}"))
    for check in m.checks:
        msg = check(value)
        if msg:
            errors.append(FieldError(path, msg))
    return errors


def _over_limits(m: Any, value: Any, path: str) -> list[FieldError]:
    """Too many entries, or (for a map) a key too long: checked before anything else."""
    if m.max_items is not None and isinstance(value, list | dict) and len(value) > m.max_items:
        what = "items" if isinstance(value, list) else "entries"
        return [FieldError(path, f"must have at most {m.max_items:,} {what}, got {len(value):,}")]
    if m.max_key_length is not None and isinstance(value, dict):
        long_keys = [k for k in value if isinstance(k, str) and len(k) > m.max_key_length]
        return [FieldError(path, f"key {k[:40]!r}... is longer than {m.max_key_length} characters "
                                 f"({len(k)})") for k in long_keys[:_SHOWN]]
    return []


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether free-form data nests deeper than ``limit`` (iterative: no recursion to exhaust)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, dict | list))
    return False


_SHOWN = 5  # oversized strings reported per field (the count says how many more)


def _too_long(m: Any, value: Any, path: str) -> list[FieldError]:
    """Strings (or the string items/values of a list/map) longer than ``max_length``."""
    limit = m.max_length
    if limit is None:
        return []
    if isinstance(value, str):
        items: list[tuple[str, str]] = [(path, value)]
    elif isinstance(value, list):
        items = [(f"{path}[{i}]", v) for i, v in enumerate(value) if isinstance(v, str)]
    elif isinstance(value, dict):
        items = [(join(path, str(k)), v) for k, v in value.items() if isinstance(v, str)]
    else:
        return []
    over = [(p, len(v)) for p, v in items if len(v) > limit]
    out = [FieldError(p, f"must be at most {limit:,} characters, got {n:,}") for p, n in over[:_SHOWN]]
    if len(over) > _SHOWN:
        out.append(FieldError(path, f"{len(over) - _SHOWN} more values are longer than {limit:,} characters"))
    return out


def validate_value(s: Shape, value: Any, path: str) -> list[FieldError]:
    k = s.kind
    if value is None and s.nullable:
        return []
    if k == "any":
        return []
    if k == "object":
        return validate_raw(s.cls, value, path)
    if k == "enum":
        allowed = [str(m.value) for m in s.cls]
        if value in allowed:
            return []
        shown = f"'{value}'" if isinstance(value, str) else _describe(value)
        return [FieldError(path, f"invalid value {shown} (expected one of: {', '.join(allowed)})")]
    if k == "list":
        if not isinstance(value, list):
            return [FieldError(path, f"expected a list, got {_describe(value)}")]
        assert s.item is not None
        out: list[FieldError] = []
        for i, item in enumerate(value):
            out.extend(validate_value(s.item, item, f"{path}[{i}]"))
        return out
    if k == "dict":
        if not isinstance(value, dict):
            return [FieldError(path, f"expected a mapping, got {_describe(value)}")]
        assert s.item is not None
        out = []
        for key, item in value.items():
            out.extend(validate_value(s.item, item, join(path, str(key))))
        return out
    if _scalar_ok(k, value):
        return []
    return [FieldError(path, f"expected {_TYPE_NAMES[k]}, got {_describe(value)}")]


def _scalar_ok(kind: str, v: Any) -> bool:
    if kind == "str":
        return isinstance(v, str)
    if kind == "bool":
        return isinstance(v, bool)
    if kind == "int":
        return isinstance(v, int) and not isinstance(v, bool)
    if kind == "float":
        return isinstance(v, int | float) and not isinstance(v, bool)
    if kind == "int_or_str":
        return isinstance(v, int | str) and not isinstance(v, bool)
    return False


# ---- rules that span fields ------------------------------------------------------------------

_Plan = tuple[tuple[str, str, Shape], ...]
_PLANS: dict[type, _Plan] = {}


def _holds_objects(s: Shape) -> bool:
    if s.kind == "object":
        return True
    return s.kind in ("list", "dict") and s.item is not None and _holds_objects(s.item)


def _plan(cls: type) -> _Plan:
    """The fields of ``cls`` that can hold nested models (the only ones worth walking)."""
    found = _PLANS.get(cls)
    if found is None:
        found = _PLANS[cls] = tuple(
            (a.name, wire_name(a), field_shape(cls, a.name))
            for a in attrs.fields(cls)
            if _holds_objects(field_shape(cls, a.name))
        )
    return found


def cross_checks(obj: object, path: str) -> list[FieldError]:
    """Run ``_validate`` of every nested model (rules that span fields), deepest paths last."""
    out: list[FieldError] = []
    validate = getattr(obj, "_validate", None)
    if validate is not None:
        out.extend(errors_at(path, validate()))
    for name, wire, s in _plan(type(obj)):
        _cross_value(getattr(obj, name), s, join(path, wire), out)
    return out


def _cross_value(value: Any, s: Shape, path: str, out: list[FieldError]) -> None:
    if value is None:
        return
    if s.kind == "object":
        out.extend(cross_checks(value, path))
    elif s.kind == "dict" and s.item is not None:
        for k, v in value.items():
            _cross_value(v, s.item, join(path, str(k)), out)
    elif s.kind == "list" and s.item is not None:
        for i, v in enumerate(value):
            _cross_value(v, s.item, f"{path}[{i}]", out)
