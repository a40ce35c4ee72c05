"""Assemble a cell: CA, gRPC agent endpoint, bootstrap webhook, read-only CAPI proxy, the
authenticated API proxy (`lattice_cell.proxy`, docs/proxy.md), health.

A `Cell` owns the registries and the `Router`; the fronts reuse `cell.router.open(KubeRequest(...))`
to reach any cluster in the subtree.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import attrs
import grpc

import crds
from crds import KubeObject
from lattice_cell import manifests
from lattice_cell.agent_leases import AgentLeases
from lattice_cell.bootstrap import bootstrap_app
from lattice_cell.bootstrap_tokens import TokenStore
from lattice_cell.capi_proxy import capi_proxy_app
from lattice_cell.child_registrations import ChildRegistrations
from lattice_cell.cluster_provisioning import BootstrapEndpoint, ClusterProvisioning
from lattice_cell.pivot_driver import PivotDriver
from lattice_cell.proxy import ApiProxy, ApiProxyConfig
from lattice_cell.registry import AgentRegistry
from lattice_cell.resource_sync import ResourceSync
from lattice_cell.router import Router
from lattice_cell.servicer import CellServicer
from lattice_cell.session import DEFAULT_WINDOW
from lattice_cell.subtree import SubtreeRegistry
from lattice_cell.unpivot import UnpivotReceiver
from lattice_proto import agent_pb2_grpc
from lattice_tunnel import pki
from lattice_tunnel.embedded_uvicorn import HttpServer
from lattice_tunnel.health import health_app
from lattice_tunnel.kube_api import KubeApi
from lattice_tunnel.kube_request import Forwarder

log = logging.getLogger(__name__)


@attrs.define
class CellConfig:
    cluster: str
    bind: str = "0.0.0.0"
    advertise_host: str = "127.0.0.1"  # what children dial; also a SAN of the server cert
    grpc_port: int = 50051
    bootstrap_port: int = 8443
    proxy_port: int = 8081
    health_port: int = 8080
    namespace: str = "lattice-system"
    agent_image: str = manifests.DEFAULT_IMAGE
    heartbeat_interval: float = 30.0
    window_bytes: int = DEFAULT_WINDOW
    extra_sans: list[str] = attrs.field(factory=list)
    maintenance_interval: float = 60.0
    pivot_interval: float = 2.0  # how often the pivot driver looks at the LatticeClusters
    sync_interval: float = 3.0  # how often the distributable resources are read (and sent when changed)
    lease_writes_per_second: float = 25.0  # agent Lease writes (renewals queue behind transitions)
    version: str = ""
    api_proxy: ApiProxyConfig = attrs.field(factory=lambda: ApiProxyConfig(port=-1))  # off unless configured
    # Seconds between passes of the cluster provisioning shell (bootstrap tokens, credentials
    # copies, CloudProvider checks); 0 turns it off. Needs an API server (``kube``).
    provisioning_interval: float = 5.0


def grpc_server_options() -> list[tuple[str, Any]]:
    return [
        ("grpc.max_receive_message_length", 16 * 1024 * 1024),
        ("grpc.max_send_message_length", 16 * 1024 * 1024),
        ("grpc.max_concurrent_streams", 16),
        # Reconnect storms: without these, >1000 simultaneous new streams fail with INTERNAL.
        ("grpc.server.max_pending_requests", 20000),
        ("grpc.server.max_pending_requests_hard_limit", 40000),
        ("grpc.keepalive_time_ms", 30000),
        ("grpc.keepalive_timeout_ms", 20000),
        ("grpc.http2.ping_timeout_ms", 20000),  # the effective keepalive timeout in recent gRPC cores
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_recv_ping_interval_without_data_ms", 1000),
        ("grpc.http2.max_ping_strikes", 0),
    ]


class Cell:
    def __init__(self, config: CellConfig, ca_storage: pki.CaStorage, tokens: TokenStore,
                 kube: KubeApi | None = None, local: Forwarder | None = None) -> None:
        self.config = config
        self.ca_storage = ca_storage
        self.tokens = tokens
        self.kube = kube
        self.agents = AgentRegistry(config.heartbeat_interval)
        self.subtree = SubtreeRegistry(config.cluster)
        self.router = Router(config.cluster, self.subtree, self.agents, local)
        self.resources: ResourceSync | None = None
        self.pivots: PivotDriver | None = None
        self.unpivots: UnpivotReceiver | None = None
        if kube is not None:
            self.resources = ResourceSync(kube, config.cluster, self.agents, config.namespace, config.sync_interval)
            self.pivots = PivotDriver(kube, config.cluster, self.agents, self.subtree, self.resources,
                                      interval=config.pivot_interval)
            self.unpivots = UnpivotReceiver(kube, self.agents)
        # lattice-system/lattice-agent-<child> Leases (crds.agent_lease); none without an API server
        # (or with a zero write rate: benchmarks' baseline).
        self.leases = None if kube is None or config.lease_writes_per_second <= 0 else AgentLeases(
            kube, self.agents, config.cluster, namespace=config.namespace,
            writes_per_second=config.lease_writes_per_second, version=config.version)
        self.registrations = ChildRegistrations(self.subtree, tokens, kube)
        self.api_proxy: ApiProxy | None = None
        if config.api_proxy.enabled:
            self.api_proxy = ApiProxy(config.api_proxy, config.cluster, config.namespace, self.router, self.agents,
                                      kube, lambda: self.ca().trust_pem())
        self._bundle: pki.CaBundle | None = None
        self._server_creds: pki.LeafCredentials | None = None
        self._tls_generation = 0
        self._served_generation = -1
        self._grpc: grpc.aio.Server | None = None
        self._https: list[HttpServer] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._ssl_contexts: list[tuple[Any, bool]] = []
        self.grpc_port = config.grpc_port
        self.ready_reason = "starting"
        self.provisioning: ClusterProvisioning | None = None

    # ---- CA and TLS material ----
    def ca(self) -> pki.CaBundle:
        if self._bundle is None:
            raise RuntimeError("cell CA not loaded yet")
        return self._bundle

    def _issue_server_cert(self) -> None:
        sans = [*pki.DEFAULT_SERVER_SANS, self.config.advertise_host, *self.config.extra_sans]
        self._server_creds = pki.issue_server_certificate(self.ca(), sans)
        self._tls_generation += 1

    def _grpc_cert_config(self) -> Any:
        creds = self._server_creds
        assert creds is not None
        return grpc.ssl_server_certificate_configuration(
            [(creds.key_pem, creds.chain_pem)], root_certificates=self.ca().trust_pem())

    def _fetch_cert_config(self) -> Any:
        # Called by gRPC core for new handshakes; None keeps the current configuration.
        if self._served_generation == self._tls_generation:
            return None
        self._served_generation = self._tls_generation
        return self._grpc_cert_config()

    def _refresh_https_contexts(self) -> None:
        creds = self._server_creds
        assert creds is not None
        for ctx, verify_clients in self._ssl_contexts:
            # Mutating the live context affects new handshakes only.
            pki.load_chain(ctx, creds.chain_pem, creds.key_pem)
            if verify_clients:
                ctx.load_verify_locations(cadata=self.ca().trust_pem().decode())

    async def refresh_pki(self) -> bool:
        """Rotate the CA at 80 % of its life and renew the server certificate likewise."""
        bundle, changed = await pki.load_or_create_ca(self.ca_storage)
        self._bundle = bundle
        if changed or self._server_creds is None or pki.renewal_due(self._server_creds.cert_pem):
            self._issue_server_cert()
            if self._ssl_contexts:
                self._refresh_https_contexts()
            log.info("cell %s: server certificate issued by %s", self.config.cluster,
                     pki.certificate_common_name(bundle.signer.cert_pem))
            return True
        return False

    # ---- servers ----
    async def start(self) -> None:
        await self.refresh_pki()
        if self.leases is not None:
            await self.leases.start()
        await self.registrations.poll()  # registered children own their names before anyone connects
        c = self.config
        servicer = CellServicer(c.cluster, self.agents, self.subtree, self.ca, c.window_bytes,
                                on_cluster_deleting=self.unpivots)
        self._grpc = grpc.aio.server(options=grpc_server_options())
        agent_pb2_grpc.add_LatticeAgentServicer_to_server(servicer, self._grpc)  # type: ignore[no-untyped-call]
        creds = grpc.dynamic_ssl_server_credentials(
            self._grpc_cert_config(), self._fetch_cert_config, require_client_authentication=True)
        self._served_generation = self._tls_generation
        self.grpc_port = self._grpc.add_secure_port(f"{c.bind}:{c.grpc_port}", creds)
        await self._grpc.start()

        creds_leaf = self._server_creds
        assert creds_leaf is not None
        boot_ctx = pki.server_ssl_context(creds_leaf.chain_pem, creds_leaf.key_pem)
        proxy_ctx = pki.server_ssl_context(creds_leaf.chain_pem, creds_leaf.key_pem, self.ca().trust_pem())
        self._ssl_contexts = [(boot_ctx, False), (proxy_ctx, True)]
        self._https = [
            HttpServer(bootstrap_app(self.tokens, self.ca, self._install_for, self._extra_manifests,
                                     self._on_bootstrapped), c.bind, c.bootstrap_port, boot_ctx, "bootstrap"),
            HttpServer(capi_proxy_app(self.router, self.agents), c.bind, c.proxy_port, proxy_ctx, "capi-proxy"),
            HttpServer(health_app(self._ready, self.status), c.bind, c.health_port, None, "health"),
        ]
        for server in self._https:
            await server.start()
        if self.api_proxy is not None:
            api_ctx = self.api_proxy.configured_ssl_context()
            if api_ctx is None:  # the cell CA's certificate, rotated with the others
                api_ctx = pki.server_ssl_context(creds_leaf.chain_pem, creds_leaf.key_pem)
                self._ssl_contexts.append((api_ctx, False))
            await self.api_proxy.start(c.bind, api_ctx)
            await self.api_proxy.publish(f"https://{c.advertise_host}:{self.api_proxy.port}")
        self._tasks.append(asyncio.create_task(self._maintenance()))
        if self.resources is not None and self.pivots is not None:
            self._tasks.append(asyncio.create_task(self.resources.run()))
            self._tasks.append(asyncio.create_task(self.pivots.run()))
        if self.kube is not None and c.provisioning_interval > 0:
            self.provisioning = ClusterProvisioning(self.kube, self.tokens, self.bootstrap_endpoint,
                                                    interval=c.provisioning_interval)
            self._tasks.append(asyncio.create_task(self.provisioning.run()))
        self.ready_reason = ""
        log.info("cell %s serving: grpc %d, bootstrap %d, capi-proxy %d, api-proxy %d, health %d", c.cluster,
                 self.grpc_port, self.bootstrap_port, self.proxy_port, self.api_proxy_port, self.health_port)

    @property
    def bootstrap_port(self) -> int:
        return self._https[0].port

    @property
    def proxy_port(self) -> int:
        return self._https[1].port

    @property
    def health_port(self) -> int:
        return self._https[2].port

    @property
    def api_proxy_port(self) -> int:
        return self.api_proxy.port if self.api_proxy is not None else -1

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self.leases is not None:
            await self.leases.stop()
        if self.api_proxy is not None:
            await self.api_proxy.stop()
        for server in self._https:
            await server.stop()
        if self._grpc is not None:
            await self._grpc.stop(grace=1)

    async def _maintenance(self) -> None:
        while True:
            await asyncio.sleep(min(self.config.maintenance_interval, self.config.heartbeat_interval))
            for session in self.agents.stale_sessions():
                log.warning("agent %s missed its heartbeats; dropping its stream", session.cluster)
                session.close("heartbeats stopped (stale)")
            with contextlib.suppress(Exception):
                if await self.refresh_pki() and self.api_proxy is not None:  # kubeconfigs need the new CA
                    await self.api_proxy.publish(f"https://{self.config.advertise_host}:{self.api_proxy.port}")
            await self.registrations.poll()

    def _ready(self) -> tuple[bool, str]:
        return (not self.ready_reason, self.ready_reason)

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "cluster": self.config.cluster,
            "agents": self.agents.summary(),
            "subtree": [attrs.asdict(i) | {"via": self.subtree.routes[i.name].via} for i in self.subtree.snapshot()],
        }
        if self.pivots is not None:
            status["pivots"] = self.pivots.status()
        return status

    # ---- bootstrap plumbing ----
    def _install_for(self, cluster: str, token: str) -> manifests.AgentInstall:
        c = self.config
        return manifests.AgentInstall(
            cluster=cluster, grpc_endpoint=f"{c.advertise_host}:{self.grpc_port}",
            bootstrap_url=f"https://{c.advertise_host}:{self.bootstrap_port}", server_name=c.advertise_host,
            ca_bundle_pem=self.ca().trust_pem(), token=token, image=c.agent_image,
        )

    async def _extra_manifests(self, cluster: str) -> list[KubeObject]:
        docs = manifests.bundled_crds()
        if self.kube is not None:
            items = await self.kube.list_objects(crds.API_VERSION, "cedarpolicies", self.config.namespace)
            docs += manifests.propagated_policies(items or [], self.config.cluster)  # None: no CRD
        return docs

    def bootstrap_endpoint(self) -> BootstrapEndpoint:
        """What a new child's installer dials (the bootstrap Secret's ``url`` and ``ca.crt``)."""
        return BootstrapEndpoint(url=f"https://{self.config.advertise_host}:{self.bootstrap_port}",
                                 ca_pem=self.ca().trust_pem())

    async def _on_bootstrapped(self, cluster: str) -> None:
        # The token is spent: blank it in the child's bootstrap Secret now rather than at the next
        # pass. (The LatticeCluster's status is the hook's alone; it learns "bootstrapped" from the
        # agent's Lease.)
        if self.provisioning is not None:
            self.provisioning.poke()
