"""Build a running Agent from a cluster's own API (parent config + credentials), and the agent
flags every binary that runs one shares (``lattice-agent``, ``lattice-operator``)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import attrs

from lattice_agent.agent import Agent, AgentConfig
from lattice_agent.credentials import CredentialStore, forget_bootstrap_token, load_parent_config, obtain
from lattice_agent.pivot import SelfManagement
from lattice_tunnel.kube_api import KubeApi
from lattice_tunnel.kube_request import Forwarder
from lattice_tunnel.parent_config import ParentConfig
from lattice_tunnel.subtree import SubtreeSource

log = logging.getLogger(__name__)


@attrs.define
class AgentTuning:
    heartbeat_interval: float = 30.0
    keepalive_time: float = 30.0
    keepalive_timeout: float = 20.0
    backoff_max: float = 30.0

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> AgentTuning:
        return cls(args.heartbeat_interval, args.keepalive_time, args.keepalive_timeout, args.backoff_max)


def add_agent_flags(p: argparse.ArgumentParser, *, heartbeat: bool = True) -> None:
    """Where the agent finds its parent and identity, and its connection tuning (``heartbeat``:
    also --heartbeat-interval, which ``lattice-operator`` shares with its cell)."""
    p.add_argument("--parent-config-dir", type=Path,
                   help="read the parent config from files instead of Secret lattice-system/lattice-parent-config")
    p.add_argument("--credentials-dir", type=Path,
                   help="keep tls.crt/tls.key/ca.crt here instead of Secret lattice-agent-credentials")
    if heartbeat:
        p.add_argument("--heartbeat-interval", type=float, default=30.0)
    p.add_argument("--keepalive-time", type=float, default=30.0, help="HTTP/2 keepalive ping when idle (s)")
    p.add_argument("--keepalive-timeout", type=float, default=20.0)
    p.add_argument("--backoff-max", type=float, default=30.0)


async def build_agent(kube: KubeApi | None, local: Forwarder | None, *, api_server: str = "",
                      cluster: str | None = None, parent_dir: Path | None = None, credentials_dir: Path | None = None,
                      downstream: Forwarder | None = None, subtree: SubtreeSource | None = None,
                      tuning: AgentTuning | None = None) -> tuple[Agent, ParentConfig] | None:
    """None when this cluster has no parent config (it is a root). ``api_server``: this cluster's
    API server URL, as the agent reports it to the cell."""
    parent = await load_parent_config(kube, parent_dir)
    if parent is None:
        return None
    if cluster and cluster != parent.cluster:
        raise SystemExit(f"--cluster {cluster!r} disagrees with the parent config, which says {parent.cluster!r}")
    store = CredentialStore(kube, credentials_dir)
    creds = await obtain(store, parent)
    if parent.token:
        try:
            await forget_bootstrap_token(kube, parent_dir)
        except Exception as exc:  # the token is spent at the cell anyway; never block the agent on it
            log.warning("cannot delete the spent bootstrap token from the parent config: %s", exc)
    tuning = tuning or AgentTuning()
    version = ""
    if kube is not None:
        try:
            version = await kube.server_version()
        except Exception as exc:  # informational only
            log.warning("cannot read the local API server version: %s", exc)
    config = AgentConfig(
        cluster=parent.cluster, grpc_endpoint=parent.grpc_endpoint, ca_pem=creds.ca_pem,
        cert_pem=creds.cert_pem, key_pem=creds.key_pem, server_name=parent.server_name,
        heartbeat_interval=tuning.heartbeat_interval, keepalive_time=tuning.keepalive_time,
        keepalive_timeout=tuning.keepalive_timeout, backoff_max=tuning.backoff_max,
        kubernetes_version=version, api_server_endpoint=api_server,
    )
    management = SelfManagement(kube, parent.cluster) if kube is not None else None
    agent = Agent(config, local=local, downstream=downstream, subtree=subtree, on_credentials=store.save,
                  self_management=management)
    return agent, parent
