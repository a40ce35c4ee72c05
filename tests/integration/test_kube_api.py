"""lattice_tunnel.kube_api against a real kube-apiserver: the Secret store the cell and the agent
keep their state in (optimistic concurrency included), and the Lattice objects a cell reads."""

from __future__ import annotations

import pytest
import pytest_asyncio

from lattice_dev import ControlPlane
from lattice_tunnel.kube_api import KubeApi, KubeApiError, SecretCaStorage
from lattice_tunnel.kube_target import resolve


@pytest_asyncio.fixture(loop_scope="function")
async def kube(control_plane: ControlPlane):  # type: ignore[no-untyped-def]
    api = await KubeApi.connect(resolve(str(control_plane.kubeconfig)))
    yield api
    await api.aclose()


async def test_secrets_round_trip_with_optimistic_concurrency(kube: KubeApi) -> None:
    await kube.ensure_namespace("kube-api-test")
    await kube.ensure_namespace("kube-api-test")  # idempotent
    assert await kube.get_secret("kube-api-test", "state") is None
    first = await kube.put_secret("kube-api-test", "state", {"k": b"\x00one"}, labels={"x": "y"})
    data, version = await kube.get_secret("kube-api-test", "state")  # type: ignore[misc]
    assert (data, version) == ({"k": b"\x00one"}, first)
    second = await kube.put_secret("kube-api-test", "state", {"k": b"two"}, resource_version=version)
    with pytest.raises(KubeApiError) as stale:
        await kube.put_secret("kube-api-test", "state", {"k": b"three"}, resource_version=version)
    assert stale.value.status == 409
    assert await kube.put_secret("kube-api-test", "state", {"only": b"this"}) != second  # replace without a version
    assert (await kube.get_secret("kube-api-test", "state"))[0] == {"only": b"this"}  # type: ignore[index]


async def test_ca_storage_and_lattice_objects(kube: KubeApi) -> None:
    storage = SecretCaStorage(kube, namespace="kube-api-ca")
    assert await storage.load() is None
    await storage.save({"ca.crt": b"pem"})
    assert await storage.load() == {"ca.crt": b"pem"}
    assert (await kube.server_version()).startswith("v1.")
    # The session plane serves the Lattice kinds: none in a fresh namespace; a kind it does not
    # serve is None; a status patch of an object that does not exist is False.
    assert await kube.list_objects("lattice.dev/v1alpha1", "cedarpolicies", "kube-api-ca") == []
    assert await kube.list_objects("lattice.dev/v1alpha1", "nonexistents", "kube-api-ca") is None
    assert await kube.list_cluster_objects("nothing.example.com/v1", "nothings") is None
    assert not await kube.merge_patch_status("lattice.dev/v1alpha1", "latticeclusters", "x", {"a": 1})
