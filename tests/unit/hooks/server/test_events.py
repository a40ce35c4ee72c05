"""The Event recorder's memory: deduplication, counts, rate limits, the queue bound, failures.
(Writes to a real apiserver, two replicas colliding included, are in tests/integration.)"""

from __future__ import annotations

import asyncio

import pytest

from hooks.controllers.events import EventNote, ObjectRef
from hooks.server.events import EventRecorder, PendingEvent, event_body, event_name, recorder_from_env

SVC = ObjectRef("lattice.dev/v1alpha1", "LatticeService", "api", "shop", "uid-1")
CLUSTER = ObjectRef("lattice.dev/v1alpha1", "LatticeCluster", "prod", None, "uid-2")


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Written:
    """Records what the recorder hands its sink (the recorder's logic only; no apiserver here)."""

    def __init__(self, fail: bool = False) -> None:
        self.events: list[PendingEvent] = []
        self.fail = fail

    async def write(self, event: PendingEvent) -> None:
        if self.fail:
            raise RuntimeError("apiserver unavailable")
        self.events.append(event)


def note(message: str = "denied", ref: ObjectRef = SVC, reason: str = "SecretAccessDenied") -> EventNote:
    return EventNote(ref, "Warning", reason, message)


def run(recorder: EventRecorder) -> None:
    asyncio.run(recorder.drain())


def test_repeats_fold_into_one_event_with_a_count() -> None:
    clock, sink, results = Clock(), Written(), []
    rec = EventRecorder(sink, clock=clock, on_result=results.append)
    rec.record([note()] * 3)
    run(rec)
    assert [(e.count, e.note.reason) for e in sink.events] == [(1, "SecretAccessDenied")]
    clock.t += 61  # past the bump interval: the two repeats are written as one count
    run(rec)
    assert [e.count for e in sink.events] == [1, 2]
    assert sink.events[0].name == sink.events[1].name == event_name(note())
    assert results.count("deduplicated") == 2 and results.count("written") == 2


def test_a_different_message_is_a_new_event_and_old_keys_expire() -> None:
    clock, sink = Clock(), Written()
    rec = EventRecorder(sink, clock=clock)
    rec.record([note("a"), note("b")])
    clock.t += 601  # past the window: the same note is an Event of its own again
    rec.record([note("a")])
    run(rec)
    assert [(e.note.message, e.count) for e in sink.events] == [("a", 1), ("b", 1), ("a", 1)]


def test_new_events_per_object_are_rate_limited() -> None:
    clock, sink, results = Clock(), Written(), []
    rec = EventRecorder(sink, clock=clock, burst=3, refill_seconds=300, on_result=results.append)
    rec.record([note(str(i)) for i in range(5)])
    rec.record([note("other object", ref=CLUSTER)])  # another object has its own bucket
    clock.t += 300  # one token back
    rec.record([note("5"), note("6")])
    run(rec)
    assert [e.note.message for e in sink.events] == ["0", "1", "2", "other object", "5"]
    assert results.count("dropped_rate") == 3


def test_queue_bound_drops_and_counts() -> None:
    sink, results = Written(), []
    rec = EventRecorder(sink, clock=Clock(), queue_size=2, burst=100, on_result=results.append)
    rec.record([note(str(i)) for i in range(4)])
    run(rec)
    assert len(sink.events) == 2 and results.count("dropped_queue") == 2


def test_failed_writes_are_counted_and_never_raise() -> None:
    results: list[str] = []
    rec = EventRecorder(Written(fail=True), clock=Clock(), on_result=results.append)
    rec.record([note()])
    run(rec)
    assert results == ["failed"]


def test_background_writer_runs_inside_the_loop() -> None:
    sink = Written()

    async def scenario() -> None:
        rec = EventRecorder(sink)
        rec.record([note()])
        for _ in range(100):
            if sink.events:
                break
            await asyncio.sleep(0.01)
        await rec.aclose()

    asyncio.run(scenario())
    assert len(sink.events) == 1


def test_event_body_for_namespaced_and_cluster_scoped_objects() -> None:
    rec = EventRecorder(Written(), clock=Clock())
    rec.record([note(), note("bad spec", ref=CLUSTER, reason="ValidationFailed")])
    events = rec._queue  # the two queued writes
    first, second = events.get_nowait(), events.get_nowait()
    body = event_body(first, "hooks-0", "2026-01-01T00:00:00Z")
    assert body["metadata"] == {"name": event_name(note()), "namespace": "shop"}
    assert body["involvedObject"] == {"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeService",
                                      "name": "api", "namespace": "shop", "uid": "uid-1"}
    assert (body["type"], body["reason"], body["count"]) == ("Warning", "SecretAccessDenied", 1)
    assert body["source"] == {"component": "lattice-hooks", "host": "hooks-0"}
    assert second.namespace == "default"  # cluster-scoped: Events go to default, as client-go does
    assert "namespace" not in event_body(second, "h", "t")["involvedObject"]
    long = event_body(PendingEvent("n", "shop", note("x" * 5000), 1), "h", "t")
    assert len(long["message"]) == 1024


@pytest.mark.parametrize(("env", "on"), [
    ({}, False), ({"LATTICE_HOOKS_KUBECONFIG": "/k"}, True),
    ({"LATTICE_HOOKS_KUBECONFIG": "/k", "LATTICE_HOOKS_EVENTS": "off"}, False),
])
def test_recorder_from_env(env: dict[str, str], on: bool) -> None:
    assert (recorder_from_env(env) is not None) is on
