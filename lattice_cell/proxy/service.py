"""Assembly of the API proxy inside a cell: its HTTPS server (with the upgrade hand-off), the
authenticator and authorizer, and what keeps them current — the CedarPolicy and OIDCProvider
watches, the subtree (labels) subscription, the OIDCProvider status, a configured certificate."""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from crds import API_VERSION
from lattice_cell.proxy.auth_throttle import DEFAULT_FAILURES, DEFAULT_WINDOW, FailureLimiter
from lattice_cell.proxy.authn import Authenticator
from lattice_cell.proxy.authz import ClusterAuthorizer
from lattice_cell.proxy.front import ApiProxyApp, ProxySettings
from lattice_cell.proxy.object_watch import ObjectWatch
from lattice_cell.proxy.oidc import IssuerSettings, OidcIssuer
from lattice_cell.proxy.tokenreview import TokenReviewer
from lattice_cell.proxy.upgrades import RelayTasks, handoff_protocol
from lattice_cell.registry import AgentRegistry
from lattice_cell.router import Router
from lattice_tunnel import pki
from lattice_tunnel.embedded_uvicorn import HttpServer
from lattice_tunnel.kube_api import KubeApi, KubeApiError

log = logging.getLogger(__name__)

DEFAULT_PORT = 8082
DEFAULT_SA_AUDIENCE = "lattice-proxy"
PUBLISHED = "lattice-proxy"  # ConfigMap in the cell's namespace: where `lattice kubeconfig` finds the proxy


@attrs.define
class ApiProxyConfig:
    port: int = DEFAULT_PORT  # 0: any free port; negative: no proxy
    public_url: str | None = None
    tls_cert_file: str | None = None  # a configured serving certificate instead of the cell CA's
    tls_key_file: str | None = None
    ca_bundle_file: str | None = None  # what kubeconfigs trust (default: the cell CA bundle)
    sa_audiences: list[str] = attrs.field(factory=lambda: [DEFAULT_SA_AUDIENCE])  # empty: no SA tokens
    clock_skew: float = 30.0
    agent_wait: float = 10.0
    auth_failures: int = DEFAULT_FAILURES  # failed authentications a client may cause per window; 0: no limit
    auth_failure_window: float = DEFAULT_WINDOW  # seconds

    @property
    def enabled(self) -> bool:
        return self.port >= 0

    @property
    def configured_certificate(self) -> bool:
        return bool(self.tls_cert_file and self.tls_key_file)


class ApiProxy:
    def __init__(self, config: ApiProxyConfig, cell: str, namespace: str, router: Router, agents: AgentRegistry,
                 kube: KubeApi | None, cell_bundle: Callable[[], bytes]) -> None:
        self.config = config
        self.namespace = namespace
        self.kube = kube
        self._cell_bundle = cell_bundle
        reviewer = TokenReviewer(kube, config.sa_audiences) if kube is not None and config.sa_audiences else None
        limiter = FailureLimiter(config.auth_failures, config.auth_failure_window) if config.auth_failures > 0 else None
        self.authn = Authenticator(reviewer, config.clock_skew, limiter)
        self.authz = ClusterAuthorizer()
        self.relays = RelayTasks()
        settings = ProxySettings(cell, config.public_url, tuple(config.sa_audiences), config.agent_wait)
        self.app = ApiProxyApp(settings, router, agents, self.authn, self.authz, self.ca_bundle)
        self.subtree = router.subtree
        self.server: HttpServer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._prefetches: set[asyncio.Task[None]] = set()
        self._cert_mtime = 0.0

    # ---- TLS ----
    def ca_bundle(self) -> bytes | None:
        """What kubeconfigs trust: the configured bundle, else the cell CA's (none for a configured
        certificate without a bundle: the system's trust)."""
        if self.config.ca_bundle_file:
            return Path(self.config.ca_bundle_file).read_bytes()
        return None if self.config.configured_certificate else self._cell_bundle()

    def configured_ssl_context(self) -> ssl.SSLContext | None:
        """A context for the configured certificate, or None when the cell CA's is used."""
        if not self.config.configured_certificate:
            return None
        assert self.config.tls_cert_file and self.config.tls_key_file
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.config.tls_cert_file, self.config.tls_key_file)
        self._cert_mtime = os.stat(self.config.tls_cert_file).st_mtime
        return ctx

    def _reload_certificate(self, ctx: ssl.SSLContext) -> None:
        assert self.config.tls_cert_file and self.config.tls_key_file
        mtime = os.stat(self.config.tls_cert_file).st_mtime
        if mtime != self._cert_mtime:
            pki.load_chain(ctx, Path(self.config.tls_cert_file).read_bytes(),
                           Path(self.config.tls_key_file).read_bytes())  # new handshakes use it
            self._cert_mtime = mtime
            log.info("API proxy: reloaded %s", self.config.tls_cert_file)

    # ---- lifecycle ----
    async def start(self, bind: str, ssl_context: ssl.SSLContext) -> None:
        protocol = handoff_protocol(self.app.upgrade, self.relays)
        self.server = HttpServer(self.app, bind, self.config.port, ssl_context, "api-proxy", protocol)
        await self.server.start()
        self._tasks.append(asyncio.create_task(self._follow_subtree()))
        if self.config.configured_certificate:
            self._tasks.append(asyncio.create_task(self._watch_certificate(ssl_context)))
        if self.kube is not None:
            try:  # which JWTs are this cluster's ServiceAccount tokens (others never reach the TokenReview)
                self.authn.service_account_issuer = await self.kube.openid_issuer()
            except (KubeApiError, OSError) as exc:
                log.warning("API proxy: cannot read the ServiceAccount issuer: %s", exc)
            for plural, handler in (("cedarpolicies", self._on_policies), ("oidcproviders", self._on_providers)):
                watch = ObjectWatch(self.kube, plural, self.namespace, handler, API_VERSION)
                self._tasks.append(asyncio.create_task(watch.run()))

    @property
    def port(self) -> int:
        return self.server.port if self.server is not None else -1

    async def stop(self) -> None:
        for task in [*self._tasks, *self._prefetches]:
            task.cancel()
        await self.relays.cancel_all()
        if self.server is not None:
            await self.server.stop()
        await self.authn.aclose()

    async def publish(self, default_url: str) -> None:
        """ConfigMap lattice-system/lattice-proxy: the proxy's URL and CA bundle, so `lattice kubeconfig`
        finds it from a plain kubeconfig of this cluster (both are public facts)."""
        if self.kube is None:
            return
        data = {"url": self.config.public_url or default_url}
        bundle = self.ca_bundle()
        if bundle:
            data["ca.crt"] = bundle.decode()
        try:
            await self.kube.put_configmap(self.namespace, PUBLISHED, data)
        except (KubeApiError, OSError) as exc:
            log.warning("cannot publish the API proxy's URL in ConfigMap %s/%s: %s", self.namespace, PUBLISHED, exc)

    # ---- what keeps it current ----
    async def _follow_subtree(self) -> None:
        queue = self.subtree.subscribe()
        try:
            while True:
                await queue.get()
                self.authz.invalidate()  # labels are Cedar attributes
        finally:
            self.subtree.unsubscribe(queue)

    async def _watch_certificate(self, ctx: ssl.SSLContext) -> None:
        while True:
            await asyncio.sleep(30)
            try:
                self._reload_certificate(ctx)
            except (OSError, ssl.SSLError) as exc:
                log.warning("API proxy: cannot reload %s: %s", self.config.tls_cert_file, exc)

    def _on_policies(self, objects: list[dict[str, Any]]) -> None:
        self.authz.set_policies(objects)

    async def _on_providers(self, objects: list[dict[str, Any]]) -> None:
        usable: list[IssuerSettings] = []
        for obj in objects:
            try:
                usable.append(IssuerSettings.from_object(obj))
            except ValueError as exc:
                log.warning("OIDCProvider %s is not used: %s", obj["metadata"]["name"], exc)
                await self._set_status(obj, {"phase": "Failed", "message": str(exc)[:1024]})
        for issuer in await self.authn.set_providers(usable):
            task = asyncio.create_task(self._prefetch(issuer, objects))
            self._prefetches.add(task)  # a reference until it is done
            task.add_done_callback(self._prefetches.discard)

    async def _prefetch(self, issuer: OidcIssuer, objects: list[dict[str, Any]]) -> None:
        await issuer.refresh(force=True)
        obj = next((o for o in objects if o["metadata"]["name"] == issuer.settings.name), None)
        if obj is not None:
            await self._set_status(obj, issuer.status())

    async def _set_status(self, obj: dict[str, Any], status: dict[str, Any]) -> None:
        current = obj.get("status") or {}
        wanted = {**status, "observedGeneration": obj["metadata"].get("generation")}
        if self.kube is None or all(current.get(k) == v for k, v in wanted.items() if k != "lastJwksFetch"):
            return  # unchanged: no write, so no watch event to answer
        try:
            await self.kube.merge_patch_status(API_VERSION, "oidcproviders", obj["metadata"]["name"], wanted,
                                               namespace=self.namespace)
        except (KubeApiError, OSError) as exc:
            log.warning("cannot write the status of OIDCProvider %s: %s", obj["metadata"]["name"], exc)
