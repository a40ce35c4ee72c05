"""lattice_tunnel.health: /healthz, /readyz (503 with the reason), /metrics and /status."""

from __future__ import annotations

import httpx

from lattice_tunnel.health import health_app


async def test_endpoints() -> None:
    state = {"ready": False}
    app = health_app(lambda: (state["ready"], "" if state["ready"] else "not connected"), lambda: {"cluster": "a"})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://health") as c:
        assert (await c.get("/healthz")).text == "ok"
        not_ready = await c.get("/readyz")
        assert (not_ready.status_code, not_ready.text) == (503, "not connected")
        state["ready"] = True
        assert (await c.get("/readyz")).status_code == 200
        assert "python_info" in (await c.get("/metrics")).text
        assert (await c.get("/status")).json() == {"cluster": "a"}
