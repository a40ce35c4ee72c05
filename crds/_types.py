"""Type introspection shared by the validator and the CRD schema generator."""

import enum
import functools
import types
import typing
from typing import Any

import attrs


@attrs.frozen
class Shape:
    """A normalised view of one annotation.

    ``kind`` is one of: str, int, bool, float, enum, list, dict, object, any, int_or_str.
    """

    kind: str
    item: "Shape | None" = None
    cls: Any = None
    nullable: bool = False


@functools.cache
def hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def shape(tp: Any) -> Shape:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        nullable = len(args) != len(typing.get_args(tp))
        if set(args) == {int, str}:
            return Shape("int_or_str", nullable=nullable)
        if len(args) != 1:
            raise TypeError(f"unsupported union {tp!r}")
        return attrs.evolve(shape(args[0]), nullable=nullable)
    if origin is list:
        return Shape("list", item=shape(typing.get_args(tp)[0]))
    if origin is dict:
        key, value = typing.get_args(tp)
        if key is not str:
            raise TypeError(f"only str keys are supported, got {tp!r}")
        return Shape("dict", item=shape(value))
    if tp is Any:
        return Shape("any")
    if isinstance(tp, type):
        if issubclass(tp, enum.Enum):
            return Shape("enum", cls=tp)
        if attrs.has(tp):
            return Shape("object", cls=tp)
        if tp is bool:
            return Shape("bool")
        if tp is int:
            return Shape("int")
        if tp is float:
            return Shape("float")
        if tp is str:
            return Shape("str")
    raise TypeError(f"unsupported annotation {tp!r}")


_FIELD_SHAPES: dict[tuple[type, str], Shape] = {}


def field_shape(cls: type, name: str) -> Shape:
    """The shape of one field (memoised: models are immutable at runtime)."""
    key = (cls, name)
    found = _FIELD_SHAPES.get(key)
    if found is None:
        found = _FIELD_SHAPES[key] = _field_shape(cls, name)
    return found


def _field_shape(cls: type, name: str) -> Shape:
    return shape(hints(cls)[name])
