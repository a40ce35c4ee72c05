"""Reading the fleet: every selected kubeconfig context at once, through kr8s.

From each context's API server: its LatticeClusters and, in ``lattice-system``, the agent Leases
and the cell's own Lease (``crds.agent_lease``). A context that cannot be reached (or whose
credentials fail) becomes a ``ContextView`` with an ``error``; what the caller may not read (403)
or what is not installed (404) becomes a note. Nothing here decides anything: ``cli.fleet`` does.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import attrs

from cli.errors import LatticeError
from cli.kubeconfigs import Context, Materializer, materializer
from crds import API_VERSION, KubeObject
from crds import agent_lease as al

T = TypeVar("T")


@attrs.frozen
class ContextView:
    """What one context's API server told us."""

    context: str
    server: str
    clusters: tuple[KubeObject, ...] = ()
    leases: tuple[al.AgentLease, ...] = ()
    cell: al.CellLease | None = None
    services: tuple[KubeObject, ...] = ()
    error: str | None = None
    notes: tuple[str, ...] = ()


class _Denied(Exception):
    def __init__(self, status: int, what: str) -> None:
        super().__init__(what)
        self.status = status


async def _list(api: Any, what: str, *, version: str, url: str, namespace: str | None = None,
                params: dict[str, str] | None = None) -> list[KubeObject]:
    import kr8s

    try:
        async with api.call_api("GET", version=version, base="/apis" if "/" in version else "", namespace=namespace,
                                url=url, params=params) as resp:
            return list(resp.json().get("items") or [])
    except kr8s.ServerError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        if status in (401, 403, 404):
            raise _Denied(status, what) from exc
        raise


def _explain(exc: BaseException) -> str:
    import httpx
    import kr8s

    if isinstance(exc, kr8s.ServerError):
        code = exc.response.status_code if exc.response is not None else "?"
        return f"the API server answered {code}: {exc}"
    if isinstance(exc, (kr8s.APITimeoutError, httpx.TimeoutException, TimeoutError)):
        return "timed out"
    if isinstance(exc, ssl.SSLError) or isinstance(getattr(exc, "__context__", None), ssl.SSLError):
        return f"TLS failed: {exc}"
    if isinstance(exc, httpx.HTTPError):
        return f"unreachable: {exc}" if str(exc) else f"unreachable: {type(exc).__name__}"
    return f"{type(exc).__name__}: {exc}"


async def _api(ctx: Context, config: dict[str, Any], timeout: float) -> Any:
    import kr8s.asyncio

    api = await kr8s.asyncio.api(kubeconfig=config, context=ctx.name)  # type: ignore[arg-type]
    api.timeout = timeout
    return api


async def _close(api: Any) -> None:
    import httpx

    session = getattr(api, "_session", None)  # kr8s exposes no close of its own
    if isinstance(session, httpx.AsyncClient):
        await session.aclose()


async def _read_one(ctx: Context, config: dict[str, Any] | LatticeError, timeout: float, what: set[str],
                    namespace: str | None) -> ContextView:
    notes: list[str] = []
    api = None

    async def guarded(coro: Awaitable[list[KubeObject]], note: Callable[[int], str]) -> list[KubeObject]:
        try:
            return await coro
        except _Denied as exc:
            notes.append(note(exc.status))
            return []

    try:
        if isinstance(config, LatticeError):
            raise config
        api = await asyncio.wait_for(_api(ctx, config, timeout), timeout + 1)
        clusters: list[KubeObject] = []
        leases: list[KubeObject] = []
        services: list[KubeObject] = []
        if "clusters" in what:
            clusters = await guarded(
                _list(api, "latticeclusters", version=API_VERSION, url="latticeclusters"),
                lambda s: "no LatticeCluster kind here (Lattice is not installed)" if s == 404
                else "not allowed to list latticeclusters")
            leases = await guarded(
                _list(api, "leases", version=al.API_VERSION, url="leases", namespace=al.NAMESPACE,
                      params={"labelSelector": f"{al.COMPONENT_LABEL} in ({al.AGENT_COMPONENT},{al.CELL_COMPONENT})"}),
                lambda s: f"not allowed to list leases in {al.NAMESPACE}: agent connections unknown")
        if "services" in what:
            services = await guarded(
                _list(api, "latticeservices", version=API_VERSION, url="latticeservices", namespace=namespace),
                lambda s: "no LatticeService kind here (Lattice is not installed)" if s == 404
                else f"not allowed to list latticeservices{' in ' + namespace if namespace else ' in every namespace'}")
    except (LatticeError, Exception) as exc:  # one context's failure never stops the others
        return ContextView(context=ctx.name, server=ctx.server, error=str(exc) if isinstance(exc, LatticeError)
                           else _explain(exc))
    finally:
        if api is not None:
            await _close(api)
    agent_leases = tuple(x for x in map(al.from_object, leases) if x is not None)
    cell = next((c for c in map(al.cell_from_object, leases) if c is not None), None)
    return ContextView(context=ctx.name, server=ctx.server, clusters=tuple(clusters), leases=agent_leases, cell=cell,
                       services=tuple(services), notes=tuple(notes))


def read(contexts: Sequence[Context], *, timeout: float, what: set[str],
         namespace: str | None = None) -> list[ContextView]:
    """Every context, concurrently; in the order given."""
    def config(mat: Materializer, ctx: Context) -> dict[str, Any] | LatticeError:
        try:
            return mat.config(ctx)  # runs exec credential plugins, once each, before anything else
        except LatticeError as exc:
            return exc

    async def run(configs: list[dict[str, Any] | LatticeError]) -> list[ContextView]:
        return list(await asyncio.gather(*(_read_one(c, cfg, timeout, what, namespace)
                                           for c, cfg in zip(contexts, configs, strict=True))))

    with materializer() as mat:
        return asyncio.run(run([config(mat, c) for c in contexts]))
