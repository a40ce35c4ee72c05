"""lattice_cell.bootstrap_tokens: one-time tokens stored hashed, burnt once for the manifests, then
spent on the first certificate's key (the HTTP side is tests/unit/cell/test_bootstrap.py; the Secret-backed store
runs against a real API server in tests/integration/test_tunnel.py)."""

import asyncio

import pytest

from lattice_cell.bootstrap_tokens import (
    BootstrapError,
    MemoryTokenStore,
    authorize_csr,
    bind_csr,
    consume_for_manifests,
    issue_token,
)


@pytest.fixture
def store() -> MemoryTokenStore:
    return MemoryTokenStore()


async def test_token_is_32_random_bytes_and_stored_hashed(store: MemoryTokenStore) -> None:
    token = await issue_token(store, "child")
    assert len(token) == 43  # 32 bytes, base64url without padding
    assert token not in repr(store.records)


async def test_concurrent_replays_cannot_both_win(store: MemoryTokenStore) -> None:
    token = await issue_token(store, "child")
    results = await asyncio.gather(*(consume_for_manifests(store, "child", f"Bearer {token}") for _ in range(5)),
                                   return_exceptions=True)
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(r.status == 410 for r in results if isinstance(r, BootstrapError))


async def test_the_csr_needs_the_burnt_token_and_not_after_it_expired(store: MemoryTokenStore) -> None:
    token = await issue_token(store, "child", ttl=60, now=1000.0)
    with pytest.raises(BootstrapError) as early:
        await authorize_csr(store, "child", f"Bearer {token}", now=1001.0)
    assert early.value.status == 412
    await consume_for_manifests(store, "child", f"Bearer {token}", now=1002.0)
    assert (await authorize_csr(store, "child", f"Bearer {token}", now=1003.0)).used
    with pytest.raises(BootstrapError) as late:
        await authorize_csr(store, "child", f"Bearer {token}", now=1061.0)
    assert late.value.status == 401


async def test_a_new_token_replaces_the_old_one(store: MemoryTokenStore) -> None:
    old = await issue_token(store, "child")
    new = await issue_token(store, "child")
    with pytest.raises(BootstrapError):
        await consume_for_manifests(store, "child", f"Bearer {old}")
    await consume_for_manifests(store, "child", f"Bearer {new}")


async def test_the_first_certificate_binds_the_token_to_its_key(store: MemoryTokenStore) -> None:
    token = await issue_token(store, "child")
    await consume_for_manifests(store, "child", f"Bearer {token}")
    record = await authorize_csr(store, "child", f"Bearer {token}")
    await bind_csr(store, record, "k1")
    assert store.records["child"].csr_key_sha256 == "k1"
    await bind_csr(store, await authorize_csr(store, "child", f"Bearer {token}"), "k1")  # a retry: same key
    with pytest.raises(BootstrapError) as other:
        await bind_csr(store, await authorize_csr(store, "child", f"Bearer {token}"), "k2")
    assert other.value.status == 410 and "another key" in other.value.message


async def test_concurrent_csrs_for_different_keys_cannot_both_win(store: MemoryTokenStore) -> None:
    token = await issue_token(store, "child")
    await consume_for_manifests(store, "child", f"Bearer {token}")
    record = await authorize_csr(store, "child", f"Bearer {token}")  # all read the same version
    results = await asyncio.gather(*(bind_csr(store, record, f"k{i}") for i in range(5)), return_exceptions=True)
    assert sum(r is None for r in results) == 1
    assert all(r.status == 410 for r in results if isinstance(r, BootstrapError))
