"""lattice_tunnel.identity_headers: every identity-bearing header goes, in any case, as str or as
raw ASGI bytes; what Kubernetes clients legitimately send stays."""

from __future__ import annotations

import pytest

from lattice_tunnel.identity_headers import is_identity_header, strip_identity_headers
from lattice_tunnel.kube_request import forwardable_request_headers

# Every family the module names, with real-world spellings.
IDENTITY = [
    "Authorization", "Proxy-Authorization", "Cookie",
    "Impersonate-User", "Impersonate-Group", "Impersonate-Uid", "Impersonate-Extra-Scopes",
    "X-Remote-User", "X-Remote-Group", "X-Remote-Extra-Scopes", "X-Remote-Uid", "X-Remote",
    "X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override",
    "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-User", "X-Forwarded-Email",
    "X-Forwarded-Groups", "X-Forwarded-Preferred-Username", "X-Forwarded-Access-Token",
    "X-Forwarded-Client-Cert", "Forwarded", "X-Real-IP", "X-Client-IP", "True-Client-IP", "CF-Connecting-IP",
    "X-Client-Cert", "X-Client-Certificate", "X-SSL-Client-Cert", "X-SSL-Client-DN", "SSL-Client-Cert",
    "X-ARR-ClientCert",
    "X-Auth-Request-User", "X-Auth-Request-Email", "X-Auth-Request-Groups", "X-Auth-Token",
    "X-Authenticated-User", "X-Authenticated-Groups",
    "X-Amzn-OIDC-Identity", "X-Amzn-OIDC-Data", "X-Goog-Authenticated-User-Email",
    "X-MS-Client-Principal", "X-MS-Client-Principal-Name", "CF-Access-Jwt-Assertion",
    "Remote-User", "X-User", "X-User-Id", "X-Email", "X-Groups", "X-WebAuth-User",
    "X-Token", "X-Id-Token", "X-Access-Token", "X-API-Key",
]
LEGITIMATE = [
    "Accept", "Accept-Encoding", "Content-Type", "Content-Encoding", "User-Agent", "Kubectl-Command",
    "Kubectl-Session", "X-Stream-Protocol-Version", "Sec-WebSocket-Protocol", "If-None-Match", "Audit-ID",
    "Cache-Control", "Origin", "Warning",
]


@pytest.mark.parametrize("name", IDENTITY)
def test_every_identity_header_is_recognised_in_any_case(name: str) -> None:
    for spelling in (name, name.lower(), name.upper(), f" {name}"):
        assert is_identity_header(spelling), spelling
        assert is_identity_header(spelling.encode("latin-1")), spelling


@pytest.mark.parametrize("name", LEGITIMATE)
def test_what_kubernetes_clients_send_is_kept(name: str) -> None:
    assert not is_identity_header(name)


def test_strip_keeps_order_for_str_and_bytes_pairs() -> None:
    headers = [("Accept", "a"), ("X-Remote-User", "admin"), ("User-Agent", "kubectl"),
               ("x-http-method-override", "DELETE"), ("Content-Type", "c")]
    assert strip_identity_headers(headers) == [("Accept", "a"), ("User-Agent", "kubectl"), ("Content-Type", "c")]
    raw = [(k.lower().encode(), v.encode()) for k, v in headers]
    assert strip_identity_headers(raw) == [(b"accept", b"a"), (b"user-agent", b"kubectl"), (b"content-type", b"c")]


def test_every_hop_forwards_none_of_them() -> None:
    headers = tuple((name, "x") for name in IDENTITY + LEGITIMATE)
    assert forwardable_request_headers(headers) == tuple((name, "x") for name in LEGITIMATE)
