"""The child's agent with least privilege, on a real kube-apiserver: the agent's own code
(``lattice_agent.pivot.SelfManagement``, its credentials store, the last hop's token) runs as
ServiceAccount ``lattice-system/lattice-agent`` — a kubeconfig with a TokenRequest token — with
exactly the RBAC ``lattice_move.agent_rights.agent_rbac`` makes for cluster ``child`` (the
bootstrap manifests bind it: the pivot's writes, Secrets and ConfigMaps included, by a RoleBinding
in ``capi-child`` only, a namespace they create), and nothing else bound to it (not even the cell's
role the bootstrap manifests add for a child that becomes a parent): a pivot moves in (adopting the
``capi-child`` the installer made), the parent's resources are applied and withdrawn, the unpivot
hands everything back and deletes it with delete-for-move. A parent that sends a
ClusterRoleBinding (or a Namespace not its move's) gets a refusal naming it, and nothing is
created. The parent side (export from the source plane) runs in-process as the source's admin,
as its cell would; test_pivot.py runs the same through real cells and agents, the child's
lattice-operator as this ServiceAccount with every object of the bootstrap manifests.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from pivot_world import capi_planes, make_world, rest_for

import lattice_dev
from lattice_agent.credentials import CredentialStore, forget_bootstrap_token, load_parent_config
from lattice_agent.pivot import SelfManagement
from lattice_cell.manifests import impersonator_rbac
from lattice_move import names
from lattice_move.agent_rights import agent_rbac
from lattice_move.exporter import Exporter
from lattice_move.importer import LATTICE_CLUSTER
from lattice_move.kube import MoveApi
from lattice_move.manifest import without_server_fields
from lattice_move.wire import batches
from lattice_proto import agent_pb2 as pb
from lattice_tunnel import distributed
from lattice_tunnel.impersonator import ServiceAccountToken
from lattice_tunnel.kube_api import KubeApi, KubeApiError
from lattice_tunnel.kube_target import resolve
from lattice_tunnel.parent_config import ParentConfig

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
ROOT = Path(__file__).resolve().parents[2]
AGENT = "lattice-agent"
NS = "lattice-system"
Obj = dict[str, Any]


@pytest.fixture(scope="module")
def planes(testbed_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[lattice_dev.ControlPlane,
                                                                                           lattice_dev.ControlPlane]]:
    with capi_planes(tmp_path_factory.mktemp("agent-rbac"), testbed_bin, "parent", "child") as (parent, child):
        # What the installer applies on a new child, as its admin: the namespace, the agent's
        # ServiceAccount and its RBAC (only the agent's own), the last hop's identity, the parent config.
        install = ParentConfig(cluster="child", grpc_endpoint="h:1", bootstrap_url="https://h:2", server_name="h",
                               ca_pem=b"pem", token="one-time")
        child.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
                     {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": AGENT, "namespace": NS}},
                     *agent_rbac(cluster="child"), *impersonator_rbac(),
                     {"apiVersion": "v1", "kind": "Secret",
                      "metadata": {"name": "lattice-parent-config", "namespace": NS},
                      "stringData": {k: v.decode() for k, v in install.to_data().items()}}])
        yield parent, child


def agent_kubeconfig(cp: lattice_dev.ControlPlane) -> Path:
    """What the agent's Pod would hold: a TokenRequest token of lattice-system/lattice-agent."""
    token = cp.kubectl("create", "token", AGENT, "-n", NS, "--duration=1h").stdout.strip()
    return cp.write_kubeconfig(cp.workdir / "lattice-agent.kubeconfig", token=token, user=AGENT)


@pytest_asyncio.fixture(loop_scope="function")
async def kubes(planes: Any) -> AsyncIterator[tuple[MoveApi, KubeApi]]:
    parent = MoveApi(await KubeApi.connect(resolve(str(planes[0].kubeconfig), None)))
    agent = await KubeApi.connect(resolve(str(agent_kubeconfig(planes[1])), None))
    yield parent, agent
    await parent.kube.aclose()
    await agent.aclose()


def can_i(cp: lattice_dev.ControlPlane, *args: str) -> bool:
    done = cp.kubectl("auth", "can-i", *args, f"--as=system:serviceaccount:{NS}:{AGENT}", check=False)
    return done.stdout.strip() == "yes"


async def served(management: SelfManagement, cmd: pb.CellCommand, timeout: float = 60) -> pb.AgentMessage:
    """One command through the agent's dispatch, and its answer."""
    sent: list[pb.AgentMessage] = []
    assert management.handle(cmd, sent.append, "parent")
    async with asyncio.timeout(timeout):
        while not sent:
            await asyncio.sleep(0.02)
    return sent[0]


def provider_set(with_provider: bool) -> pb.DistributableResources:
    docs = [d for d in yaml.safe_load_all((ROOT / "examples" / "clusters" / "cloud-providers.yaml").read_text()) if d]
    aws = next(d for d in docs if d["metadata"]["name"] == "aws-prod")
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "aws-credentials", "namespace": NS},
              "type": "Opaque", "data": {"key": "c2VjcmV0"}}
    if not with_provider:
        return distributed.encode([])
    return distributed.encode([distributed.copy_for_child(aws, distributed.BY_KIND["CloudProvider"], "parent"),
                               distributed.copy_for_child(secret, distributed.BY_KIND["Secret"], "parent")])


def capi_objects(cp: lattice_dev.ControlPlane, ns: str) -> list[Obj]:
    kinds = ("clusters,machinedeployments,machinesets,machines,kubeadmcontrolplanes,kubeadmconfigs,devclusters,"
             "devmachines")
    return list(cp.get_json(kinds, "-n", ns)["items"])


def test_the_agent_s_identity_may_do_what_it_needs_and_nothing_of_an_admin(planes: Any) -> None:
    child = planes[1]
    allowed = [("create", "machines.cluster.x-k8s.io", "-n", "capi-child"),
               ("update", "clusters.cluster.x-k8s.io/status", "-n", "capi-child"),
               ("create", "secrets", "-n", "capi-child"), ("delete", "configmaps", "-n", "capi-child"),
               ("get", "secrets", "-n", NS), ("update", "secrets", "-n", NS),
               ("list", "machines.cluster.x-k8s.io", "-A"), ("create", "namespaces"), ("create", "latticeclusters"),
               ("list", "extensionconfigs.runtime.cluster.x-k8s.io"), ("patch", "cloudproviders", "-n", NS),
               ("create", "serviceaccounts/lattice-proxy", "--subresource=token", "-n", NS)]
    for args in allowed:
        assert can_i(child, *args), args
    refused = [("create", "clusterrolebindings"), ("create", "clusterroles"), ("create", "pods", "-n", NS),
               ("create", "deployments", "-n", NS), ("delete", "namespaces"), ("create", "customresourcedefinitions"),
               ("impersonate", "users"), ("create", "serviceaccounts/lattice-agent", "--subresource=token", "-n", NS),
               ("patch", "cloudproviders", "-n", "default"), ("delete", "latticeclusters"),
               ("create", "extensionconfigs.runtime.cluster.x-k8s.io"), ("*", "*"),
               # Secrets and ConfigMaps, and the pivot kinds' writes, nowhere but capi-child (and lattice-system)
               ("create", "secrets", "-n", "default"), ("get", "secrets", "-n", "kube-system"),
               ("create", "secrets", "-n", "kube-system"), ("list", "secrets", "-A"),
               ("create", "configmaps", "-n", "default"), ("create", "configmaps", "-n", "kube-system"),
               ("create", "configmaps", "-n", NS), ("create", "secrets", "-n", "capi-other"),
               ("create", "machines.cluster.x-k8s.io", "-n", "default"),
               ("update", "clusters.cluster.x-k8s.io/status", "-n", "default")]
    for args in refused:
        assert not can_i(child, *args), args


async def test_pivot_sync_and_unpivot_run_as_the_agent_s_service_account(planes: Any, kubes: Any) -> None:
    parent_cp, child_cp = planes
    parent, agent = kubes
    name = "child"
    ns = f"capi-{name}"
    with rest_for(parent_cp) as rest:
        make_world(rest, name, workers=2)

    # Its identity: credentials stored, the spent token dropped, the last hop's token minted.
    store = CredentialStore(agent)
    await store.save(b"cert", b"key", b"ca")
    await store.save(b"cert2", b"key2", b"ca2")  # a renewal replaces it
    assert (await store.load()) is not None
    assert (await load_parent_config(agent)) is not None
    await forget_bootstrap_token(agent)
    assert "token" not in child_cp.get_json("secret", "lattice-parent-config", "-n", NS)["data"]
    proxy_token = ServiceAccountToken(agent, NS, "lattice-proxy")
    await proxy_token.fetch()
    assert proxy_token.current()

    # The pivot: batches, then MoveComplete with the child's LatticeCluster and the parent's resources.
    management = SelfManagement(agent, name, unpivot_interval=0.2)
    assert not await management.refresh()
    exporter = Exporter(parent)
    graph = await exporter.pause_and_collect(ns, name)
    move_id = uuid.uuid4().hex
    for group in batches(graph, move_id, name, ns):
        acks = await asyncio.gather(*(served(management, pb.CellCommand(command_id=i, move_batch=b))
                                      for i, b in enumerate(group)))
        errors = [e.message for a in acks for e in a.move_ack.errors]
        assert not errors, errors
    lc = await parent.get(LATTICE_CLUSTER, None, name)
    assert lc is not None
    complete = pb.MoveComplete(move_id=move_id, cluster_name=name, target_namespace=ns,
                               manifests=[json.dumps(without_server_fields(lc)).encode()],
                               resources=provider_set(True))
    ack = (await served(management, pb.CellCommand(command_id=99, move_complete=complete))).move_complete_ack
    assert ack.success, ack.error
    assert ack.resources_created == 2 and management.pivoted
    assert len(capi_objects(child_cp, ns)) == len(capi_objects(parent_cp, ns)) >= 8
    own = child_cp.get_json("latticecluster", name)
    assert own["metadata"]["annotations"][names.IMPORT_COMPLETE] == "true"
    # The namespace the installer made (with the agent's RoleBinding) was adopted: the source's
    # marks on it, its owner reference added once the LatticeCluster came, the binding still there.
    namespace = child_cp.get_json("namespace", ns)["metadata"]
    assert namespace["annotations"][names.SOURCE_UID] == parent_cp.get_json("namespace", ns)["metadata"]["uid"]
    assert [(r["kind"], r["uid"]) for r in namespace["ownerReferences"]] == [("LatticeCluster",
                                                                            own["metadata"]["uid"])]
    assert namespace["labels"]["lattice.dev/cluster"] == name
    assert child_cp.get_json("rolebinding", "lattice-agent-pivot", "-n", ns)["roleRef"]["name"] == "lattice-agent-pivot"
    assert not child_cp.get_json("cluster", name, "-n", ns)["spec"].get("paused")
    provider = child_cp.get_json("cloudprovider", "aws-prod", "-n", NS)
    assert provider["metadata"]["labels"][distributed.INHERITED] == "true"
    await exporter.delete_source(graph)

    # The parent withdraws its provider (SyncResources): deleted here.
    assert management.handle(pb.CellCommand(sync_resources=pb.SyncResources(resources=provider_set(False))),
                             lambda _m: None, "parent")
    for _ in range(100):
        if child_cp.kubectl("get", "cloudprovider", "aws-prod", "-n", NS, check=False).returncode != 0:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the withdrawn CloudProvider is still here")

    # The unpivot: the child's own LatticeCluster is deleted (held by a finalizer, as Metacontroller would).
    child_cp.kubectl("patch", "latticecluster", name, "--type=merge", "-p",
                     json.dumps({"metadata": {"finalizers": ["test.lattice.dev/hold"]}}))
    child_cp.kubectl("delete", "latticecluster", name, "--wait=false")
    sent: list[pb.AgentMessage] = []
    await management._unpivot_round(sent.append)
    (deleting,) = [m.cluster_deleting for m in sent if m.WhichOneof("payload") == "cluster_deleting"]
    assert deleting.cluster_name == name and len(deleting.objects) >= 8
    assert child_cp.get_json("cluster", name, "-n", ns)["spec"]["paused"] is True  # paused before the export
    management._unpivot_imported.set()  # the parent answered UnpivotImported
    await management._unpivot_round(sent.append)
    assert management.unpivoted
    for _ in range(100):
        if not capi_objects(child_cp, ns):
            break
        await asyncio.sleep(0.1)
    assert capi_objects(child_cp, ns) == []
    child_cp.kubectl("patch", "latticecluster", name, "--type=merge", "-p", '{"metadata":{"finalizers":null}}')


async def test_a_parent_sending_a_cluster_role_binding_is_refused_and_nothing_is_created(planes: Any,
                                                                                         kubes: Any) -> None:
    child_cp = planes[1]
    _, agent = kubes
    name = "rogue"
    management = SelfManagement(agent, name)
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": "parent-owns-you", "uid": "u-crb"},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "mallory"}]}
    other_ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "mallory", "uid": "u-ns"}}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"{name}-ok", "uid": "u-s"},
              "data": {"k": "dg=="}}
    batch = pb.MoveObjectBatch(move_id="m", batch_index=0, total_batches=1, cluster_name=name,
                               target_namespace=f"capi-{name}",
                               objects=[pb.MoveObject(source_uid=o["metadata"]["uid"], manifest=json.dumps(o).encode())
                                        for o in (binding, other_ns, secret)])
    ack = (await served(management, pb.CellCommand(command_id=1, move_batch=batch))).move_ack
    by_uid = {e.source_uid: e for e in ack.errors}
    assert set(by_uid) >= {"u-crb", "u-ns"}
    assert ("ClusterRoleBinding 'parent-owns-you' (rbac.authorization.k8s.io/v1) is not a kind a pivot may import"
            in by_uid["u-crb"].message) and not by_uid["u-crb"].retryable
    assert "Namespace 'mallory' is not this move's namespace 'capi-rogue'" in by_uid["u-ns"].message
    # Nothing refused exists; and had the check been bypassed, the API server refuses the agent too.
    assert child_cp.kubectl("get", "clusterrolebinding", "parent-owns-you", check=False).returncode != 0
    assert child_cp.kubectl("get", "namespace", "mallory", check=False).returncode != 0
    with pytest.raises(KubeApiError) as denied:
        await agent.request("POST", "clusterrolebindings", version="rbac.authorization.k8s.io/v1", body=binding)
    assert denied.value.status == 403
    # A pivot driver reports the first error as the pivot's failure (lattice_cell.pivot_driver).
    complete = pb.MoveComplete(move_id="m", cluster_name=name, target_namespace=f"capi-{name}",
                               manifests=[json.dumps(binding).encode()])
    done = (await served(management, pb.CellCommand(command_id=2, move_complete=complete))).move_complete_ack
    assert not done.success and "is not a kind a completed pivot may create" in done.error
    assert child_cp.kubectl("get", "clusterrolebinding", "parent-owns-you", check=False).returncode != 0
