"""lattice_agent.credentials: the parent config and the agent's identity, from files (the Secret
path runs against a real API server in tests/integration/test_tunnel.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lattice_agent.credentials import (
    CredentialsError,
    CredentialStore,
    forget_bootstrap_token,
    load_parent_config,
    obtain,
)
from lattice_tunnel import pki
from lattice_tunnel.parent_config import ParentConfig, ParentConfigError

BUNDLE = pki.CaBundle(pki.generate_ca())
PARENT = ParentConfig("child", "cell:50051", "https://cell:8443", "cell", BUNDLE.trust_pem(), "token")


def write(directory: Path, data: dict[str, bytes]) -> Path:
    directory.mkdir()
    for name, value in data.items():
        (directory / name).write_bytes(value)
    return directory


async def test_no_parent_config_means_a_root(tmp_path: Path) -> None:
    assert await load_parent_config(None, tmp_path / "absent") is None
    assert await load_parent_config(None) is None


async def test_a_parent_config_directory_is_read_and_checked(tmp_path: Path) -> None:
    assert await load_parent_config(None, write(tmp_path / "ok", PARENT.to_data())) == PARENT
    with pytest.raises(ParentConfigError, match=r"lacks ca\.crt"):
        await load_parent_config(None, write(tmp_path / "bad", {"cluster": b"c", "grpc_endpoint": b"x:1"}))


async def test_stored_credentials_are_used_and_must_be_this_clusters(tmp_path: Path) -> None:
    store = CredentialStore(None, tmp_path / "creds")
    assert await store.load() is None
    csr, key = pki.generate_agent_csr("child")
    await store.save(pki.sign_agent_csr(BUNDLE, csr, "child"), key, BUNDLE.trust_pem())
    assert oct((tmp_path / "creds" / "tls.key").stat().st_mode & 0o777) == "0o600"
    creds = await obtain(store, PARENT)
    assert pki.cluster_from_certificate(creds.cert_pem) == "child"
    with pytest.raises(CredentialsError, match="another cluster"):
        await obtain(store, ParentConfig("other", "cell:50051", "", "", BUNDLE.trust_pem()))


async def test_without_credentials_or_a_token_there_is_no_way_in(tmp_path: Path) -> None:
    store = CredentialStore(None, tmp_path / "empty")
    with pytest.raises(CredentialsError, match="no stored credentials"):
        await obtain(store, ParentConfig("child", "cell:50051", "", "", BUNDLE.trust_pem()))


async def test_the_spent_token_is_deleted_from_a_parent_config_directory(tmp_path: Path) -> None:
    directory = write(tmp_path / "parent", PARENT.to_data())
    await forget_bootstrap_token(None, directory)
    assert not (directory / "token").exists()
    parent = await load_parent_config(None, directory)
    assert parent is not None and parent.token == "" and parent.cluster == "child"
    await forget_bootstrap_token(None, directory)  # nothing left to delete: no error
