"""Policy you can see, live, on the ``lattice_loop`` fixture: the real control plane and the real
Metacontroller calling the ``lattice-hooks`` process, which writes Events to the same apiserver as
the in-cluster hook server's ServiceAccount (its shipped RBAC).

* a one-sided declaration shows the MeshAgreed=False condition (the Mesh column of ``kubectl get
  latticeservices``), ``lattice get mesh`` marks the edge, ``kubectl describe`` shows the Warning,
  and agreeing later shows the Normal Event;
* a denied secret is a Warning Event, a new permit a Normal ``Recovered``;
* an Audit-mode CedarPolicy changes no decision, and produces its Event (on the policy and on the
  service) and its metric; ``lattice policy check`` reports it beside the decision;
* an invalid CedarPolicy is a Warning ``PolicyInvalid``;
* two hook-server replicas writing the same Event fold into one Event with a count.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live import LatticeLoop

from cli import get_mesh
from cli import policy as policy_cli
from cli.inventory import Source
from hooks.controllers.events import EventNote, ObjectRef
from hooks.server.events import EventRecorder, KubeEventSink, event_name
from lattice_dev import ControlPlane, HookServerProcess

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]

ROOT = Path(__file__).resolve().parents[2]
API = "lattice.dev/v1alpha1"


def wait(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except Exception as exc:  # not there yet
            last = exc
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


class World:
    def __init__(self, cp: ControlPlane, server: HookServerProcess, ns: str, suffix: str) -> None:
        self.cp, self.server, self.ns, self.suffix = cp, server, ns, suffix
        self.source = Source(kubeconfig=str(cp.kubeconfig))

    def service(self, name: str) -> dict[str, Any]:
        return dict(self.cp.get_json("latticeservice", name, "-n", self.ns))

    def condition(self, name: str, kind: str) -> dict[str, Any]:
        for c in (self.service(name).get("status") or {}).get("conditions") or []:
            if c.get("type") == kind:
                return dict(c)
        return {}

    def describe(self, *args: str) -> str:
        return str(self.cp.kubectl("describe", *args).stdout)

    def wait_event(self, reason: str, *args: str, timeout: float = 60.0) -> str:
        return str(wait(f"Event {reason} in describe {' '.join(args)}",
                        lambda: (out := self.describe(*args)) and reason in out and out, timeout))


def mesh_column(world: World) -> dict[str, str]:
    """The Mesh column of ``kubectl get latticeservices`` (read at the header's offsets: the
    Strategy column is empty when the spec leaves it at its default)."""
    header, *rows = world.cp.kubectl("get", "latticeservices", "-n", world.ns).stdout.splitlines()
    start = header.index("MESH")
    end = header.index("MESSAGE")
    return {row.split()[0]: row[start:end].strip() for row in rows}


def service_doc(ns: str, name: str, resources: dict[str, Any], ports: bool = True) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": {"main": {"image": f"shop/{name}:1"}}, "resources": resources}
    if ports:
        spec["service"] = {"ports": {"http": {"port": 8080}}}
    return {"apiVersion": API, "kind": "LatticeService", "metadata": {"name": name, "namespace": ns}, "spec": spec}


def cedar_doc(name: str, text: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "CedarPolicy", "metadata": {"name": name, "namespace": "lattice-system"},
            "spec": {"policies": text, **spec}}


@pytest.fixture(scope="module")
def world(lattice_loop: LatticeLoop) -> Iterator[World]:
    cp = lattice_loop.cp
    suffix = uuid.uuid4().hex[:5]
    ns = f"pv-{suffix}"
    cp.kubectl("create", "namespace", ns)
    try:
        yield World(cp, lattice_loop.hooks, ns, suffix)
    finally:
        cp.kubectl("delete", "namespace", ns, "--wait=false", check=False)
        cp.kubectl("delete", "cedarpolicies", "-n", "lattice-system", "-l", f"pv-test={suffix}",
                   "--ignore-not-found", check=False)


def test_one_sided_declaration_is_a_warning_condition_a_graph_edge_and_an_event(world: World) -> None:
    ns = world.ns
    world.cp.apply([service_doc(ns, "web", {"api": {"type": "service", "direction": "outbound"}}, ports=False),
                    service_doc(ns, "api", {})])
    mesh = wait("web MeshAgreed=False", lambda: (c := world.condition("web", "MeshAgreed")).get("status") == "False"
                and c)
    assert mesh["reason"] == "OneSided" and f"{ns}/api does not accept {ns}/web" in mesh["message"]
    web = world.service("web")
    assert web["status"]["phase"] == "Ready"  # deployed; only the call is dropped
    [one] = web["status"]["oneSided"]
    assert (one["name"], one["direction"]) == ("api", "outbound")
    assert one["fix"] == "resources:\n  web:\n    type: service\n    direction: inbound\n"
    wait("the Mesh column", lambda: mesh_column(world) == {"web": "OneSided", "api": "AllAgreed"})

    out = io.StringIO()
    assert get_mesh.run(world.source, ns, False, get_mesh.Output.json, out=out, err=io.StringIO()) == 0
    [edge] = json.loads(out.getvalue())["edges"]
    assert (edge["from"], edge["to"], edge["status"], edge["missingSide"], edge["fixFor"]) == (
        f"{ns}/web", f"{ns}/api", "one-sided", "callee", f"{ns}/api")

    described = world.wait_event("OneSidedDeclaration", "latticeservice", "web", "-n", ns)
    assert "Warning" in described and "lattice-hooks" in described

    world.cp.apply(service_doc(ns, "api", {"web": {"type": "service", "direction": "inbound"}}))
    wait("web MeshAgreed=True", lambda: world.condition("web", "MeshAgreed").get("status") == "True")
    world.wait_event("MeshAgreed", "latticeservice", "web", "-n", ns)
    out = io.StringIO()
    code = policy_cli.run(policy_cli.Question(world.source, ns, "web", "api", 8080), out=out, err=io.StringIO())
    assert code == 0 and out.getvalue().startswith(f"{ns}/web -> {ns}/api port 8080: allowed")


def test_secret_denied_then_recovered_events(world: World) -> None:
    ns = world.ns
    secret = {"type": "secret", "id": f"{ns}/db", "params": {"provider": "vault-prod"}}
    world.cp.apply(service_doc(ns, "vaulted", {"db": secret}))
    wait("vaulted Failed", lambda: world.service("vaulted").get("status", {}).get("phase") == "Failed")
    described = world.wait_event("SecretAccessDenied", "latticeservice", "vaulted", "-n", ns)
    assert "secret access denied: 'db'" in described
    permit = cedar_doc(f"pv-{world.suffix}-permit", 'permit(principal, action == Lattice::Action::"AccessSecret", '
                       f'resource) when {{ principal.namespace == "{ns}" }};')
    permit["metadata"]["labels"] = {"pv-test": world.suffix}
    world.cp.apply(permit)
    wait("vaulted Ready", lambda: world.service("vaulted").get("status", {}).get("phase") == "Ready")
    described = world.wait_event("Recovered", "latticeservice", "vaulted", "-n", ns)
    assert "(was SecretAccessDenied:" in described


def test_audit_policy_changes_no_decision_and_reports(world: World) -> None:
    ns = world.ns
    wait("vaulted Ready", lambda: world.service("vaulted").get("status", {}).get("phase") == "Ready")
    name = f"pv-{world.suffix}-audit"
    audit = cedar_doc(name, 'forbid(principal, action == Lattice::Action::"AccessSecret", resource) '
                      f'when {{ resource.path == "{ns}/db" }};', mode="Audit")
    audit["metadata"]["labels"] = {"pv-test": world.suffix}
    world.cp.apply(audit)
    described = world.wait_event("AuditWouldDeny", "cedarpolicy", name, "-n", "lattice-system")
    assert f"{ns}/vaulted: secret 'db' would be denied by {name}.0 were this policy enforced (it is allowed)" \
        in " ".join(described.split())
    world.wait_event("AuditWouldDeny", "latticeservice", "vaulted", "-n", ns)
    assert world.service("vaulted")["status"]["phase"] == "Ready"  # no decision changed
    world.cp.get_json("externalsecret", "vaulted-db", "-n", ns)  # still there
    status = wait("the audit policy validated",
                  lambda: world.cp.get_json("cedarpolicy", name, "-n", "lattice-system").get("status"))
    assert "Audit mode: evaluated and reported, never enforced" in status["message"]
    metrics = httpx.get(f"{world.server.url}/metrics").text
    sample = f'lattice_cedar_audit_decisions_total{{action="AccessSecret",policy="{name}",would="deny"}}'
    assert sample in metrics
    assert 'lattice_hook_events_total{result="written"}' in metrics

    out = io.StringIO()
    q = policy_cli.Question(world.source, ns, service="vaulted", secret="db")
    assert policy_cli.run(q, out=out, err=io.StringIO()) == 0
    assert f"audit: CedarPolicy {name} (Audit mode) would deny it (by {name}.0); not enforced" in out.getvalue()


def test_invalid_policy_is_a_warning_event(world: World) -> None:
    name = f"pv-{world.suffix}-broken"
    broken = cedar_doc(name, "permit(principal, action, resource) when { principal.nope };")
    broken["metadata"]["labels"] = {"pv-test": world.suffix}
    world.cp.apply(broken)
    described = world.wait_event("PolicyInvalid", "cedarpolicy", name, "-n", "lattice-system")
    assert "Warning" in described


def test_two_replicas_fold_into_one_event_with_a_count(world: World) -> None:
    svc = world.service("api")
    note = EventNote(ObjectRef(API, "LatticeService", "api", world.ns, svc["metadata"]["uid"]),
                     "Warning", "ReplicaTest", "the same Event from two hook-server replicas")

    async def emit(instance: str) -> None:
        recorder = EventRecorder(KubeEventSink(kubeconfig=str(world.cp.kubeconfig), instance=instance))
        recorder.record([note])
        await recorder.drain()

    asyncio.run(emit("replica-a"))
    asyncio.run(emit("replica-b"))
    event = world.cp.get_json("event", event_name(note), "-n", world.ns)
    assert event["count"] == 2 and event["involvedObject"]["uid"] == svc["metadata"]["uid"]
    assert "ReplicaTest" in world.describe("latticeservice", "api", "-n", world.ns)
