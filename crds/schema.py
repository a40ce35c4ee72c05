"""CustomResourceDefinitions generated from the attrs models.

A small walker over ``attrs.fields()``: every node gets a ``type``; optionals are simply not
required; enums become ``enum``; ``dict[str, X]`` becomes ``additionalProperties``; free-form
fields (``params``) get ``x-kubernetes-preserve-unknown-fields``. Recursion is refused because
structural schemas cannot recurse.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from crds._base import CrdInfo, meta_of, wire_name
from crds._types import Shape, field_shape
from crds.convert import LatticeObject

GROUP = "lattice.dev"
VERSION = "v1alpha1"

_SCALARS = {"str": "string", "int": "integer", "bool": "boolean", "float": "number"}


def value_schema(s: Shape, stack: tuple[type, ...] = ()) -> dict[str, Any]:
    k = s.kind
    if k in _SCALARS:
        return {"type": _SCALARS[k]}
    if k == "int_or_str":
        return {"x-kubernetes-int-or-string": True}
    if k == "enum":
        return {"type": "string", "enum": [str(m.value) for m in s.cls]}
    if k == "any":  # any JSON value: a structural schema may leave out the type only here
        return {"x-kubernetes-preserve-unknown-fields": True}
    if k == "list":
        assert s.item is not None
        return {"type": "array", "items": value_schema(s.item, stack)}
    if k == "dict":
        assert s.item is not None
        return {"type": "object", "additionalProperties": value_schema(s.item, stack)}
    if k == "object":
        return object_schema(s.cls, stack)
    raise TypeError(f"no schema for {s!r}")


def object_schema(cls: type, stack: tuple[type, ...] = ()) -> dict[str, Any]:
    if cls in stack:
        raise TypeError(f"recursive model {cls.__name__} cannot be a structural schema")
    stack = (*stack, cls)
    props: dict[str, Any] = {}
    required: list[str] = []
    for a in attrs.fields(cls):
        m = meta_of(a)
        s = field_shape(cls, a.name)
        if m.free_form:
            node: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        else:
            node = value_schema(s, stack)
        if m.doc:
            node = {"description": m.doc, **node}
        if m.minimum is not None:
            node["minimum"] = m.minimum
        if m.maximum is not None:
            node["maximum"] = m.maximum
        if m.pattern is not None:
            node["pattern"] = m.pattern
        if m.min_items is not None:
            node["minProperties" if node.get("type") == "object" else "minItems"] = m.min_items
        if m.max_items is not None:
            node["maxProperties" if node.get("type") == "object" else "maxItems"] = m.max_items
        if m.max_length is not None:
            _max_length(node, m.max_length)
        default = _default(a)
        if default is not None:
            node["default"] = default
        props[wire_name(a)] = node
        for alias in m.aliases:  # accepted spelling; the compilers read either
            props[alias] = {**node, "description": f"Alias of `{wire_name(a)}`."}
        if a.default is attrs.NOTHING:
            required.append(wire_name(a))
    out: dict[str, Any] = {"type": "object"}
    if cls.__doc__ and not cls.__doc__.startswith(cls.__name__ + "("):
        out["description"] = " ".join(cls.__doc__.split())
    if props:
        out["properties"] = props
    else:
        out["x-kubernetes-preserve-unknown-fields"] = True
    if required:
        out["required"] = required
    return out


def _max_length(node: dict[str, Any], limit: int) -> None:
    """maxLength on a string node, or on the string items/values of an array/map node."""
    if node.get("type") == "string":
        node["maxLength"] = limit
    for inner in ("items", "additionalProperties"):
        child = node.get(inner)
        if isinstance(child, dict) and child.get("type") == "string":
            child["maxLength"] = limit


def _default(a: attrs.Attribute[Any]) -> Any:
    d = a.default
    if d is attrs.NOTHING or d is None or isinstance(d, attrs.Factory):  # type: ignore[arg-type]
        return None  # factories (empty lists, nested defaults) are applied by the compilers
    if hasattr(d, "value"):
        return d.value
    if isinstance(d, bool | int | str | float):
        return d
    return None


def crd(cls: type[LatticeObject]) -> dict[str, Any]:
    """The apiextensions.k8s.io/v1 CustomResourceDefinition of one kind."""
    info: CrdInfo = cls.__crd__
    spec_schema = value_schema(field_shape(cls, "spec"))
    status_schema = value_schema(field_shape(cls, "status"))
    schema: dict[str, Any] = {
        "type": "object",
        "description": info.doc,
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec_schema,
            "status": status_schema,
        },
    }
    columns: list[dict[str, Any]] = []
    for c in info.columns:
        col = {"name": c.name, "type": c.type, "jsonPath": c.json_path}
        columns.append({**col, "description": c.description} if c.description else col)
    columns.append({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"})
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{info.plural}.{GROUP}",
            "labels": {"app.kubernetes.io/managed-by": "lattice", "app.kubernetes.io/part-of": "lattice"},
        },
        "spec": {
            "group": GROUP,
            "names": {
                "kind": info.kind,
                "listKind": f"{info.kind}List",
                "plural": info.plural,
                "singular": info.singular,
                "shortNames": list(info.short_names),
                "categories": list(info.categories),
            },
            "scope": "Namespaced" if info.namespaced else "Cluster",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                }
            ],
        },
    }


_PATH_PART = re.compile(r'\.([A-Za-z0-9_]+)(\[\?\(@\.([A-Za-z0-9_]+)=="[^"]*"\)\])?')


def json_path_exists(schema: dict[str, Any], json_path: str) -> bool:
    """Whether a printer-column path like ``.spec.deploy.strategy`` names a schema property; a
    filter on a list (``.status.conditions[?(@.type=="Ready")].status``) looks into its items."""
    node: dict[str, Any] | None = schema
    parts = list(_PATH_PART.finditer(json_path))
    if "".join(m.group(0) for m in parts) != json_path:
        return False
    for m in parts:
        part, filtered, key = m.group(1), m.group(2), m.group(3)
        if node is None:
            return False
        if part in node.get("properties", {}):
            node = node["properties"][part]
        else:
            # metadata is served by the apiserver, not described in the schema
            return part == "creationTimestamp" and node.get("type") == "object"
        if filtered:
            items = node.get("items") if node.get("type") == "array" else None
            if not isinstance(items, dict) or key not in items.get("properties", {}):
                return False
            node = items
    return True
