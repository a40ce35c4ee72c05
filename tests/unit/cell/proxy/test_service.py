"""lattice_cell.proxy.service: the proxy's serving certificate, from the cell CA or configured."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest

from lattice_cell.proxy import ApiProxyConfig
from lattice_tunnel import pki
from tests.unit.tunnel_support import start_cell

pytestmark = pytest.mark.timeout(60)


async def test_the_cell_ca_certificate_by_default() -> None:
    cell = await start_cell("root", api_proxy=ApiProxyConfig(port=0, sa_audiences=[]))
    try:
        assert cell.api_proxy is not None and cell.api_proxy.ca_bundle() == cell.ca().trust_pem()
        ctx = ssl.create_default_context(cadata=cell.ca().trust_pem().decode())
        async with httpx.AsyncClient(verify=ctx) as c:
            assert (await c.get(f"https://localhost:{cell.api_proxy_port}/healthz")).text == "ok"
    finally:
        await cell.stop()


async def test_a_configured_certificate_and_bundle(tmp_path: Path) -> None:
    ca = await pki.load_or_create_ca(pki.MemoryCaStorage())
    creds = pki.issue_server_certificate(ca[0], ["localhost", "127.0.0.1"])
    (tmp_path / "tls.crt").write_bytes(creds.chain_pem)
    (tmp_path / "tls.key").write_bytes(creds.key_pem)
    config = ApiProxyConfig(port=0, sa_audiences=[], tls_cert_file=str(tmp_path / "tls.crt"),
                            tls_key_file=str(tmp_path / "tls.key"))
    cell = await start_cell("root", api_proxy=config)
    try:
        assert cell.api_proxy is not None and cell.api_proxy.ca_bundle() is None  # system trust in kubeconfigs
        ctx = ssl.create_default_context(cadata=ca[0].trust_pem().decode())
        async with httpx.AsyncClient(verify=ctx) as c:
            assert (await c.get(f"https://localhost:{cell.api_proxy_port}/healthz")).text == "ok"
        (tmp_path / "ca.pem").write_bytes(ca[0].trust_pem())
        cell.api_proxy.config.ca_bundle_file = str(tmp_path / "ca.pem")
        assert cell.api_proxy.ca_bundle() == ca[0].trust_pem()
    finally:
        await cell.stop()
