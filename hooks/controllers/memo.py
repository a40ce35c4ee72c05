"""Memoisation by object version: a small thread-safe LRU, and the keys that identify a request.

Metacontroller sends the same parent and related objects again and again with unchanged
``resourceVersion``s: every status change of a child (a Deployment rolling, an HPA every 15 s)
re-syncs its parent. Parsing and compiling are pure functions of the objects, so their results
are kept per (uid, resourceVersion, generation) of every input. Objects without uid or
resourceVersion (``lattice render``, hand-written tests) are never memoised. Both memos are
bounded by entries and by bytes (``LRU``), so distinct large objects cannot grow the process. Cached values are
shared between requests and must be treated as read-only. (Lattice declares no rolling update
strategy, so Metacontroller never sends a parent rebuilt from an older revision under the same
version.)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from crds import KubeObject
from hooks import wire
from hooks.wire import ObjectMap

V = TypeVar("V")
Key = tuple[Hashable, ...]


class LRU(Generic[V]):
    """At most ``size`` entries and ``max_bytes`` of weight (``weigh(value)``, an estimate of
    what the entry holds: the JSON size of its input or output). A value heavier than an eighth
    of the budget is returned but not kept: one huge object must not evict everything else."""

    def __init__(self, size: int, max_bytes: int | None = None,
                 weigh: Callable[[V], int] | None = None) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self.weigh = weigh
        self.bytes = 0
        self._data: OrderedDict[Key, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_make(self, key: Key | None, make: Callable[[], V]) -> V:
        if key is None:
            return make()
        with self._lock:
            hit = self._data.get(key)
            if hit is not None:
                self._data.move_to_end(key)
                return hit[0]
        value = make()
        weight = self.weigh(value) if self.weigh is not None and self.max_bytes is not None else 0
        if self.max_bytes is not None and weight > self.max_bytes // 8:
            return value
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            self._data[key] = (value, weight)
            self.bytes += weight
            while len(self._data) > self.size or (self.max_bytes is not None and self.bytes > self.max_bytes):
                _, (_, dropped) = self._data.popitem(last=False)
                self.bytes -= dropped
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.bytes = 0

    def __len__(self) -> int:
        return len(self._data)


def version(raw: KubeObject) -> tuple[Any, ...] | None:
    """(kind, uid, resourceVersion, generation), or None when the object is not versioned."""
    meta = raw.get("metadata")
    if not isinstance(meta, dict):
        return None
    uid, rv, kind, gen = meta.get("uid"), meta.get("resourceVersion"), raw.get("kind"), meta.get("generation")
    if not isinstance(uid, str) or not isinstance(rv, str) or not uid or not rv:
        return None
    if not isinstance(kind, str) or not (gen is None or isinstance(gen, int)):
        return None  # not a real apiserver object (and not hashable as a key): never memoised
    return (kind, uid, rv, gen)


def inputs_version(parent: KubeObject, related: ObjectMap) -> Key | None:
    """The version of a parent together with every related object (None if any is unversioned)."""
    head = version(parent)
    if head is None:
        return None
    parts: list[Hashable] = [head]
    for group in sorted(related):
        for obj in wire.iter_objects(related, group):
            v = version(obj)
            if v is None:
                return None
            parts.append(v)
    return tuple(parts)
