"""Parsing Lattice objects out of hook requests, memoised by object version (``memo``).

Validating and structuring a LatticeService costs about a millisecond, and the same parent and
related objects arrive again and again unchanged. The ``status`` is left out: it is what the
hooks themselves wrote (or another writer's), never an input of a compiler, and a status that
does not fit the model must not make a valid spec fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

import orjson

import crds
from crds import KubeObject, LatticeObject, ParseResult
from hooks import wire
from hooks.controllers.memo import LRU, version
from hooks.wire import ObjectMap

T = TypeVar("T", bound=LatticeObject)

# Parsed objects by version, weighed by their JSON size (a model takes a few times that in memory).
PARSE_MEMO_ENTRIES = 4096
PARSE_MEMO_BYTES = 16 * 1024 * 1024
_parsed: LRU[tuple[ParseResult, int]] = LRU(PARSE_MEMO_ENTRIES, PARSE_MEMO_BYTES, weigh=lambda entry: entry[1])


def _parse_weighed(raw: KubeObject) -> tuple[ParseResult, int]:
    data = {k: v for k, v in raw.items() if k != "status"}
    try:
        size = len(orjson.dumps(data, default=str, option=orjson.OPT_NON_STR_KEYS))
    except orjson.JSONEncodeError:
        size = PARSE_MEMO_BYTES  # too deep to weigh: never kept
    return crds.parse(data), size


def parse_cached(raw: KubeObject) -> ParseResult:
    """``crds.parse`` (without the status) memoised by object version."""
    key = version(raw)
    if key is None:
        return crds.parse({k: v for k, v in raw.items() if k != "status"})
    return _parsed.get_or_make(key, lambda: _parse_weighed(raw))[0]


def parse_object(raw: KubeObject, cls: type[T]) -> tuple[T | None, list[str]]:
    """The model of kind ``cls`` (None when unreadable or of another kind) and every error, as
    ``path: message`` lines (what a Failed status lists)."""
    result = parse_cached(raw)
    errors = [str(e) for e in result.errors]
    if not isinstance(result.obj, cls):
        return None, errors or [f"expected kind {cls.__crd__.kind}, got {raw.get('kind')!r}"]
    return result.obj, errors


def valid_related(related: ObjectMap, cls: type[T]) -> Iterator[T]:
    """The related objects of one kind that parse without error (invalid ones count as absent)."""
    group = wire.group_key(crds.API_VERSION, cls.__crd__.kind)
    for raw in wire.iter_objects(related, group):
        obj, errors = parse_object(raw, cls)
        if obj is not None and not errors:
            yield obj


def clear() -> None:
    _parsed.clear()
