"""Bootstrap webhook (HTTPS, no client certificate: the child has none yet).

GET  /api/clusters/{name}/manifests  Bearer <one-time token>  -> YAML that installs the agent
POST /api/clusters/{name}/csr        Bearer <same token>, {"csr_pem": ...}
                                     -> {"certificate_pem", "ca_certificate_pem"}; the first
                                     certificate binds the token to its key (another key: 410)
Errors are JSON `{"error": "..."}`; 500s never carry internals.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import orjson
from prometheus_client import Counter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from crds import KubeObject
from lattice_cell import manifests
from lattice_cell.bootstrap_tokens import (
    BootstrapError,
    TokenStore,
    authorize_csr,
    bind_csr,
    burn,
    check_for_manifests,
)
from lattice_tunnel import pki

log = logging.getLogger(__name__)

REQUESTS = Counter("lattice_bootstrap_requests_total", "Bootstrap webhook requests", ["endpoint", "code"])
MAX_CSR_BYTES = 64 * 1024

ExtraManifests = Callable[[str], Awaitable[list[KubeObject]]]
Hook = Callable[[str], Awaitable[None]]


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


def bootstrap_app(store: TokenStore, ca: Callable[[], pki.CaBundle],
                  install_for: Callable[[str, str], manifests.AgentInstall],
                  extra_manifests: ExtraManifests | None = None,
                  on_bootstrapped: Hook | None = None) -> Starlette:
    """`install_for(cluster, token)` supplies endpoints/image; `extra_manifests(cluster)` the CRDs
    and propagated policies; `on_bootstrapped(cluster)` records bootstrapComplete."""

    async def get_manifests(request: Request) -> Response:
        cluster = request.path_params["cluster"]
        try:
            record = await check_for_manifests(store, cluster, request.headers.get("authorization"))
            token = request.headers["authorization"].partition(" ")[2].strip()
            # Build everything before burning the token: a transient failure here must leave the
            # token usable for the bootstrap script's retry.
            extra = await extra_manifests(cluster) if extra_manifests else []
            body = manifests.yaml_stream(manifests.agent_manifests(install_for(cluster, token), extra))
            await burn(store, record)
            if on_bootstrapped is not None:
                await on_bootstrapped(cluster)
        except BootstrapError as exc:
            REQUESTS.labels("manifests", str(exc.status)).inc()
            return _error(exc.status, exc.message)
        except Exception:
            log.exception("bootstrap manifests for %s failed", cluster)
            REQUESTS.labels("manifests", "500").inc()
            return _error(500, "internal error")
        log.info("served bootstrap manifests to cluster %s", cluster)
        REQUESTS.labels("manifests", "200").inc()
        return Response(body, media_type="application/x-yaml")

    async def post_csr(request: Request) -> Response:
        cluster = request.path_params["cluster"]
        try:
            record = await authorize_csr(store, cluster, request.headers.get("authorization"))
            raw = await request.body()
            if len(raw) > MAX_CSR_BYTES:
                raise BootstrapError(400, f"request body exceeds {MAX_CSR_BYTES} bytes")
            try:
                csr_pem = orjson.loads(raw)["csr_pem"]
                if not isinstance(csr_pem, str):
                    raise TypeError("csr_pem must be a string")
            except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
                raise BootstrapError(400, f'body must be JSON {{"csr_pem": "<PEM>"}}: {exc}') from exc
            bundle = ca()
            try:
                cert = pki.sign_agent_csr(bundle, csr_pem.encode(), cluster)
            except pki.PkiError as exc:
                raise BootstrapError(400, str(exc)) from exc
            # Only a certificate whose key won the token leaves this handler.
            await bind_csr(store, record, pki.public_key_sha256(cert))
        except BootstrapError as exc:
            if exc.status == 410:
                log.warning("refused a second CSR for cluster %s: its bootstrap token is spent", cluster)
            REQUESTS.labels("csr", str(exc.status)).inc()
            return _error(exc.status, exc.message)
        except Exception:
            log.exception("CSR for %s failed", cluster)
            REQUESTS.labels("csr", "500").inc()
            return _error(500, "internal error")
        log.info("signed agent certificate for cluster %s", cluster)
        REQUESTS.labels("csr", "200").inc()
        return JSONResponse({"certificate_pem": cert.decode(), "ca_certificate_pem": bundle.trust_pem().decode()})

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[
        Route("/healthz", healthz),
        Route("/api/clusters/{cluster}/manifests", get_manifests, methods=["GET"]),
        Route("/api/clusters/{cluster}/csr", post_csr, methods=["POST"]),
    ])
