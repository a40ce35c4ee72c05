"""The whole loop under load: kube-apiserver + etcd + kube-controller-manager, the real
Metacontroller with the flags ``manifests/`` ships, and ``lattice-hooks`` — exactly what ``lattice
dev up`` and the integration tests run (``cli.dev.start_lattice_loop``).

    .venv/bin/python bench/reconcile.py [--quick] [--services N] [--namespaces N] [--rounds N]
                                        [--metacontroller-arg=--flag=value ...]

Workload (deterministic): N LatticeServices (200; 40 with --quick) over 4 namespaces, each calling
the 5 services after it in a ring (every other one in another namespace) and accepting the 5
before it, so every edge is agreed by both sides; every 4th has a secret (``${resources.db.password}``)
that a permitting CedarPolicy per namespace allows. All are created at once (8 client threads)
after the policies.

Measured, in this order:

* burst — from the first create until every service is Ready: ``services_ready_per_second``; the
  time to the first Ready and to 50 %; and where the time went meanwhile: CPU seconds of each
  process, the hook calls (count, total time), Metacontroller's work queues (adds, retries, mean
  wait in the queue, mean time per sync), the apiserver's writes (count, mean latency);
* floor — in the same run, on the same apiserver: the very children the burst made, server-side
  applied again (into a namespace of their own, 8 threads, no Metacontroller, no hooks), so
  ``services_ready_vs_floor_ratio`` says how close the loop gets to what the apiserver alone needs
  for the same objects here;
* revocation — a callee drops one inbound declaration; until both sides' policies (the caller's
  CiliumNetworkPolicy egress, the callee's ingress and AuthorizationPolicy principal) no longer
  name the other: ``revocation_seconds_p50`` (the edit is put back between rounds);
* cedar recovery — a service whose secret is denied (Failed), then its namespace's permit is
  applied; until it is Ready: ``cedar_recovery_seconds_p50``;
* install (not with --quick; alone with --install-only) — a fresh plane where Metacontroller already
  runs; ``kubectl apply -k`` of the Lattice CRDs and controllers together, then one service: until it
  is Ready (``install_to_first_ready_seconds``: bounded by ``--discovery-interval``).

Last lines: ``services_ready_per_second``, ``revocation_seconds_p50``, ``cedar_recovery_seconds_p50``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from cli.dev import start_lattice_loop
from hooks.controllers import CONTROLLERS
from hooks.controllers_manifest import METACONTROLLER_FLAGS
from lattice_dev import build_in_checkout
from lattice_dev.loop import Loop

API = "lattice.dev/v1alpha1"
DEPS = 5
THREADS = 8


# ---- the workload ---------------------------------------------------------------------------------

def service(i: int, n: int, namespaces: list[str]) -> dict[str, Any]:
    ns = namespaces[i % len(namespaces)]

    def ref(j: int, direction: str) -> dict[str, Any]:
        peer_ns = namespaces[j % len(namespaces)]
        out: dict[str, Any] = {"type": "service", "id": f"s{j:04d}", "direction": direction}
        if peer_ns != ns:
            out["namespace"] = peer_ns
        return out

    resources = {f"out{k}": ref((i + k) % n, "outbound") for k in range(1, DEPS + 1)}
    resources |= {f"in{k}": ref((i - k) % n, "inbound") for k in range(1, DEPS + 1)}
    variables = {"PEER_URL": "${resources.out1.url}", "LOG_LEVEL": "info"}
    if i % 4 == 0:
        resources["db"] = {"type": "secret", "id": f"{ns}/db-{i}", "params": {"provider": "vault-prod",
                                                                             "keys": ["password"]}}
        variables["DB_PASSWORD"] = "${resources.db.password}"
    return {"apiVersion": API, "kind": "LatticeService", "metadata": {"name": f"s{i:04d}", "namespace": ns},
            "spec": {"containers": {"main": {"image": f"bench/s{i:04d}:1", "variables": variables,
                                             "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}}}},
                     "service": {"ports": {"http": {"port": 8080}}},
                     "replicas": {"min": 1, "max": 3},
                     "resources": resources}}


def permit(ns: str) -> dict[str, Any]:
    meta = {"name": f"permit-{ns}", "namespace": "lattice-system"}
    return {"apiVersion": API, "kind": "CedarPolicy", "metadata": meta,
            "spec": {"enabled": True, "priority": 100, "policies": (
                'permit(principal, action == Lattice::Action::"AccessSecret", resource)'
                f' when {{ principal.namespace == "{ns}" }};')}}


# ---- the apiserver ---------------------------------------------------------------------------------

class Api:
    def __init__(self, loop: Loop) -> None:
        cp = loop.cp
        self.client = httpx.Client(base_url=cp.server, headers={"Authorization": f"Bearer {cp.token}"},
                                   verify=cp.ssl_context(), timeout=60,
                                   limits=httpx.Limits(max_connections=THREADS * 2))

    @staticmethod
    def path(api_version: str, plural: str, ns: str | None, name: str = "") -> str:
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        return f"{base}{f'/namespaces/{ns}' if ns else ''}/{plural}{f'/{name}' if name else ''}"

    def create(self, obj: dict[str, Any], plural: str) -> None:
        api_version, ns = obj["apiVersion"], obj["metadata"].get("namespace")
        self.client.post(self.path(api_version, plural, ns), json=obj).raise_for_status()

    def apply(self, obj: dict[str, Any], plural: str) -> None:
        api_version, ns, name = obj["apiVersion"], obj["metadata"].get("namespace"), obj["metadata"]["name"]
        r = self.client.patch(self.path(api_version, plural, ns, name), content=json.dumps(obj),
                              params={"fieldManager": "bench", "force": "true"},
                              headers={"Content-Type": "application/apply-patch+yaml"})
        if r.is_error:
            raise SystemExit(f"apply of {obj['kind']} {ns}/{name} failed: {r.status_code} {r.text[:500]}")

    def get(self, api_version: str, plural: str, ns: str | None, name: str) -> dict[str, Any] | None:
        r = self.client.get(self.path(api_version, plural, ns, name))
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return dict(r.json())

    def items(self, api_version: str, plural: str, ns: str | None = None) -> list[dict[str, Any]]:
        r = self.client.get(self.path(api_version, plural, ns))
        r.raise_for_status()
        return list(r.json().get("items") or [])

    def merge_patch(self, plural: str, ns: str, name: str, patch: dict[str, Any]) -> None:
        self.client.patch(self.path(API, plural, ns, name), content=json.dumps(patch),
                          headers={"Content-Type": "application/merge-patch+json"}).raise_for_status()

    def metrics(self) -> str:
        r = self.client.get("/metrics")
        r.raise_for_status()
        return r.text


def wait(what: str, check: Callable[[], Any], timeout: float, interval: float = 0.02) -> float:
    t0 = time.perf_counter()
    while not check():
        if time.perf_counter() - t0 > timeout:
            raise SystemExit(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
    return time.perf_counter() - t0


# ---- metrics ---------------------------------------------------------------------------------------

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ([-+0-9.eEinfNa]+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    out = []
    for line in text.splitlines():
        m = _LINE.match(line)
        if m:
            out.append((m.group(1), dict(_LABEL.findall(m.group(3) or "")), float(m.group(4))))
    return out


def total(samples: Iterable[tuple[str, dict[str, str], float]], name: str,
          where: Callable[[dict[str, str]], bool] = lambda _: True) -> float:
    return sum(v for n, labels, v in samples if n == name and where(labels))


def diff(after: list[tuple[str, dict[str, str], float]], before: list[tuple[str, dict[str, str], float]],
         name: str, where: Callable[[dict[str, str]], bool] = lambda _: True) -> float:
    return total(after, name, where) - total(before, name, where)


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for name, pid in pids.items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[name] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            out[name] = 0.0
    return out


class Probe:
    """Everything 'where the time goes' reads, at one instant."""

    def __init__(self, loop: Loop, api: Api) -> None:
        self.loop, self.api = loop, api

    def pids(self) -> dict[str, int]:
        pids = {name: p.pid for name, p in self.loop.cp.processes.items() if p.alive()}
        if self.loop.hooks.process is not None:
            pids["lattice-hooks"] = self.loop.hooks.process.pid
        return pids

    def snapshot(self) -> dict[str, Any]:
        return {
            "cpu": cpu_seconds(self.pids()),
            "apiserver": parse_metrics(self.api.metrics()),
            "metacontroller": parse_metrics(httpx.get(self.loop.cp.metacontroller_metrics_url, timeout=30).text),
            "hooks": parse_metrics(httpx.get(f"{self.loop.hooks.url}/metrics", timeout=30).text),
            "t": time.perf_counter(),
        }


WRITE_VERBS = {"POST", "PUT", "PATCH", "APPLY", "DELETE"}


def report(before: dict[str, Any], after: dict[str, Any], services: int) -> list[str]:
    """name=value lines: where the time of a phase went."""
    wall = after["t"] - before["t"]
    lines = [f"wall_seconds={wall:.2f}"]
    used = {name: after["cpu"][name] - before["cpu"].get(name, 0.0) for name in sorted(after["cpu"])}
    for name, seconds in used.items():
        lines.append(f"cpu_seconds_{name.replace('-', '_')}={seconds:.2f}")
    lines.append(f"cpu_seconds_per_service={sum(used.values()) / services:.3f} "
                 f"(apiserver {used.get('kube-apiserver', 0) / services:.3f}) "
                 f"loop_share_of_machine={sum(used.values()) / (wall * (os.cpu_count() or 1)):.2f}")
    hb, ha = before["hooks"], after["hooks"]
    for c in sorted({c.name for c in CONTROLLERS}):
        for hook in ("sync", "customize"):
            def where(labels: dict[str, str], c: str = c, hook: str = hook) -> bool:
                return labels.get("controller") == c and labels.get("hook") == hook
            n = diff(ha, hb, "lattice_hook_request_duration_seconds_count", where)
            if n:
                s = diff(ha, hb, "lattice_hook_request_duration_seconds_sum", where)
                lines.append(f"hook_{c.replace('-', '_')}_{hook}_calls={n:.0f} "
                             f"hook_{c.replace('-', '_')}_{hook}_mean_ms={1000 * s / n:.2f}")
    mb, ma = before["metacontroller"], after["metacontroller"]
    for queue in ("lattice-latticeservice", "lattice-latticenamespace", "lattice-cedarpolicy"):
        def q(labels: dict[str, str], queue: str = queue) -> bool:
            return labels.get("name", "").endswith(queue)
        adds = diff(ma, mb, "workqueue_adds_total", q)
        n = diff(ma, mb, "workqueue_queue_duration_seconds_count", q)
        if not n:
            continue
        wait_s = diff(ma, mb, "workqueue_queue_duration_seconds_sum", q)
        work_n = diff(ma, mb, "workqueue_work_duration_seconds_count", q) or 1
        work_s = diff(ma, mb, "workqueue_work_duration_seconds_sum", q)
        key = queue.removeprefix("lattice-")
        lines.append(f"mc_{key}_adds={adds:.0f} mc_{key}_syncs={n:.0f} "
                     f"mc_{key}_retries={diff(ma, mb, 'workqueue_retries_total', q):.0f} "
                     f"mc_{key}_queue_wait_mean_ms={1000 * wait_s / n:.1f} "
                     f"mc_{key}_sync_mean_ms={1000 * work_s / work_n:.1f} "
                     f"mc_{key}_syncs_per_service={n / services:.1f}")
    ab, aa = before["apiserver"], after["apiserver"]
    by_group: dict[str, float] = defaultdict(float)
    for n_, labels, v in aa:
        if n_ == "apiserver_request_total" and labels.get("verb") in WRITE_VERBS:
            by_group[labels.get("group") or "core"] += v
    for n_, labels, v in ab:
        if n_ == "apiserver_request_total" and labels.get("verb") in WRITE_VERBS:
            by_group[labels.get("group") or "core"] -= v
    writes = sum(by_group.values())

    def is_write(labels: dict[str, str]) -> bool:
        return labels.get("verb") in WRITE_VERBS

    dur_n = diff(aa, ab, "apiserver_request_duration_seconds_count", is_write) or 1
    dur_s = diff(aa, ab, "apiserver_request_duration_seconds_sum", is_write)
    lines.append(f"apiserver_writes={writes:.0f} apiserver_writes_per_service={writes / services:.1f} "
                 f"apiserver_write_mean_ms={1000 * dur_s / dur_n:.1f}")
    top = sorted(by_group.items(), key=lambda kv: -kv[1])[:6]
    lines.append("apiserver_writes_by_group " + " ".join(f"{g}={v:.0f}" for g, v in top))
    return lines


# ---- the phases ------------------------------------------------------------------------------------

def ready_count(api: Api) -> int:
    return sum(1 for s in api.items(API, "latticeservices")
               if (s.get("status") or {}).get("phase") == "Ready" and s["metadata"]["name"].startswith("s"))


def burst(api: Api, probe: Probe, n: int, namespaces: list[str]) -> tuple[float, list[str]]:
    for ns in namespaces:
        api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}, "namespaces")
        api.apply(permit(ns), "cedarpolicies")
    objs = [service(i, n, namespaces) for i in range(n)]
    time.sleep(2)  # the namespaces' decorator syncs settle
    before = probe.snapshot()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda o: api.create(o, "latticeservices"), objs))
    created = time.perf_counter() - t0
    first = half = 0.0
    while True:
        ready = ready_count(api)
        now = time.perf_counter() - t0
        if ready and not first:
            first = now
        if ready * 2 >= n and not half:
            half = now
        if ready == n:
            break
        if now > 60 + n:
            raise SystemExit(f"only {ready}/{n} Ready after {now:.0f}s")
        time.sleep(0.1)
    elapsed = time.perf_counter() - t0
    after = probe.snapshot()
    lines = [f"burst_services={n}", f"burst_created_seconds={created:.2f}", f"burst_first_ready_seconds={first:.2f}",
             f"burst_half_ready_seconds={half:.2f}", f"burst_all_ready_seconds={elapsed:.2f}",
             *report(before, after, n)]
    return n / elapsed, lines


CHILD_KINDS = {
    "ServiceAccount": ("v1", "serviceaccounts"), "Deployment": ("apps/v1", "deployments"),
    "Service": ("v1", "services"), "HorizontalPodAutoscaler": ("autoscaling/v2", "horizontalpodautoscalers"),
    "ConfigMap": ("v1", "configmaps"), "ExternalSecret": ("external-secrets.io/v1", "externalsecrets"),
    "CiliumNetworkPolicy": ("cilium.io/v2", "ciliumnetworkpolicies"),
    "AuthorizationPolicy": ("security.istio.io/v1", "authorizationpolicies"),
    "EnvoyFilter": ("networking.istio.io/v1alpha3", "envoyfilters"),
}
_SYSTEM = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "ownerReferences")


def floor(api: Api, namespaces: list[str]) -> tuple[int, float]:
    """The children the burst made, server-side applied again into a namespace of their own by 8
    threads, without Metacontroller or hooks: (objects, seconds). What the apiserver alone needs for
    the same writes, in the same run."""
    ns = "bench-floor"
    api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}, "namespaces")
    objs: list[tuple[dict[str, Any], str]] = []
    for kind, (api_version, plural) in CHILD_KINDS.items():
        for src in namespaces:
            for obj in api.items(api_version, plural, src):
                meta = obj["metadata"]
                if not any(r.get("controller") and r.get("kind") == "LatticeService"
                           for r in meta.get("ownerReferences") or []):
                    continue
                copy = {**{k: v for k, v in obj.items() if k != "status"}, "apiVersion": api_version, "kind": kind}
                copy["metadata"] = {k: v for k, v in meta.items() if k not in _SYSTEM}
                copy["metadata"]["namespace"] = ns
                copy["metadata"]["name"] = f"{src}-{meta['name']}"
                if kind == "Service":  # what the compiler sets; headless: the /24 service range holds 254
                    copy["spec"] = {**{k: v for k, v in copy["spec"].items() if k in ("ports", "selector")},
                                    "clusterIP": "None"}
                objs.append((copy, plural))
    t0 = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda op: api.apply(*op), objs))
    return len(objs), time.perf_counter() - t0


def _edges(api: Api, caller: dict[str, Any], callee: dict[str, Any]) -> bool:
    """Whether any of the three policies still names the other side."""
    cns, cname = caller["metadata"]["namespace"], caller["metadata"]["name"]
    ens, ename = callee["metadata"]["namespace"], callee["metadata"]["name"]
    a = json.dumps((api.get("cilium.io/v2", "ciliumnetworkpolicies", cns, f"policy-{cname}") or {}).get("spec", {})
                   .get("egress") or [])
    b = json.dumps((api.get("cilium.io/v2", "ciliumnetworkpolicies", ens, f"policy-{ename}") or {}).get("spec", {})
                   .get("ingress") or [])
    c = json.dumps((api.get("security.istio.io/v1", "authorizationpolicies", ens, f"allow-to-{ename}") or {})
                   .get("spec", {}))
    return (f'"{ename}"' in a) or (f'"{cname}"' in b) or (f"/ns/{cns}/sa/{cname}" in c)


def revocation(api: Api, n: int, namespaces: list[str], rounds: int) -> list[float]:
    times = []
    for r in range(rounds):
        i = (r * 7) % n
        caller, callee = service(i, n, namespaces), service((i + 1) % n, n, namespaces)
        ens, ename = callee["metadata"]["namespace"], callee["metadata"]["name"]
        wait("edges before revoking", lambda c=caller, e=callee: _edges(api, c, e), 30)
        t0 = time.perf_counter()
        api.merge_patch("latticeservices", ens, ename, {"spec": {"resources": {"in1": None}}})
        wait("revocation", lambda c=caller, e=callee: not _edges(api, c, e), 30, interval=0.005)
        times.append(time.perf_counter() - t0)
        put_back = {"spec": {"resources": {"in1": callee["spec"]["resources"]["in1"]}}}
        api.merge_patch("latticeservices", ens, ename, put_back)
        wait("edges restored", lambda c=caller, e=callee: _edges(api, c, e), 30)
    return times


def cedar_recovery(api: Api, rounds: int) -> list[float]:
    times = []
    for r in range(rounds):
        ns = f"bench-cedar-{r}"
        api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}, "namespaces")
        svc = {"apiVersion": API, "kind": "LatticeService", "metadata": {"name": "vaulted", "namespace": ns},
               "spec": {"containers": {"main": {"image": "bench/vaulted:1",
                                                "variables": {"DB_PASSWORD": "${resources.db.password}"}}},
                        "resources": {"db": {"type": "secret", "id": f"{ns}/db",
                                             "params": {"provider": "vault-prod", "keys": ["password"]}}}}}
        api.create(svc, "latticeservices")

        def phase(ns: str = ns) -> str:
            return str(((api.get(API, "latticeservices", ns, "vaulted") or {}).get("status") or {}).get("phase"))

        wait("denied", lambda: phase() == "Failed", 60)
        t0 = time.perf_counter()
        api.apply(permit(ns), "cedarpolicies")
        wait("recovered", lambda: phase() == "Ready", 60, interval=0.005)
        times.append(time.perf_counter() - t0)
    return times


def install_to_ready(bin_dir: Path, flags: tuple[str, ...], workdir: Path) -> float:
    """A fresh plane with Metacontroller already running (its CRDs, no Lattice ones); then
    ``kubectl apply -k`` of the overlay (the Lattice CRDs and the controllers at once, as a first
    install or an upgrade adding a kind does) and one LatticeService: seconds until it is Ready.
    Metacontroller starts a controller only once discovery serves its kinds (``--discovery-interval``)."""
    from cli.dev import HOOKS_ENV, install_manifests
    from lattice_dev import ControlPlane, HookServerProcess, metacontroller_crd_paths

    with ControlPlane.start(workdir, extra_crds=metacontroller_crd_paths(), bin_dir=bin_dir) as cp:
        hooks = HookServerProcess.start(cp.workdir / "logs", env=HOOKS_ENV)
        try:
            cp.start_metacontroller(flags)
            time.sleep(3)  # its first discovery is done
            ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "install"}}
            svc = {"apiVersion": API, "kind": "LatticeService", "metadata": {"name": "first", "namespace": "install"},
                   "spec": {"containers": {"main": {"image": "bench/first:1"}},
                            "service": {"ports": {"http": {"port": 8080}}}}}
            t0 = time.perf_counter()
            install_manifests(cp, hooks.url)
            cp.wait_crds_established(["latticeservices.lattice.dev"])
            cp.apply([ns, svc])

            def ready() -> bool:
                got = cp.kubectl("get", "latticeservice", "first", "-n", "install", "-o",
                                 "jsonpath={.status.phase}", check=False)
                return got.stdout.strip() == "Ready"

            wait("the first service Ready after the install", ready, 120, interval=0.1)
            return time.perf_counter() - t0
        finally:
            cp.stop_metacontroller()
            hooks.stop()


def discovery_bytes(api: Api) -> int:
    """What one discovery refresh of Metacontroller reads (aggregated discovery: /api and /apis)."""
    accept = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
              "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")
    return sum(len(api.client.get(p, headers={"Accept": accept}).content) for p in ("/api", "/apis"))


def controllers_started(loop: Loop) -> bool:
    proc = loop.cp.processes.get("metacontroller")
    log = proc.log_path.read_text(errors="replace") if proc else ""
    return all(re.search(rf'"Starting (Composite|Decorator)Controller".*"lattice-{c.name}"', log) for c in CONTROLLERS)


def flags_with(overrides: list[str]) -> tuple[str, ...]:
    """The shipped flags, each ``--name=value`` in ``overrides`` replacing the one of that name."""
    names = {o.split("=", 1)[0] for o in overrides}
    return (*(f for f in METACONTROLLER_FLAGS if f.split("=", 1)[0] not in names), *overrides)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--services", type=int)
    parser.add_argument("--namespaces", type=int, default=4)
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--metacontroller-arg", action="append", default=[], metavar="FLAG",
                        help="replace a shipped Metacontroller flag (to compare settings; report the shipped ones)")
    parser.add_argument("--workdir", type=Path, help="keep the plane's logs here")
    parser.add_argument("--install-only", action="store_true", help="only the install-to-first-Ready phase")
    args = parser.parse_args()
    n = args.services or (40 if args.quick else 200)
    rounds = args.rounds or (3 if args.quick else 15)
    namespaces = [f"bench-{k}" for k in range(args.namespaces)]
    flags = flags_with(args.metacontroller_arg)
    print(f"metacontroller_flags={' '.join(flags)}", flush=True)
    print(f"load_average_at_start={os.getloadavg()[0]:.1f} cpus={os.cpu_count()}", flush=True)
    bin_dir = build_in_checkout()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-reconcile-"))
    if args.install_only:
        print(f"install_to_first_ready_seconds={install_to_ready(bin_dir, flags, workdir / 'install'):.1f}")
        return 0
    t0 = time.perf_counter()
    with start_lattice_loop(workdir, metacontroller_args=flags, bin_dir=bin_dir) as loop:
        wait("Metacontroller to start the controllers", lambda: controllers_started(loop), 120, interval=0.2)
        print(f"loop_start_seconds={time.perf_counter() - t0:.1f}", flush=True)
        api = Api(loop)
        probe = Probe(loop, api)
        print(f"discovery_bytes_per_refresh={discovery_bytes(api)}", flush=True)
        rate, lines = burst(api, probe, n, namespaces)
        for line in lines:
            print(line, flush=True)
        children, floor_seconds = floor(api, namespaces)
        print(f"floor_children={children} floor_seconds={floor_seconds:.2f} "
              f"floor_writes_per_second={children / floor_seconds:.0f}")
        print(f"floor_services_per_second={n / floor_seconds:.1f}")
        print(f"services_ready_vs_floor_ratio={rate / (n / floor_seconds):.2f}", flush=True)
        rev = revocation(api, n, namespaces, rounds)
        print(f"revocation_seconds={','.join(f'{t:.3f}' for t in rev)}")
        rec = cedar_recovery(api, rounds)
        print(f"cedar_recovery_seconds={','.join(f'{t:.3f}' for t in rec)}")
    if not args.quick:
        install = install_to_ready(bin_dir, flags, workdir / "install")
        print(f"install_to_first_ready_seconds={install:.1f}")
    print(f"load_average_at_end={os.getloadavg()[0]:.1f}")
    print(f"services_ready_per_second={rate:.1f}")
    print(f"revocation_seconds_p50={statistics.median(rev):.3f}")
    print(f"cedar_recovery_seconds_p50={statistics.median(rec):.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
