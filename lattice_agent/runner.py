"""Build a running Agent from a cluster's own API (parent config + credentials)."""

from __future__ import annotations

import logging
from pathlib import Path

import attrs

from lattice_agent.agent import Agent, AgentConfig, SubtreeSource
from lattice_agent.credentials import CredentialStore, ParentConfig, load_parent_config, obtain
from lattice_common.kubehttp import KubeClient
from lattice_common.tunnel import Forwarder

log = logging.getLogger(__name__)


@attrs.define
class AgentTuning:
    heartbeat_interval: float = 30.0
    keepalive_time: float = 30.0
    keepalive_timeout: float = 20.0
    backoff_max: float = 30.0


async def build_agent(kube: KubeClient | None, local: Forwarder | None, *, cluster: str | None = None,
                      parent_dir: Path | None = None, credentials_dir: Path | None = None,
                      downstream: Forwarder | None = None, subtree: SubtreeSource | None = None,
                      tuning: AgentTuning | None = None) -> tuple[Agent, ParentConfig] | None:
    """None when this cluster has no parent config (it is a root)."""
    parent = await load_parent_config(kube, parent_dir)
    if parent is None:
        return None
    if cluster and cluster != parent.cluster:
        raise SystemExit(f"--cluster {cluster!r} disagrees with the parent config, which says {parent.cluster!r}")
    store = CredentialStore(kube, credentials_dir)
    creds = await obtain(store, parent)
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
        kubernetes_version=version, api_server_endpoint=kube.target.server if kube else "",
    )
    return Agent(config, local=local, downstream=downstream, subtree=subtree, on_credentials=store.save), parent
