"""lattice_agent.pivot / resources: what the parent sends outside the allow-list
(lattice_move.agent_rights) is refused, named, reported back, and nothing is asked of the API
server (the real API server behind a real agent: tests/integration/test_agent_rbac.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from lattice_agent.pivot import SelfManagement
from lattice_agent.resources import apply_resources
from lattice_move.agent_rights import Refused
from lattice_proto import agent_pb2 as pb

CRB = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
       "metadata": {"name": "parent-owns-you", "uid": "u1"},
       "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
       "subjects": [{"kind": "User", "name": "mallory"}]}


class NoApiServer:
    """Test double for the KubeApi: every call is a failure of the test (a refusal asks nothing)."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the API server was asked ({name}) for a refused object")


def _obj(manifest: dict[str, Any]) -> pb.MoveObject:
    return pb.MoveObject(source_uid=str(manifest["metadata"].get("uid", "x")), manifest=json.dumps(manifest).encode())


async def _serve(management: SelfManagement, cmd: pb.CellCommand) -> pb.AgentMessage:
    sent: list[pb.AgentMessage] = []
    assert management.handle(cmd, sent.append, "parent")
    for _ in range(100):
        if sent:
            return sent[0]
        await asyncio.sleep(0.01)
    raise AssertionError("no answer")


async def test_a_batch_with_a_cluster_role_binding_is_refused_by_name() -> None:
    management = SelfManagement(NoApiServer(), "child")  # type: ignore[arg-type]
    management.importer._move("m").released = False  # asked once per move; not the point here
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system", "uid": "u2"}}
    batch = pb.MoveObjectBatch(move_id="m", cluster_name="child", target_namespace="capi-child",
                               objects=[_obj(CRB), _obj(namespace)])
    ack = (await _serve(management, pb.CellCommand(command_id=7, move_batch=batch))).move_ack
    assert ack.request_id == 7 and not ack.mappings
    crb, ns = ack.errors
    assert crb.source_uid == "u1" and not crb.retryable
    assert "ClusterRoleBinding 'parent-owns-you' (rbac.authorization.k8s.io/v1) is not a kind a pivot may import" \
        in crb.message
    assert "Namespace 'kube-system' is not this move's namespace 'capi-child'" in ns.message and not ns.retryable


async def test_a_batch_into_another_namespace_is_refused_whole() -> None:
    management = SelfManagement(NoApiServer(), "child")  # type: ignore[arg-type]
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "uid": "u3"}}
    batch = pb.MoveObjectBatch(move_id="m", cluster_name="child", target_namespace="kube-system",
                               objects=[_obj(secret)])
    (error,) = (await _serve(management, pb.CellCommand(command_id=1, move_batch=batch))).move_ack.errors
    assert "goes to namespace 'capi-child', not 'kube-system'" in error.message


async def test_move_complete_creates_only_this_cluster_s_own_lattice_cluster() -> None:
    management = SelfManagement(NoApiServer(), "child")  # type: ignore[arg-type]
    for manifest, expected in [
        (CRB, "ClusterRoleBinding 'parent-owns-you' (rbac.authorization.k8s.io/v1) is not a kind a completed pivot"),
        ({"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeCluster", "metadata": {"name": "other"}},
         "only this cluster's own LatticeCluster 'child', not 'other'"),
    ]:
        complete = pb.MoveComplete(move_id="m", cluster_name="child", target_namespace="capi-child",
                                   manifests=[json.dumps(manifest).encode()])
        ack = (await _serve(management, pb.CellCommand(command_id=2, move_complete=complete))).move_complete_ack
        assert not ack.success and expected in ack.error, ack.error
        assert not management.pivoted


@pytest.mark.parametrize(("field", "obj", "expected"), [
    ("cloud_providers", CRB, "ClusterRoleBinding 'parent-owns-you' (rbac.authorization.k8s.io/v1) is not a kind"),
    ("cloud_providers", {"apiVersion": "lattice.dev/v1alpha1", "kind": "CedarPolicy", "metadata": {"name": "p"}},
     "CedarPolicy (lattice.dev/v1alpha1) sent as a CloudProvider"),
    ("secrets", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "kube-system"}},
     "Secret 's' outside lattice-system"),
])
async def test_resources_outside_the_allow_list_are_refused_before_anything_is_written(
        field: str, obj: dict[str, Any], expected: str) -> None:
    resources = pb.DistributableResources()
    getattr(resources, field).append(json.dumps(obj).encode())
    with pytest.raises(Refused) as err:
        await apply_resources(NoApiServer(), "parent", resources)  # type: ignore[arg-type]
    assert "the resources from parent are refused" in str(err.value) and expected in str(err.value)
