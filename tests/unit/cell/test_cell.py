"""lattice_cell.cell: a cell assembled and served on loopback (CA in memory, no API server): its
CA persists, its servers answer, a restart keeps the CA."""

from __future__ import annotations

import httpx

from lattice_cell.bootstrap_tokens import MemoryTokenStore
from lattice_cell.cell import Cell, CellConfig, grpc_server_options
from lattice_tunnel import pki


def config() -> CellConfig:
    return CellConfig(cluster="root", bind="127.0.0.1", grpc_port=0, bootstrap_port=0, proxy_port=0, health_port=0)


async def test_a_cell_serves_and_keeps_its_ca_across_restarts() -> None:
    storage = pki.MemoryCaStorage()
    cell = Cell(config(), storage, MemoryTokenStore())
    await cell.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{cell.health_port}") as health:
            assert (await health.get("/readyz")).status_code == 200
            assert (await health.get("/status")).json() == {"cluster": "root", "agents": [], "subtree": []}
        verify = pki.client_ssl_context(cell.ca().trust_pem())
        async with httpx.AsyncClient(base_url=f"https://localhost:{cell.bootstrap_port}", verify=verify) as boot:
            r = await boot.get("/api/clusters/nobody/manifests", headers={"Authorization": "Bearer x"})
            assert r.status_code == 404  # the bootstrap webhook, over TLS with the cell's CA
        first_ca = cell.ca().trust_pem()
    finally:
        await cell.stop()
    again = Cell(config(), storage, MemoryTokenStore())
    await again.start()
    try:
        assert again.ca().trust_pem() == first_ca
    finally:
        await again.stop()


def test_grpc_options_keep_reconnect_storms_and_idle_streams_alive() -> None:
    options = dict(grpc_server_options())
    assert options["grpc.server.max_pending_requests"] >= 20000
    assert options["grpc.keepalive_permit_without_calls"] == 1
