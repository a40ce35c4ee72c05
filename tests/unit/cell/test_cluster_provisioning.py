"""lattice_cell.cluster_provisioning: the pure decisions (the loop itself runs against a real
kube-apiserver in tests/integration/test_cluster_provisioning.py)."""

from __future__ import annotations

import asyncio
import base64
from typing import Any, cast

from hooks.cluster import BootstrapData, bootstrap_secret
from hooks.cluster.agent import KEYS
from lattice_cell.bootstrap_tokens import TOKEN_TTL, BootstrapRecord, MemoryTokenStore
from lattice_cell.cluster_provisioning import (
    SPENT,
    BootstrapEndpoint,
    ClusterProvisioning,
    bootstrap_data,
    older_than,
    spent,
)
from lattice_tunnel.kube_api import KubeApi, KubeApiError


def test_the_bootstrap_secret_has_the_shape_the_control_plane_reads() -> None:
    endpoint = BootstrapEndpoint("https://cell:8443/", b"PEM")
    data = bootstrap_data(endpoint, b"tok")
    assert tuple(sorted(data)) == tuple(sorted(KEYS))
    compiled = bootstrap_secret("c1", BootstrapData("https://cell:8443/", "PEM", "tok"))
    assert {k: base64.b64decode(v) for k, v in compiled["data"].items()} == data
    assert bootstrap_data(endpoint, SPENT)["token"] == b""


def test_spent_and_stale_records() -> None:
    fresh = BootstrapRecord("c1", "digest", expires_at=1000.0 + TOKEN_TTL)
    assert not spent(fresh) and not spent(None)
    assert spent(BootstrapRecord("c1", "digest", expires_at=0.0, used=True))
    assert older_than(fresh, created=2000.0)  # issued at 1000, the cluster created at 2000: an earlier one's
    assert not older_than(fresh, created=1000.0) and not older_than(fresh, created=None)


class _ApiWithoutRightsIn:
    """A stand-in for KubeApi (only the calls one pass makes): two clusters asking for their
    bootstrap Secret, and a 403 for every Secret in one namespace, as before its RoleBinding exists."""

    def __init__(self, forbidden: str) -> None:
        self.forbidden = forbidden
        self.secrets: dict[tuple[str, str], dict[str, bytes]] = {}

    async def list_cluster_objects(self, group_version: str, plural: str) -> list[dict[str, Any]] | None:
        return [{"metadata": {"name": n, "uid": f"uid-{n}"}, "status": {"bootstrapSecret": f"{n}-boot"}}
                for n in ("a", "b")]

    async def list_objects(self, group_version: str, plural: str, namespace: str | None = None) -> list[Any]:
        return []

    async def namespace_active(self, name: str) -> bool:
        return True

    def _check(self, namespace: str) -> None:
        if namespace == self.forbidden:
            raise KubeApiError(403, f'secrets is forbidden in the namespace "{namespace}"')

    async def get_secret(self, namespace: str, name: str) -> tuple[dict[str, bytes], str] | None:
        self._check(namespace)
        found = self.secrets.get((namespace, name))
        return (found, "1") if found is not None else None

    async def put_secret(self, namespace: str, name: str, data: dict[str, bytes], **_: Any) -> None:
        self._check(namespace)
        self.secrets[(namespace, name)] = data


def test_a_cluster_whose_rights_are_not_there_yet_holds_up_no_other() -> None:
    api = _ApiWithoutRightsIn("capi-a")
    shell = ClusterProvisioning(cast(KubeApi, api), MemoryTokenStore(),
                                lambda: BootstrapEndpoint("https://cell:8443/", b"PEM"))
    report = asyncio.run(shell.reconcile_once())
    assert report.tokens_issued == ["b"] and report.secrets_written == ["capi-b/b-boot"]
    assert len(report.skipped) == 1 and report.skipped[0].startswith("a: no rights yet (kube-apiserver answered 403")
    api.forbidden = ""  # the RoleBinding arrived
    assert asyncio.run(shell.reconcile_once()).tokens_issued == ["a"]
