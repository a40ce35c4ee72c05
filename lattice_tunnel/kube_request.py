"""Transport-neutral types for Kubernetes requests routed through the tunnel.

A `KubeRequest` names its target cluster and the original caller. Whatever serves it — the
local API server (`kube_exec.KubeExecutor`) or the next hop down (`lattice_cell.router.Router`)
— answers with a `ResponseStream`: status and headers first, then body chunks as they arrive.
Errors that happen before a response exists are `TunnelError`s carrying an HTTP status.

An *upgrade* request (`upgrade` set: exec, attach, port-forward) that the target accepts with
101 becomes a byte relay: the stream's chunks are the target's bytes, and its `sink` takes the
client's bytes towards the target. Hop-by-hop headers (`Connection`, `Upgrade`) are never carried;
each hop that speaks HTTP sets them again from `upgrade`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

import attrs
import orjson

from lattice_tunnel.identity_headers import is_identity_header

DEFAULT_TIMEOUT = 30.0
MAX_BODY = 10 * 1024 * 1024
_STREAM_QUERY = re.compile(r"(?:^|&)(?:watch|follow)=(?:true|1)(?:&|$)")
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
    "te", "trailer", "transfer-encoding", "upgrade", "host", "content-length",
})


def is_streaming(query: str) -> bool:
    """watch=true / follow=true requests stream until the client goes away."""
    return bool(_STREAM_QUERY.search(query))


def forwardable_request_headers(headers: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """Drop hop-by-hop headers and every identity-bearing one (`identity_headers`: credentials,
    Impersonate-*, X-Remote-*, method overrides, forwarded addresses ...): only the last hop sets
    impersonation, from the tunnelled identity."""
    return tuple((k, v) for k, v in headers if k.lower() not in HOP_BY_HOP and not is_identity_header(k))


def forwardable_response_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]


def upgrade_of(headers: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> str:
    """The `Upgrade` header's value when `Connection` asks for an upgrade, else ''."""
    connection = upgrade = ""
    for k, v in headers:
        lower = k.lower()
        if lower == "connection":
            connection += "," + v.lower()
        elif lower == "upgrade":
            upgrade = v.strip()
    tokens = {t.strip() for t in connection.split(",")}
    return upgrade if "upgrade" in tokens else ""


Extra = tuple[tuple[str, tuple[str, ...]], ...]


@attrs.frozen
class KubeRequest:
    cluster: str
    method: str
    path: str
    query: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    user: str = ""
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Extra = ()  # user extras, impersonated with the user: ((key, (value, ...)), ...)
    upgrade: str = ""  # the Upgrade header value of an upgrade request ("websocket", "SPDY/3.1")
    timeout: float | None = DEFAULT_TIMEOUT  # whole exchange; ignored for streaming requests
    streaming: bool = attrs.field(  # watch/follow/upgrade: no deadline, every chunk flushed
        default=attrs.Factory(lambda self: bool(self.upgrade) or is_streaming(self.query), takes_self=True)
    )

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path


class TunnelError(Exception):
    """A request that could not be served; `status`/`reason` map to a Kubernetes Status."""

    status = 502
    reason = "BadGateway"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ClusterNotFound(TunnelError):
    status, reason = 404, "NotFound"


class AgentUnavailable(TunnelError):
    status, reason = 503, "ServiceUnavailable"


class ClusterGone(TunnelError):
    status, reason = 410, "Gone"


class TunnelTimeout(TunnelError):
    status, reason = 504, "Timeout"


class BadRequest(TunnelError):
    status, reason = 400, "BadRequest"


class PayloadTooLarge(TunnelError):
    status, reason = 413, "RequestEntityTooLarge"


class BadGateway(TunnelError):
    status, reason = 502, "BadGateway"


def status_body(code: int, message: str, reason: str) -> bytes:
    """A Kubernetes `Status` object, which kubectl prints as a proper error."""
    return orjson.dumps({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    })


async def _no_close() -> None:
    return None


class UpgradeSink(Protocol):
    """Where the client's bytes go after a 101: towards the target, hop by hop."""

    async def write(self, data: bytes) -> None:
        """Pass `data` on; waits while the far side has not taken what it was sent (back-pressure)."""
        ...

    async def end(self) -> None:
        """The client closed its side: no more bytes."""
        ...


class ResponseStream:
    """An HTTP response whose body is consumed once, chunk by chunk. `aclose()` releases the
    upstream (and, through the tunnel, cancels the request at the agent) and is idempotent."""

    def __init__(self, status: int, headers: list[tuple[str, str]], chunks: AsyncIterator[bytes],
                 close: Callable[[], Awaitable[None]] = _no_close,
                 complete_body: Callable[[], bytes | None] | None = None,
                 sink: UpgradeSink | None = None) -> None:
        self.status = status
        self.headers = headers
        self._chunks = chunks
        self._close = close
        self._complete_body = complete_body
        self._closed = False
        self.sink = sink  # set when the target switched protocols (101): the client's bytes go here

    @property
    def upgraded(self) -> bool:
        return self.sink is not None

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks

    def complete_body(self) -> bytes | None:
        """The whole body if it has already arrived (lets fronts set Content-Length)."""
        return self._complete_body() if self._complete_body else None

    async def read(self, limit: int = MAX_BODY) -> bytes:
        parts, size = [], 0
        async for chunk in self._chunks:
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"response body exceeds {limit} bytes")
            parts.append(chunk)
        return b"".join(parts)

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._close()

    async def __aenter__(self) -> ResponseStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @classmethod
    def from_bytes(cls, status: int, body: bytes, content_type: str = "application/json") -> ResponseStream:
        async def one() -> AsyncIterator[bytes]:
            if body:
                yield body
        return cls(status, [("content-type", content_type)], one(), complete_body=lambda: body)

    @classmethod
    def from_error(cls, err: TunnelError) -> ResponseStream:
        return cls.from_bytes(err.status, status_body(err.status, err.message, err.reason))


class Forwarder(Protocol):
    """Anything that can serve a KubeRequest for some set of clusters."""

    async def open(self, req: KubeRequest) -> ResponseStream: ...
