"""A TEST DOUBLE of an OpenID Connect issuer, for what the real one here cannot do.

Ory Hydra v2.3.0 (the real issuer of tests/integration/test_token.py) has no device authorization
grant, and bad ID tokens (wrong audience, wrong nonce, expired, unsigned) cannot be had from it on
demand. This double serves discovery, a JWKS, the device authorization and token endpoints on a
loopback port (plain HTTP, stdlib server in a thread) and signs what the test asks it to with an
RSA key made here. Nothing else uses it.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa


@attrs.define
class IssuerDouble:
    url: str = ""
    client_id: str = "cli"
    key: Any = attrs.field(factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))
    device: bool = True
    pending_polls: int = 1  # answers "authorization_pending" this many times before the tokens
    slow_down: bool = False
    polls: int = 0
    claims: dict[str, Any] = attrs.field(factory=dict)
    requests: list[tuple[str, dict[str, str]]] = attrs.field(factory=list)

    def id_token(self, **override: Any) -> str:
        now = int(time.time())
        claims = {"iss": self.url, "aud": self.client_id, "sub": "bob", "iat": now, "exp": now + 600,
                  "email": "bob@example.com", **self.claims, **override}
        return jwt.encode({k: v for k, v in claims.items() if v is not None}, self.key, algorithm="RS256",
                          headers={"kid": "k1"})

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}

    def discovery(self) -> dict[str, Any]:
        doc = {"issuer": self.url, "authorization_endpoint": f"{self.url}/auth", "token_endpoint": f"{self.url}/token",
               "jwks_uri": f"{self.url}/jwks", "code_challenge_methods_supported": ["S256"]}
        if self.device:
            doc["device_authorization_endpoint"] = f"{self.url}/device"
        return doc

    def token_answer(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("grant_type") == "urn:ietf:params:oauth:grant-type:device_code":
            self.polls += 1
            if self.slow_down and self.polls == 1:
                return 400, {"error": "slow_down"}
            if self.polls <= self.pending_polls:
                return 400, {"error": "authorization_pending"}
            return 200, {"id_token": self.id_token(), "refresh_token": "r1", "access_token": "a", "expires_in": 600}
        if form.get("grant_type") == "refresh_token":
            if form.get("refresh_token") != "r1":
                return 400, {"error": "invalid_grant", "error_description": "refresh token revoked"}
            return 200, {"id_token": self.id_token(), "access_token": "a", "expires_in": 600}
        return 400, {"error": "unsupported_grant_type"}


def _handler(issuer: IssuerDouble) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/.well-known/openid-configuration":
                self._send(200, issuer.discovery())
            elif self.path == "/jwks":
                self._send(200, issuer.jwks())
            else:
                self._send(404, {})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            issuer.requests.append((self.path, form))
            if self.path == "/device":
                self._send(200, {"device_code": "dc", "user_code": "WDJB-MJHT",
                                 "verification_uri": f"{issuer.url}/activate",
                                 "verification_uri_complete": f"{issuer.url}/activate?user_code=WDJB-MJHT",
                                 "expires_in": 60, "interval": 0})
            elif self.path == "/token":
                self._send(*issuer.token_answer(form))
            else:
                self._send(404, {})

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serve(**settings: Any) -> Iterator[IssuerDouble]:
    issuer = IssuerDouble(**settings)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(issuer))
    issuer.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()
