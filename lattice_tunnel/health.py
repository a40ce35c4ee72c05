"""/healthz, /readyz and /metrics (Prometheus) for the cell and agent health ports."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route


def health_app(ready: Callable[[], tuple[bool, str]],
               details: Callable[[], object] | None = None) -> Starlette:
    """`ready()` returns (ok, reason); /readyz answers 503 with the reason while not ok."""

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(_: Request) -> Response:
        ok, reason = ready()
        return PlainTextResponse(reason or "ok", status_code=200 if ok else 503)

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    async def status(_: Request) -> Response:
        return JSONResponse(details() if details else {})

    return Starlette(routes=[
        Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics),
        Route("/status", status),
    ])
