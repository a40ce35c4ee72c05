"""Prometheus metrics of the hook server: requests and latency per controller and hook, compile
failures by reason, Events by outcome, and what each Audit-mode CedarPolicy would have changed.
One registry per app, so several apps can live in one process."""

from __future__ import annotations

import attrs
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

CONTENT_TYPE = CONTENT_TYPE_LATEST


@attrs.define
class HookMetrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    failures: Counter
    events: Counter
    audit: Counter

    @classmethod
    def create(cls) -> HookMetrics:
        reg = CollectorRegistry(auto_describe=True)
        return cls(
            registry=reg,
            requests=Counter(
                "lattice_hook_requests", "Hook requests answered, by controller, hook and HTTP code.",
                ("controller", "hook", "code"), registry=reg,
            ),
            latency=Histogram(
                "lattice_hook_request_duration_seconds",
                "Time to answer a hook request (decode, compile, encode).",
                ("controller", "hook"), buckets=_BUCKETS, registry=reg,
            ),
            failures=Counter(
                "lattice_hook_compile_failures",
                "Parents answered with a Failed status, by reason (InternalError = the compiler raised).",
                ("controller", "reason"), registry=reg,
            ),
            events=Counter(
                "lattice_hook_events",
                "Kubernetes Events by outcome: written, deduplicated (folded into an existing Event's "
                "count), dropped_rate, dropped_queue, failed.",
                ("result",), registry=reg,
            ),
            audit=Counter(
                "lattice_cedar_audit_decisions",
                "Decisions an Audit-mode CedarPolicy would have changed, per evaluation (each sync that "
                "evaluates the request counts once), by policy, action and what it would do.",
                ("policy", "action", "would"), registry=reg,
            ),
        )

    def observe(self, controller: str, hook: str, code: int, seconds: float) -> None:
        self.requests.labels(controller, hook, str(code)).inc()
        self.latency.labels(controller, hook).observe(seconds)

    def failed(self, controller: str, reason: str) -> None:
        self.failures.labels(controller, reason).inc()

    def event(self, result: str) -> None:
        self.events.labels(result).inc()

    def audited(self, policy: str, action: str, would: str) -> None:
        self.audit.labels(policy, action, would).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
