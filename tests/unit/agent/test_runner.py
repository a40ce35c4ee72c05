"""lattice_agent.runner: an Agent built from its parent config and credentials, and the flags every
binary that runs an agent shares."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from lattice_agent.credentials import CredentialStore
from lattice_agent.runner import AgentTuning, add_agent_flags, build_agent
from lattice_tunnel import pki
from lattice_tunnel.parent_config import ParentConfig

BUNDLE = pki.CaBundle(pki.generate_ca())


async def files(tmp_path: Path, cluster: str = "child") -> tuple[Path, Path]:
    parent_dir = tmp_path / "parent"
    parent_dir.mkdir()
    for name, value in ParentConfig(cluster, "cell:50051", "", "cell", BUNDLE.trust_pem()).to_data().items():
        (parent_dir / name).write_bytes(value)
    csr, key = pki.generate_agent_csr(cluster)
    await CredentialStore(None, tmp_path / "creds").save(pki.sign_agent_csr(BUNDLE, csr, cluster), key,
                                                         BUNDLE.trust_pem())
    return parent_dir, tmp_path / "creds"


async def test_an_agent_from_files_with_its_tuning(tmp_path: Path) -> None:
    parent_dir, creds = await files(tmp_path)
    built = await build_agent(None, None, api_server="https://local:6443", parent_dir=parent_dir,
                              credentials_dir=creds, tuning=AgentTuning(heartbeat_interval=2, backoff_max=1))
    assert built is not None
    agent, parent = built
    c = agent.config
    assert (c.cluster, c.grpc_endpoint, c.server_name, c.api_server_endpoint) == (
        "child", "cell:50051", "cell", "https://local:6443")
    assert (c.heartbeat_interval, c.backoff_max, parent.cluster) == (2, 1, "child")


async def test_no_parent_no_agent_and_a_wrong_cluster_name_stops(tmp_path: Path) -> None:
    assert await build_agent(None, None, parent_dir=tmp_path / "none") is None
    parent_dir, creds = await files(tmp_path)
    with pytest.raises(SystemExit, match="disagrees"):
        await build_agent(None, None, cluster="other", parent_dir=parent_dir, credentials_dir=creds)


def test_flags_and_tuning() -> None:
    p = argparse.ArgumentParser()
    add_agent_flags(p)
    args = p.parse_args(["--keepalive-time", "5", "--heartbeat-interval", "2"])
    assert AgentTuning.from_args(args) == AgentTuning(2.0, 5.0, 20.0, 30.0)
    shared = argparse.ArgumentParser()
    add_agent_flags(shared, heartbeat=False)
    assert "heartbeat_interval" not in vars(shared.parse_args([]))
