"""lattice_tunnel.embedded_uvicorn: uvicorn inside our own asyncio program, on a port known up
front, handing the verified client certificate to the app."""

from __future__ import annotations

import httpx

from lattice_tunnel import pki
from tests.unit.tunnel.tls_echo import BUNDLE, tls_echo


async def test_the_client_certificate_reaches_the_app() -> None:
    client = pki.issue_client_certificate(BUNDLE, "capi-controller")
    ctx = pki.client_ssl_context(BUNDLE.trust_pem(), client.chain_pem, client.key_pem)
    async with tls_echo(require_client_cert=True) as server:
        assert server.port > 0
        async with httpx.AsyncClient(base_url=f"https://localhost:{server.port}", verify=ctx) as http:
            seen = (await http.get("/x")).json()
    (pem,) = seen["client_cert_chain"]
    assert pki.certificate_common_name(pem.encode()) == "capi-controller"


async def test_without_a_client_certificate_the_app_sees_none() -> None:
    async with tls_echo() as server:
        ctx = pki.client_ssl_context(BUNDLE.trust_pem())
        async with httpx.AsyncClient(base_url=f"https://localhost:{server.port}", verify=ctx) as http:
            assert (await http.get("/x")).json()["client_cert_chain"] is None
