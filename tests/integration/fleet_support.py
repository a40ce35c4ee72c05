"""Helpers for the self-management tests (test_pivot.py) and bench/pivot.py: watches recording
what happens to objects on a real API server, waits on LatticeClusters, the object inventory of a
cluster's capi-<name> namespace, and a client of a cell's read-only CAPI proxy."""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from lattice_dev.local_cluster import LocalCluster
from lattice_move import names
from lattice_tunnel import pki

Obj = dict[str, Any]
# Every kind a pivot of a docker/kubeadm cluster moves.
KINDS = {
    "cluster.x-k8s.io/v1beta2": ["clusters", "machinedeployments", "machinesets", "machines"],
    "controlplane.cluster.x-k8s.io/v1beta2": ["kubeadmcontrolplanes"],
    "bootstrap.cluster.x-k8s.io/v1beta2": ["kubeadmconfigs", "kubeadmconfigtemplates"],
    "infrastructure.cluster.x-k8s.io/v1beta2": ["devclusters", "devmachines", "devmachinetemplates"],
    "v1": ["secrets", "configmaps"],
}
CAPI_KINDS = "clusters,machinedeployments,machinesets,machines,kubeadmcontrolplanes,kubeadmconfigs," \
             "kubeadmconfigtemplates,devclusters,devmachines,devmachinetemplates"


def _paths() -> list[str]:
    out = []
    for gv, plurals in KINDS.items():
        base = "/api/v1" if gv == "v1" else f"/apis/{gv}"
        out += [f"{base}/{p}" for p in plurals]
    return out


class Watch:
    """Every event for the move kinds in one namespace of one cluster, from now on."""

    def __init__(self, cluster: LocalCluster, namespace: str, on_event: Callable[[str, Obj], None] | None = None,
                 paths: list[str] | None = None) -> None:
        self.cluster, self.namespace = cluster, namespace
        self.events: list[tuple[str, Obj]] = []
        self.on_event = on_event
        self._stop = threading.Event()
        self._opened = threading.Semaphore(0)
        self._threads = [threading.Thread(target=self._watch, args=(p,), daemon=True) for p in paths or _paths()]
        for t in self._threads:
            t.start()
        for _ in self._threads:
            self._opened.acquire(timeout=30)

    def _watch(self, path: str) -> None:
        cp = self.cluster.cp
        query = f"watch=true&fieldSelector=metadata.namespace%3D{self.namespace}&timeoutSeconds=1800"
        opened = False
        while not self._stop.is_set():
            try:
                with httpx.stream("GET", f"{cp.server}{path}?{query}", timeout=None,
                                  verify=ssl.create_default_context(cafile=str(cp.ca_file)),
                                  headers={"Authorization": f"Bearer {cp.token}"}) as resp:
                    if not opened:
                        opened = True
                        self._opened.release()
                    for line in resp.iter_lines():
                        if self._stop.is_set():
                            return
                        event = json.loads(line)
                        self.events.append((event["type"], event["object"]))
                        if self.on_event is not None:
                            self.on_event(event["type"], event["object"])
            except (httpx.HTTPError, ValueError):
                if not opened:
                    opened = True
                    self._opened.release()
                time.sleep(0.5)

    def stop(self) -> None:
        self._stop.set()

    def deleted(self) -> dict[str, Obj]:
        """The last state of every object deleted, by UID."""
        return {o["metadata"]["uid"]: o for t, o in self.events if t == "DELETED"}


def inventory(cluster: LocalCluster, namespace: str) -> dict[str, Obj]:
    """Every object of the move kinds in the namespace, by UID."""
    items = cluster.cp.get_json(CAPI_KINDS + ",secrets,configmaps", "-n", namespace)["items"]
    return {o["metadata"]["uid"]: o for o in items}


def imported(cluster: LocalCluster, namespace: str) -> dict[str, Obj]:
    """Objects carrying lattice.dev/source-uid, by that source UID (asserting it is unique)."""
    out: dict[str, Obj] = {}
    for obj in inventory(cluster, namespace).values():
        source = (obj["metadata"].get("annotations") or {}).get(names.SOURCE_UID)
        if source:
            assert source not in out, f"two objects from source {source}: duplicate import"
            out[source] = obj
    return out


def lattice_cluster(cluster: LocalCluster, name: str) -> Obj | None:
    proc = cluster.cp.kubectl("get", "latticecluster", name, "-o", "json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def wait_for(what: str, predicate: Callable[[], Any], timeout: float = 300.0, interval: float = 1.0,
             logs: Callable[[], str] = lambda: "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except Exception as exc:  # a plane restarting; ask again
            value = None
            last = exc
        else:
            last = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} ({last})\n{logs()}")
        time.sleep(interval)


def phase_is(cluster: LocalCluster, name: str, *phases: str) -> Callable[[], bool]:
    def check() -> bool:
        lc = lattice_cluster(cluster, name)
        return bool(lc and (lc.get("status") or {}).get("phase") in phases)
    return check


def capi_proxy_get(cell: LocalCluster, path: str) -> httpx.Response:
    """GET through the cell's read-only CAPI proxy with a client certificate of its CA."""
    secret = cell.cp.get_json("-n", "lattice-system", "secret", "lattice-ca")
    ca = pki.CaBundle.from_data({k: base64.b64decode(v) for k, v in secret["data"].items()})
    leaf = pki.issue_client_certificate(ca, "capi-test")
    ctx = pki.client_ssl_context(ca.trust_pem(), leaf.chain_pem, leaf.key_pem)
    with httpx.Client(base_url=f"https://127.0.0.1:{cell.ports.proxy}", verify=ctx, timeout=15) as client:
        return client.get(path)


def operator_logs(*clusters: LocalCluster) -> str:
    out = []
    for c in clusters:
        if c.operator is not None:
            out.append(f"--- operator {c.name}\n{c.operator.tail(30)}")
    return "\n".join(out)
