"""Bootstrap webhook: every token case, and CSR signing bound to the URL's cluster."""

import time

import httpx
import pytest
import yaml

from crds import KubeObject
from lattice_cell import manifests
from lattice_cell.bootstrap import bootstrap_app
from lattice_cell.bootstrap_tokens import MemoryTokenStore, issue_token
from lattice_tunnel import pki

BUNDLE = pki.CaBundle(pki.generate_ca())


def install_for(cluster: str, token: str) -> manifests.AgentInstall:
    return manifests.AgentInstall(cluster, "cell.example:50051", "https://cell.example:8443", "cell.example",
                                  BUNDLE.trust_pem(), token)


async def extra(cluster: str) -> list[KubeObject]:
    policy = {"apiVersion": "lattice.dev/v1alpha1", "kind": "CedarPolicy", "metadata": {"name": "ops"},
              "spec": {"propagate": True, "policies": "permit(principal, action, resource);"}}
    local = {"kind": "CedarPolicy", "metadata": {"name": "local"}, "spec": {"propagate": False}}
    return manifests.propagated_policies([policy, local], "root")


@pytest.fixture
def store() -> MemoryTokenStore:
    return MemoryTokenStore()


def client(store: MemoryTokenStore, bootstrapped: list[str] | None = None) -> httpx.AsyncClient:
    async def on_boot(cluster: str) -> None:
        if bootstrapped is not None:
            bootstrapped.append(cluster)

    app = bootstrap_app(store, lambda: BUNDLE, install_for, extra, on_boot)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://cell")


@pytest.mark.parametrize("headers,status,message", [
    ({}, 401, "missing authorization header"),
    ({"Authorization": "Basic abc"}, 401, "invalid or expired token"),
    ({"Authorization": "Bearer wrong"}, 401, "invalid or expired token"),
])
async def test_manifests_reject_bad_credentials(store: MemoryTokenStore, headers: dict[str, str], status: int,
                                                message: str) -> None:
    await issue_token(store, "child")
    async with client(store) as c:
        r = await c.get("/api/clusters/child/manifests", headers=headers)
    assert (r.status_code, r.json()) == (status, {"error": message})


async def test_manifests_unknown_cluster_is_404(store: MemoryTokenStore) -> None:
    async with client(store) as c:
        r = await c.get("/api/clusters/ghost/manifests", headers={"Authorization": "Bearer x"})
    assert r.status_code == 404


async def test_expired_token_is_401(store: MemoryTokenStore) -> None:
    token = await issue_token(store, "child", ttl=3600, now=time.time() - 3601)
    async with client(store) as c:
        r = await c.get("/api/clusters/child/manifests", headers={"Authorization": f"Bearer {token}"})
    assert (r.status_code, r.json()["error"]) == (401, "invalid or expired token")


async def test_manifests_once_then_410(store: MemoryTokenStore) -> None:
    token = await issue_token(store, "child")
    booted: list[str] = []
    async with client(store, booted) as c:
        r = await c.get("/api/clusters/child/manifests", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.headers["content-type"] == "application/x-yaml"
        docs = list(yaml.safe_load_all(r.text))
        replay = await c.get("/api/clusters/child/manifests", headers={"Authorization": f"Bearer {token}"})
    assert (replay.status_code, replay.json()["error"]) == (410, "token already used")
    assert booted == ["child"]
    kinds = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert ("Namespace", "lattice-system") in kinds
    assert ("Deployment", "lattice-agent") in kinds
    assert ("Secret", "lattice-parent-config") in kinds
    assert ("ClusterRole", "lattice-capi-reader") in kinds and ("ClusterRoleBinding", "lattice-capi-reader") in kinds
    assert ("CedarPolicy", "root--ops") in kinds and ("CedarPolicy", "root--local") not in kinds
    secret = next(d for d in docs if d["kind"] == "Secret")
    assert set(secret["data"]) >= {"cluster", "grpc_endpoint", "bootstrap_url", "ca.crt", "token"}


async def test_csr_before_bootstrap_is_412_then_signed_after(store: MemoryTokenStore) -> None:
    token = await issue_token(store, "child")
    auth = {"Authorization": f"Bearer {token}"}
    csr, _ = pki.generate_agent_csr("somebody-else")
    async with client(store) as c:
        early = await c.post("/api/clusters/child/csr", json={"csr_pem": csr.decode()}, headers=auth)
        assert early.status_code == 412
        assert (await c.get("/api/clusters/child/manifests", headers=auth)).status_code == 200
        bad = await c.post("/api/clusters/child/csr", json={"csr_pem": "garbage"}, headers=auth)
        assert bad.status_code == 400 and "malformed CSR" in bad.json()["error"]
        notjson = await c.post("/api/clusters/child/csr", content=b"{", headers=auth)
        assert notjson.status_code == 400
        noauth = await c.post("/api/clusters/child/csr", json={"csr_pem": csr.decode()})
        assert noauth.status_code == 401
        ok = await c.post("/api/clusters/child/csr", json={"csr_pem": csr.decode()}, headers=auth)
    assert ok.status_code == 200
    body = ok.json()
    assert pki.cluster_from_certificate(body["certificate_pem"].encode()) == "child"
    assert body["ca_certificate_pem"] == BUNDLE.trust_pem().decode()


async def test_reproduction_one_token_signs_one_key_only(store: MemoryTokenStore) -> None:
    """Issue #13, finding 2: after the manifests were fetched once, the same token obtained three
    certificates for three different keys. Now the first key spends it; the others get 410."""
    token = await issue_token(store, "a")
    auth = {"Authorization": f"Bearer {token}"}
    csrs = [pki.generate_agent_csr("a")[0] for _ in range(3)]
    async with client(store) as c:
        assert (await c.get("/api/clusters/a/manifests", headers=auth)).status_code == 200
        answers = [await c.post("/api/clusters/a/csr", json={"csr_pem": csr.decode()}, headers=auth) for csr in csrs]
        retry = await c.post("/api/clusters/a/csr", json={"csr_pem": csrs[0].decode()}, headers=auth)
    assert [a.status_code for a in answers] == [200, 410, 410]
    assert "token already used" in answers[1].json()["error"]
    # the holder of the first key may ask again (an answer lost on the way); same key, nothing new
    assert retry.status_code == 200
    first, again = (pki.public_key_sha256(r.json()["certificate_pem"].encode()) for r in (answers[0], retry))
    assert first == again == store.records["a"].csr_key_sha256
