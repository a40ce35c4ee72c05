"""The move mechanics (lattice_move) against two real API servers with the Cluster API CRDs:
the objects the cluster compiler makes plus what Cluster API adds (CapiDouble), exported from the
source, imported batch by batch on the target, the source deleted. No tunnel here: batches are
handed over in-process (test_pivot.py runs the same through a real cell and agent)."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pivot_world import capi_planes, make_world, rest_for

import lattice_dev
from lattice_move import names
from lattice_move.exporter import Exporter
from lattice_move.importer import LATTICE_CLUSTER, Importer
from lattice_move.kube import MoveApi
from lattice_move.manifest import without_server_fields
from lattice_move.wire import batches
from lattice_proto import agent_pb2 as pb
from lattice_tunnel.kube_api import KubeApi
from lattice_tunnel.kube_target import resolve

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
Obj = dict[str, Any]


@pytest.fixture(scope="module")
def planes(testbed_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[lattice_dev.ControlPlane,
                                                                                           lattice_dev.ControlPlane]]:
    with capi_planes(tmp_path_factory.mktemp("move"), testbed_bin, "source", "target") as (source, target):
        yield source, target


async def api_for(cp: lattice_dev.ControlPlane) -> MoveApi:
    return MoveApi(await KubeApi.connect(resolve(str(cp.kubeconfig), None)))


@pytest_asyncio.fixture(loop_scope="function")
async def apis(planes: tuple[lattice_dev.ControlPlane, lattice_dev.ControlPlane]) -> AsyncIterator[tuple[MoveApi,
                                                                                                         MoveApi]]:
    source, target = await api_for(planes[0]), await api_for(planes[1])
    yield source, target
    await source.kube.aclose()
    await target.kube.aclose()


def world(cp: lattice_dev.ControlPlane, workers: int = 3) -> str:
    name = f"c{uuid.uuid4().hex[:6]}"
    with rest_for(cp) as rest:
        make_world(rest, name, workers=workers)
    return name


def everything(cp: lattice_dev.ControlPlane, namespace: str) -> dict[tuple[str, str], Obj]:
    """Every object of the Cluster API kinds, Secrets and ConfigMaps in the namespace, by (kind, name)."""
    kinds = ("clusters,machinedeployments,machinesets,machines,kubeadmcontrolplanes,kubeadmconfigs,"
             "kubeadmconfigtemplates,devclusters,devmachines,devmachinetemplates,secrets,configmaps")
    items = cp.get_json(kinds, "-n", namespace)["items"]
    return {(o["kind"], o["metadata"]["name"]): o for o in items if o["metadata"]["name"] != "kube-root-ca.crt"}


async def move(source: MoveApi, target: MoveApi, name: str, *, stop_after: int | None = None,
               importer: Importer | None = None) -> tuple[Any, Importer]:
    """Drive a whole move in-process (what the cell's driver does through the tunnel)."""
    ns = f"capi-{name}"
    graph = await Exporter(source).pause_and_collect(ns, name)
    importer = importer or Importer(target)
    move_id = uuid.uuid4().hex
    sent = 0
    for group in batches(graph, move_id, name, ns):
        acks = await asyncio.gather(*(importer.apply_batch(b) for b in group))
        for ack in acks:
            assert not ack.errors, [e.message for e in ack.errors]
        sent += len(group)
        if stop_after is not None and sent >= stop_after:
            return graph, importer
    lc = await source.get(LATTICE_CLUSTER, None, name)
    assert lc is not None
    await importer.complete(move_id, ns, name, [without_server_fields(lc)])
    await Exporter(source).delete_source(graph)
    return graph, importer


class DeletionWatch:
    """Watches kinds on the source and records the last state of every deleted object."""

    def __init__(self, cp: lattice_dev.ControlPlane, namespace: str, paths: list[str]) -> None:
        self.deleted: list[Obj] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._watch, args=(cp, namespace, p), daemon=True) for p in paths]
        for t in self._threads:
            t.start()

    def _watch(self, cp: lattice_dev.ControlPlane, namespace: str, path: str) -> None:
        url = f"{cp.server}{path.format(ns=namespace)}?watch=true&timeoutSeconds=60"
        try:
            with httpx.stream("GET", url, headers={"Authorization": f"Bearer {cp.token}"}, timeout=70,
                              verify=ssl.create_default_context(cafile=str(cp.ca_file))) as resp:
                for line in resp.iter_lines():
                    if self._stop.is_set():
                        return
                    event = json.loads(line)
                    if event.get("type") == "DELETED":
                        self.deleted.append(event["object"])
        except httpx.HTTPError:
            if not self._stop.is_set():  # the plane went away under a running test
                raise

    def stop(self) -> None:
        self._stop.set()


WATCHED = ["/apis/cluster.x-k8s.io/v1beta2/namespaces/{ns}/clusters",
           "/apis/cluster.x-k8s.io/v1beta2/namespaces/{ns}/machines",
           "/apis/cluster.x-k8s.io/v1beta2/namespaces/{ns}/machinedeployments",
           "/apis/controlplane.cluster.x-k8s.io/v1beta2/namespaces/{ns}/kubeadmcontrolplanes",
           "/apis/infrastructure.cluster.x-k8s.io/v1beta2/namespaces/{ns}/devclusters",
           "/apis/infrastructure.cluster.x-k8s.io/v1beta2/namespaces/{ns}/devmachines",
           "/api/v1/namespaces/{ns}/secrets"]


async def test_a_move_carries_every_object_with_its_owners_and_status(planes: Any, apis: Any) -> None:
    src_cp, dst_cp = planes
    source, target = apis
    name = world(src_cp)
    ns = f"capi-{name}"
    before = everything(src_cp, ns)
    assert len(before) >= 25
    watch = DeletionWatch(src_cp, ns, WATCHED)
    await asyncio.sleep(0.5)  # the watches are open
    graph, _ = await move(source, target, name)
    after = everything(dst_cp, ns)
    assert set(after) == set(before)  # nothing lost, nothing extra
    src_uids = {o["metadata"]["uid"]: key for key, o in before.items()}
    dst_uids = {o["metadata"]["uid"]: key for key, o in after.items()}
    lc = dst_cp.get_json("latticecluster", name)
    for key, obj in after.items():
        meta = obj["metadata"]
        assert src_uids[meta["annotations"][names.SOURCE_UID]] == key  # the map on the objects
        # every owner reference points at the target's copy of the same owner
        want = {(r["kind"], r["name"]) for r in before[key]["metadata"].get("ownerReferences") or []}
        got = set()
        for ref in meta.get("ownerReferences") or []:
            if ref["kind"] == "LatticeCluster":
                assert ref["uid"] == lc["metadata"]["uid"] and ref["controller"]
                got.add(("LatticeCluster", ref["name"]))
            else:
                assert dst_uids[ref["uid"]] == (ref["kind"], ref["name"])
                got.add((ref["kind"], ref["name"]))
        assert got == want, key
        if "controller-uid" in (before[key]["metadata"].get("labels") or {}):
            assert meta["labels"]["controller-uid"] == lc["metadata"]["uid"]
        assert obj.get("status") == before[key].get("status"), key
    assert after[("Cluster", name)]["spec"].get("paused") is not True  # resumed on the target
    assert lc["metadata"]["annotations"][names.IMPORT_COMPLETE] == "true"
    # The source is empty, and every deletion there carried delete-for-move.
    for _ in range(50):
        if not everything(src_cp, ns):
            break
        await asyncio.sleep(0.1)
    assert everything(src_cp, ns) == {}
    await asyncio.sleep(0.5)
    watch.stop()
    infra = [o for o in watch.deleted if o["kind"] != "Secret"]
    assert len(infra) >= 10
    for obj in watch.deleted:
        assert names.DELETE_FOR_MOVE in (obj["metadata"].get("annotations") or {}), obj["metadata"]["name"]
        assert not obj["metadata"].get("finalizers")
    assert len(graph.ordered()) == len(before) + 1  # + the namespace


async def test_a_move_interrupted_after_some_batches_completes_without_duplicates(planes: Any, apis: Any) -> None:
    src_cp, dst_cp = planes
    source, target = apis
    name = world(src_cp, workers=6)
    ns = f"capi-{name}"
    before = everything(src_cp, ns)
    await move(source, target, name, stop_after=3)
    first = {k: o["metadata"]["uid"] for k, o in everything(dst_cp, ns).items()}
    assert 0 < len(first) < len(before)
    # The target crashed: a new importer knows nothing but what is on the objects.
    await move(source, target, name, importer=Importer(target))
    after = everything(dst_cp, ns)
    assert set(after) == set(before)
    for key, uid in first.items():
        assert after[key]["metadata"]["uid"] == uid  # updated in place, not re-created
    sources = [o["metadata"]["annotations"][names.SOURCE_UID] for o in after.values()]
    assert len(sources) == len(set(sources))


async def test_repeated_batches_after_the_move_completed_change_nothing(planes: Any, apis: Any) -> None:
    src_cp, dst_cp = planes
    source, target = apis
    name = world(src_cp, workers=1)
    ns = f"capi-{name}"
    graph = await Exporter(source).pause_and_collect(ns, name)
    move_id = "m1"
    importer = Importer(target)
    groups = batches(graph, move_id, name, ns)
    for group in groups:
        for b in group:
            assert not (await importer.apply_batch(b)).errors
    lc = await source.get(LATTICE_CLUSTER, None, name)
    await importer.complete(move_id, ns, name, [without_server_fields(lc or {})])
    dst_cp.kubectl("patch", "cluster", name, "-n", ns, "--type=merge", "-p", '{"spec":{"paused":false}}')
    versions = {k: o["metadata"]["resourceVersion"] for k, o in everything(dst_cp, ns).items()}
    # A driver that crashed after the complete acknowledgement sends it all again.
    for group in groups:
        for b in group:
            ack = await importer.apply_batch(b)
            assert not ack.errors and len(ack.mappings) == len(b.objects)
    assert {k: o["metadata"]["resourceVersion"] for k, o in everything(dst_cp, ns).items()} == versions
    assert await importer.complete("m2", ns, name, [without_server_fields(lc or {})]) == 0


async def test_an_unrelated_object_of_the_same_name_is_refused(planes: Any, apis: Any) -> None:
    src_cp, dst_cp = planes
    source, target = apis
    name = world(src_cp, workers=1)
    ns = f"capi-{name}"
    dst_cp.kubectl("create", "namespace", ns)
    dst_cp.kubectl("create", "secret", "generic", f"{name}-kubeconfig", "-n", ns, "--from-literal=value=mine")
    graph = await Exporter(source).pause_and_collect(ns, name)
    errors: list[pb.MoveObjectError] = []
    importer = Importer(target)
    for group in batches(graph, "m", name, ns):
        for b in group:
            errors += (await importer.apply_batch(b)).errors
    refused = [e for e in errors if f"{name}-kubeconfig" in e.message]
    assert refused and not refused[0].retryable
    assert "was not moved from this source" in refused[0].message
    assert dst_cp.get_json("secret", f"{name}-kubeconfig", "-n", ns)["data"]["value"] == "bWluZQ=="
