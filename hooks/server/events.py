"""The hook server's Event recorder: the ``EventNote``s the pure hooks return become Kubernetes
Events (``core/v1``), deduplicated and rate limited, written off the request path.

Why it looks like this (docs/hooks.md, section 10, has the long form):

* **Off the request path.** ``record`` only updates memory and puts work on a bounded queue; one
  background task writes. A slow or absent apiserver never delays a hook answer; when the queue
  is full an Event is dropped and counted (``lattice_hook_events_total{result="dropped_queue"}``).
* **Deduplicated.** A note equal to one seen in the last ``window`` seconds (same object, type,
  reason and message) is not a new Event: its count grows, written as one PATCH per
  ``bump_interval`` at most. Metacontroller re-syncs a parent many times; a transition seen twice
  (two syncs racing the status write) or an audit finding repeated on every sync is one Event
  with a count, as ``kubectl describe`` shows it ("x4 over 10m").
* **Deterministic names across replicas.** An Event is named ``<object>.<hash of the dedup key>``,
  so the same Event from two hook-server replicas collides: the second create answers 409 and
  adds its count instead. No shared state between replicas is needed.
* **Rate limited per object.** New Events about one object draw from a token bucket (burst 25,
  one token per 5 minutes: client-go's spam filter defaults), so a flapping object cannot flood
  etcd; what is refused is counted (``result="dropped_rate"``).
* **Never fatal.** A failed write is logged (at most once a minute) and counted; hooks answer
  the same either way. Events still queued when the process stops are lost, as with client-go.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import hashlib
import json
import logging
import os
import socket
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import attrs
import kr8s
import kr8s.asyncio

from hooks.controllers.events import EventNote

log = logging.getLogger("hooks.events")

COMPONENT = "lattice-hooks"
SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
MAX_MESSAGE = 1024
DEFAULT_NAMESPACE = "default"  # where Events about cluster-scoped objects go (as client-go does)


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@attrs.frozen
class PendingEvent:
    """One write: create the Event (``count`` occurrences), or add ``count`` to the existing one."""

    name: str
    namespace: str
    note: EventNote
    count: int


class EventSink(Protocol):
    async def write(self, event: PendingEvent) -> None: ...


def event_body(event: PendingEvent, instance: str, timestamp: str) -> dict[str, Any]:
    ref = event.note.regarding
    involved = {"apiVersion": ref.api_version, "kind": ref.kind, "name": ref.name}
    if ref.namespace:
        involved["namespace"] = ref.namespace
    if ref.uid:
        involved["uid"] = ref.uid
    return {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": event.name, "namespace": event.namespace},
        "involvedObject": involved,
        "type": event.note.type, "reason": event.note.reason, "message": event.note.message[:MAX_MESSAGE],
        "count": event.count, "firstTimestamp": timestamp, "lastTimestamp": timestamp,
        "source": {"component": COMPONENT, "host": instance},
        "reportingComponent": COMPONENT, "reportingInstance": instance,
    }


class KubeEventSink:
    """Writes Events through kr8s (its kubeconfig or the pod's service account)."""

    def __init__(self, kubeconfig: str | None = None, context: str | None = None,
                 instance: str | None = None) -> None:
        self.kubeconfig, self.context = kubeconfig, context
        self.instance = instance or os.environ.get("HOSTNAME") or socket.gethostname()
        self._api: kr8s.asyncio.Api | None = None

    async def _client(self) -> kr8s.asyncio.Api:
        if self._api is None:
            if self.kubeconfig is not None:
                self._api = await kr8s.asyncio.api(kubeconfig=self.kubeconfig, context=self.context)
            else:
                self._api = await kr8s.asyncio.api(serviceaccount=str(SA_DIR))
        return self._api

    async def _call(self, method: str, url: str, namespace: str, body: Any = None,
                    content_type: str = "application/json") -> dict[str, Any]:
        api = await self._client()
        async with api.call_api(method, version="v1", base="", namespace=namespace, url=url,
                                content=None if body is None else json.dumps(body),
                                headers={"Content-Type": content_type, "Accept": "application/json"}) as resp:
            answer: dict[str, Any] = resp.json()
            return answer

    async def write(self, event: PendingEvent) -> None:
        stamp = now_rfc3339()
        try:
            await self._call("POST", "events", event.namespace, event_body(event, self.instance, stamp))
            return
        except kr8s.ServerError as exc:
            if exc.response is None or exc.response.status_code != 409:
                raise
        # Another replica (or an earlier run of this one) made it: add our count to it.
        current = await self._call("GET", f"events/{event.name}", event.namespace)
        patch = {"count": int(current.get("count") or 1) + event.count, "lastTimestamp": stamp}
        await self._call("PATCH", f"events/{event.name}", event.namespace, patch,
                         "application/merge-patch+json")


@attrs.define
class _Seen:
    name: str
    namespace: str
    note: EventNote
    first: float
    last_write: float
    pending: int = 0


@attrs.define
class _Bucket:
    tokens: float
    at: float


def event_name(note: EventNote) -> str:
    ref = note.regarding
    digest = hashlib.sha256("\x00".join(
        (ref.api_version, ref.kind, ref.namespace or "", ref.name, ref.uid or "",
         note.type, note.reason, note.message)).encode()).hexdigest()[:16]
    return f"{ref.name[:200]}.{digest}"


class EventRecorder:
    """Deduplicates, rate limits and queues Events; a background task writes them to ``sink``."""

    def __init__(self, sink: EventSink, *, window: float = 600.0, bump_interval: float = 60.0,
                 burst: int = 25, refill_seconds: float = 300.0, queue_size: int = 1000, remember: int = 4096,
                 clock: Callable[[], float] = time.monotonic,
                 on_result: Callable[[str], None] | None = None) -> None:
        self.sink = sink
        self.window, self.bump_interval = window, bump_interval
        self.burst, self.refill_seconds = burst, refill_seconds
        self.remember = remember
        self.clock = clock
        self.on_result = on_result or (lambda _result: None)
        self._queue: asyncio.Queue[PendingEvent] = asyncio.Queue(queue_size)
        self._seen: OrderedDict[tuple[Any, ...], _Seen] = OrderedDict()
        self._buckets: OrderedDict[tuple[str, ...], _Bucket] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self._last_error_log = 0.0

    # ---- the request side: memory only ---------------------------------------------------

    def record(self, notes: Iterable[EventNote]) -> None:
        for note in notes:
            self._record(note)
        self._ensure_worker()

    def _record(self, note: EventNote) -> None:
        now = self.clock()
        ref = note.regarding
        key = (ref.api_version, ref.kind, ref.namespace, ref.name, ref.uid, note.type, note.reason, note.message)
        seen = self._seen.get(key)
        if seen is not None and now - seen.first < self.window:
            seen.pending += 1
            self._seen.move_to_end(key)
            self.on_result("deduplicated")
            if now - seen.last_write >= self.bump_interval:
                self._flush(seen, now)
            return
        if not self._take_token((ref.kind, ref.namespace or "", ref.name, ref.uid or ""), now):
            self.on_result("dropped_rate")
            return
        seen = _Seen(event_name(note), ref.namespace or DEFAULT_NAMESPACE, note, now, now)
        self._seen[key] = seen
        self._seen.move_to_end(key)
        while len(self._seen) > self.remember:
            self._seen.popitem(last=False)
        self._enqueue(PendingEvent(seen.name, seen.namespace, note, 1))

    def _take_token(self, who: tuple[str, ...], now: float) -> bool:
        bucket = self._buckets.get(who)
        if bucket is None:
            bucket = self._buckets[who] = _Bucket(float(self.burst), now)
            while len(self._buckets) > self.remember:
                self._buckets.popitem(last=False)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) / self.refill_seconds)
        bucket.at = now
        self._buckets.move_to_end(who)
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def _flush(self, seen: _Seen, now: float) -> None:
        if seen.pending:
            self._enqueue(PendingEvent(seen.name, seen.namespace, seen.note, seen.pending))
            seen.pending, seen.last_write = 0, now

    def _enqueue(self, event: PendingEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.on_result("dropped_queue")

    def flush_due(self) -> None:
        """Queue the count of every deduplicated Event not written for ``bump_interval`` seconds."""
        now = self.clock()
        for seen in list(self._seen.values()):
            if seen.pending and now - seen.last_write >= self.bump_interval:
                self._flush(seen, now)

    # ---- the writer ----------------------------------------------------------------------

    def _ensure_worker(self) -> None:
        if self._task is not None and not self._task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a synchronous caller): the next call from the server starts it
        self._task = loop.create_task(self._run(), name="lattice-events")

    async def _run(self) -> None:
        while True:
            try:
                event = await asyncio.wait_for(self._queue.get(), timeout=self.bump_interval)
            except TimeoutError:
                self.flush_due()
                continue
            await self.write(event)

    async def write(self, event: PendingEvent) -> None:
        try:
            await self.sink.write(event)
            self.on_result("written")
        except Exception as exc:  # an Event must never take the server down
            self.on_result("failed")
            now = self.clock()
            if now - self._last_error_log >= 60:
                self._last_error_log = now
                log.warning("could not write Event %s/%s (%s %s): %s", event.namespace, event.name,
                            event.note.type, event.note.reason, exc)

    async def drain(self) -> None:
        """Write everything queued now (tests, and a graceful stop)."""
        self.flush_due()
        while not self._queue.empty():
            await self.write(self._queue.get_nowait())

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def recorder_from_env(env: dict[str, str] | None = None,
                      on_result: Callable[[str], None] | None = None) -> EventRecorder | None:
    """The recorder the environment asks for: ``LATTICE_HOOKS_EVENTS=off`` disables Events;
    ``LATTICE_HOOKS_KUBECONFIG`` (and ``LATTICE_HOOKS_CONTEXT``) points at a cluster; else the
    pod's service account when mounted; else none (logged once)."""
    env = dict(os.environ) if env is None else env
    if env.get("LATTICE_HOOKS_EVENTS", "").lower() in ("off", "false", "0", "no"):
        return None
    kubeconfig = env.get("LATTICE_HOOKS_KUBECONFIG") or None
    if kubeconfig is None and not (SA_DIR / "token").is_file():
        log.info("Events are off: no LATTICE_HOOKS_KUBECONFIG and no service account token mounted")
        return None
    sink = KubeEventSink(kubeconfig, env.get("LATTICE_HOOKS_CONTEXT") or None)
    return EventRecorder(sink, on_result=on_result)
