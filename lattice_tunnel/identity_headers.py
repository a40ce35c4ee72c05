"""Identity-bearing request headers: the one sanitiser every proxy front uses at the first hop.

A caller's identity crosses the tunnel only as the `user`/`groups` of a `KubeRequest`, which the
front sets from what it authenticated (a client certificate, a token). Any header that could
tell a server downstream *who* the caller is, *which* method it means, or *where* it came from is
therefore dropped before the request enters the tunnel — and again at the last hop, so a request
that reached an agent some other way cannot carry one either.

Why each family is dangerous:

* `Authorization`, `Proxy-Authorization`, `Cookie`: the caller's own credentials; the last hop
  authenticates as itself.
* `Impersonate-*` (`-User`, `-Group`, `-Uid`, `-Extra-*`): Kubernetes impersonation; only the last
  hop sets it, from the tunnelled identity.
* `X-Remote-*` (`-User`, `-Group`, `-Extra-*`): kube-apiserver's request-header authentication
  (front-proxy) defaults. Trusted only from a front-proxy client certificate, but an API server
  or aggregated API that trusts them must never see the caller's own.
* `X-HTTP-Method-Override`, `X-HTTP-Method`, `X-Method-Override`: make a read-only front's GET a
  write on a server that honours them.
* `X-Forwarded-*`, `Forwarded`, `X-Real-IP`, `X-Client-IP`, `True-Client-IP`, `CF-Connecting-IP`:
  source addresses (kube-apiserver writes `X-Forwarded-For` into audit `sourceIPs`) and
  oauth2-proxy's `X-Forwarded-User`/`-Email`/`-Groups`/`-Access-Token`.
* Client certificates forwarded by TLS terminators: `X-Forwarded-Client-Cert` (Envoy),
  `X-Client-Cert*`, `X-SSL-Client-*`, `SSL-Client-*`, `X-ARR-ClientCert`.
* Identity headers of common authenticating proxies: `X-Auth-Request-*` (oauth2-proxy),
  `X-Amzn-OIDC-*`, `X-Goog-Authenticated-User-*`, `X-MS-Client-Principal*`, `CF-Access-*`,
  `Remote-User`, `X-Remote`, `X-User*`, `X-Email`, `X-Groups`, `X-WebAuth-*`, `X-Authenticated-*`,
  `X-Auth-*`, `X-Token*`, `X-Id-Token`, `X-Access-Token`, `X-API-Key`.

The list is a deny list on purpose: Kubernetes clients send many legitimate headers
(`Accept`, `Content-Type`, `User-Agent`, `Kubectl-Command`, `X-Stream-Protocol-Version`,
`Sec-WebSocket-Protocol`, ...) that an allow list would have to chase. An API server configured
with its own request-header names (`--requestheader-username-headers=...`) should use one of the
names above; anything else is outside what a proxy can guess.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import AnyStr

IDENTITY_HEADERS = frozenset({
    "authorization", "proxy-authorization", "cookie",
    "x-http-method-override", "x-http-method", "x-method-override",
    "forwarded", "x-real-ip", "x-client-ip", "true-client-ip", "cf-connecting-ip",
    "remote-user", "x-remote", "x-email", "x-groups", "x-id-token", "x-access-token", "x-api-key",
    "x-arr-clientcert",
})
IDENTITY_HEADER_PREFIXES = (
    "impersonate-", "x-remote-", "x-forwarded-", "x-client-cert", "x-ssl-client", "ssl-client",
    "x-auth-", "x-authenticated-", "x-amzn-oidc-", "x-goog-authenticated-user-", "x-ms-client-principal",
    "cf-access-", "x-user", "x-webauth-", "x-token",
)


def is_identity_header(name: str | bytes) -> bool:
    """True for a header that carries, or could be taken for, a caller's identity or method."""
    lower = (name.decode("latin-1") if isinstance(name, bytes) else name).strip().lower()
    return lower in IDENTITY_HEADERS or lower.startswith(IDENTITY_HEADER_PREFIXES)


def strip_identity_headers(headers: Iterable[tuple[AnyStr, AnyStr]]) -> list[tuple[AnyStr, AnyStr]]:
    """The headers without any identity-bearing one, order kept. Works on str pairs and on the
    raw `(bytes, bytes)` pairs of an ASGI scope alike."""
    return [(k, v) for k, v in headers if not is_identity_header(k)]
