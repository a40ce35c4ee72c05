"""An OpenID Connect client for a command line: log in, refresh, verify the ID token.

* **Login by authorization code with PKCE** (RFC 7636, S256) and a loopback redirect (RFC 8252):
  a one-shot HTTP listener on ``127.0.0.1`` receives the code; the authorization URL is printed on
  stderr (and opened in a browser where there is a display). ``state`` and ``nonce`` are checked.
* **Device authorization grant** (RFC 8628) when asked for and the issuer's discovery document
  offers a ``device_authorization_endpoint``.
* **Refresh** with the refresh token (``offline_access``).
* The **ID token** is verified before it is used or stored: signature against the issuer's JWKS
  (PyJWT, asymmetric algorithms only), ``iss``, ``aud`` (the client id), ``exp``, ``iat``/``nbf`` with
  a minute of skew, and the ``nonce`` of this login.

The HTTP exchanges are plain form POSTs with httpx (Authlib's httpx client is deprecated in favour
of another package and warns on every import). Tokens never reach a log or an error message.
"""

from __future__ import annotations

import base64
import hashlib
import html
import http.server
import ipaddress
import os
import secrets
import socket
import sys
import threading
import time
import urllib.parse
import webbrowser
from collections.abc import Callable
from typing import Any, TextIO

import attrs
import httpx

from cli.errors import LatticeError

SKEW = 60  # seconds of clock difference tolerated in iat/nbf/exp
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


class OidcError(LatticeError):
    def __init__(self, message: str, error: str = "") -> None:
        super().__init__(message)
        self.error = error  # the OAuth error code, when the issuer gave one


class RefreshRejected(OidcError):
    """The issuer no longer accepts the refresh token (expired, revoked, rotated away)."""


@attrs.frozen
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    device_authorization_endpoint: str | None = None
    code_challenge_methods: tuple[str, ...] = ()


@attrs.frozen
class Tokens:
    id_token: str
    refresh_token: str | None
    expiry: int  # the ID token's exp
    claims: dict[str, Any] = attrs.field(eq=False, repr=False)


def http_client(ca_file: str | None, timeout: float = 30.0, ca_data: str | None = None) -> httpx.Client:
    """An HTTP client trusting the system's CAs, or `ca_file` (a PEM file) and/or `ca_data` (base64 of
    PEM, as a kubeconfig's ``certificate-authority-data``: what the API proxy writes into exec args)."""
    verify: Any = True
    if ca_file or ca_data:
        import ssl

        try:
            verify = ssl.create_default_context(cafile=ca_file or None)
        except (OSError, ssl.SSLError) as exc:
            raise OidcError(f"--certificate-authority {ca_file}: {exc}") from exc
        if ca_data:
            try:
                verify.load_verify_locations(cadata=base64.b64decode(ca_data, validate=True).decode())
            except (ssl.SSLError, ValueError) as exc:
                raise OidcError(f"--certificate-authority-data: not a base64 PEM CA bundle ({exc})") from exc
    return httpx.Client(verify=verify, timeout=timeout, follow_redirects=False)


def _json(resp: httpx.Response, what: str) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        raise OidcError(f"{what}: the issuer answered {resp.status_code} with no JSON") from None
    if not isinstance(data, dict):
        raise OidcError(f"{what}: the issuer answered {resp.status_code} with something other than an object")
    return data


def _get(http: httpx.Client, url: str, what: str) -> dict[str, Any]:
    try:
        resp = http.get(url)
    except httpx.HTTPError as exc:
        raise OidcError(f"{what}: cannot reach {url}: {exc}") from exc
    if resp.status_code != 200:
        raise OidcError(f"{what}: {url} answered {resp.status_code}")
    return _json(resp, what)


def discover(http: httpx.Client, issuer: str) -> Provider:
    """The issuer's ``/.well-known/openid-configuration``; its ``issuer`` must be exactly ours."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    doc = _get(http, url, "OIDC discovery")
    if doc.get("issuer") != issuer:
        raise OidcError(f"OIDC discovery: {url} names issuer {doc.get('issuer')!r}, not {issuer!r} "
                        "(use exactly the issuer URL the tokens carry)")
    missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if not doc.get(k)]
    if missing:
        raise OidcError(f"OIDC discovery: {url} has no {', '.join(missing)}")
    return Provider(issuer=issuer, authorization_endpoint=doc["authorization_endpoint"],
                    token_endpoint=doc["token_endpoint"], jwks_uri=doc["jwks_uri"],
                    device_authorization_endpoint=doc.get("device_authorization_endpoint") or None,
                    code_challenge_methods=tuple(doc.get("code_challenge_methods_supported") or ()))


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _client_auth(client_id: str, client_secret: str | None) -> Any:
    """client_secret_basic (RFC 6749 2.3.1: both form-encoded first); public clients send only client_id."""
    if not client_secret:
        return httpx.USE_CLIENT_DEFAULT
    return httpx.BasicAuth(urllib.parse.quote(client_id, safe=""), urllib.parse.quote(client_secret, safe=""))


def _token_request(http: httpx.Client, provider: Provider, form: dict[str, str], client_secret: str | None,
                   what: str) -> dict[str, Any]:
    try:
        resp = http.post(provider.token_endpoint, data=form, auth=_client_auth(form["client_id"], client_secret),
                         headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise OidcError(f"{what}: cannot reach {provider.token_endpoint}: {exc}") from exc
    data = _json(resp, what)
    if resp.status_code != 200 or "error" in data:
        error = str(data.get("error") or resp.status_code)
        detail = str(data.get("error_description") or "")
        if form.get("grant_type") == "refresh_token" and error in ("invalid_grant", "invalid_request",
                                                                   "unauthorized_client"):
            raise RefreshRejected(f"{what}: {error}" + (f": {detail}" if detail else ""), error)
        raise OidcError(f"{what}: the issuer refused: {error}" + (f": {detail}" if detail else ""), error)
    return data


def verify_id_token(http: httpx.Client, provider: Provider, id_token: str, client_id: str,
                    nonce: str | None = None, now: Callable[[], float] = time.time) -> dict[str, Any]:
    """The claims of a verified ID token (raises ``OidcError`` saying what is wrong)."""
    import jwt

    jwks = _get(http, provider.jwks_uri, "the issuer's signing keys")
    try:
        header = jwt.get_unverified_header(id_token)
        if header.get("alg") not in ALGORITHMS:
            raise jwt.InvalidAlgorithmError(f"algorithm {header.get('alg')!r} is not accepted")
        keys = [k for k in jwt.PyJWKSet.from_dict(jwks).keys
                if not header.get("kid") or k.key_id == header.get("kid")]
        if not keys:
            raise jwt.InvalidKeyError(f"no key {header.get('kid')!r} in the issuer's JWKS")
        claims: dict[str, Any] = jwt.decode(
            id_token, keys[0], algorithms=list(ALGORITHMS), audience=client_id, issuer=provider.issuer,
            leeway=SKEW, options={"require": ["iss", "aud", "exp", "iat"]})
        # PyJWT checks exp against its own clock; ``now`` is for callers that pin time.
        if claims["exp"] + SKEW <= now():
            raise jwt.ExpiredSignatureError("Signature has expired")
    except jwt.PyJWTError as exc:
        raise OidcError(f"the issuer's ID token does not verify: {exc}") from exc
    if nonce is not None and claims.get("nonce") != nonce:
        raise OidcError("the issuer's ID token does not verify: its nonce is not this login's")
    return claims


def _tokens(http: httpx.Client, provider: Provider, answer: dict[str, Any], client_id: str, nonce: str | None,
            previous_refresh: str | None = None) -> Tokens:
    id_token = answer.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise OidcError("the issuer answered without an ID token (is the 'openid' scope allowed for this client?)")
    claims = verify_id_token(http, provider, id_token, client_id, nonce)
    refresh = answer.get("refresh_token")
    kept = refresh if isinstance(refresh, str) and refresh else previous_refresh
    return Tokens(id_token=id_token, refresh_token=kept, expiry=int(claims["exp"]), claims=claims)


def refresh(http: httpx.Client, provider: Provider, client_id: str, client_secret: str | None,
            refresh_token: str) -> Tokens:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}
    answer = _token_request(http, provider, form, client_secret, "refreshing the ID token")
    return _tokens(http, provider, answer, client_id, None, previous_refresh=refresh_token)


# ---- authorization code + PKCE with a loopback redirect ----

@attrs.define
class _Callback:
    path: str
    state: str
    result: dict[str, str] | None = None
    done: threading.Event = attrs.field(factory=threading.Event)


_PAGE = ("<!doctype html><html><head><meta charset='utf-8'><title>Lattice login</title></head>"
         "<body style='font-family:sans-serif'><h1>{title}</h1><p>{text}</p></body></html>")


def _handler(cb: _Callback) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            if url.path != cb.path or cb.done.is_set() or ("code" not in query and "error" not in query):
                self.send_error(404)
                return
            if query.get("state") != cb.state:
                self._page(400, "Login failed", "The answer does not belong to this login (state mismatch).")
                return
            cb.result = query
            if "error" in query:
                self._page(200, "Login failed", html.escape(query.get("error_description") or query["error"]))
            else:
                self._page(200, "Logged in", "You can close this window and return to the terminal.")
            cb.done.set()

        def _page(self, status: int, title: str, text: str) -> None:
            body = _PAGE.format(title=title, text=text).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # the query holds the code: never logged
            pass

    return Handler


def _loopback(url: str) -> tuple[str, int, str]:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "http" or not host:
        raise OidcError(f"--redirect-url {url}: must be http://127.0.0.1:PORT/PATH (a loopback address)")
    if host != "localhost":
        try:
            if not ipaddress.ip_address(host).is_loopback:
                raise ValueError
        except ValueError:
            raise OidcError(f"--redirect-url {url}: {host} is not a loopback address") from None
    return host, parts.port or 80, parts.path or "/"


class _V6Server(http.server.HTTPServer):
    address_family = socket.AF_INET6


def _bind(redirect_urls: tuple[str, ...]) -> tuple[http.server.HTTPServer, str, str]:
    """The first redirect URL whose port is free: (server, redirect URI with the real port, path)."""
    errors = []
    for url in redirect_urls:
        host, port, path = _loopback(url)
        bind = "127.0.0.1" if host == "localhost" else host
        cls = _V6Server if ":" in bind else http.server.HTTPServer
        try:
            server = cls((bind, port), http.server.BaseHTTPRequestHandler)
        except OSError as exc:
            errors.append(f"{url}: {exc.strerror or exc}")
            continue
        real = server.server_address[1]
        netloc = f"[{host}]:{real}" if ":" in host else f"{host}:{real}"
        return server, urllib.parse.urlunsplit(("http", netloc, path, "", "")), path
    raise OidcError("cannot listen for the login's redirect: " + "; ".join(errors)
                    + " (free one of these ports or pass --redirect-url with a port the client allows)")


def _open_browser(url: str) -> None:
    """Only where a browser can show up; a text browser in the terminal would take kubectl's place."""
    if sys.platform == "darwin" or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") \
            or os.environ.get("BROWSER"):
        threading.Thread(target=lambda: webbrowser.open(url), daemon=True).start()


@attrs.frozen
class LoginSettings:
    client_id: str
    client_secret: str | None
    scopes: tuple[str, ...]
    redirect_urls: tuple[str, ...]
    open_browser: bool = True
    timeout: float = 300.0


def login_authcode(http: httpx.Client, provider: Provider, s: LoginSettings, err: TextIO) -> Tokens:
    if provider.code_challenge_methods and "S256" not in provider.code_challenge_methods:
        raise OidcError(f"issuer {provider.issuer} does not support PKCE with S256")
    server, redirect_uri, path = _bind(s.redirect_urls)
    verifier, challenge = pkce_pair()
    cb = _Callback(path=path, state=secrets.token_urlsafe(24))
    nonce = secrets.token_urlsafe(24)
    server.RequestHandlerClass = _handler(cb)
    query = {"client_id": s.client_id, "response_type": "code", "scope": " ".join(s.scopes),
             "redirect_uri": redirect_uri, "state": cb.state, "nonce": nonce, "code_challenge": challenge,
             "code_challenge_method": "S256"}
    sep = "&" if "?" in provider.authorization_endpoint else "?"
    url = provider.authorization_endpoint + sep + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        print(f"Log in to {provider.issuer} in your browser:\n\n    {url}\n", file=err, flush=True)
        if s.open_browser:
            _open_browser(url)
        if not cb.done.wait(s.timeout):
            raise OidcError(f"no login within {s.timeout:g}s (nothing came back to {redirect_uri})")
    finally:
        server.shutdown()
        server.server_close()
    result = cb.result or {}
    if "error" in result:
        raise OidcError(f"login refused by the issuer: {result['error']}"
                        + (f": {result['error_description']}" if result.get("error_description") else ""))
    form = {"grant_type": "authorization_code", "code": result["code"], "redirect_uri": redirect_uri,
            "client_id": s.client_id, "code_verifier": verifier}
    answer = _token_request(http, provider, form, s.client_secret, "exchanging the login code")
    return _tokens(http, provider, answer, s.client_id, nonce)


# ---- device authorization grant ----

def login_device(http: httpx.Client, provider: Provider, s: LoginSettings, err: TextIO,
                 sleep: Callable[[float], None] = time.sleep) -> Tokens:
    if not provider.device_authorization_endpoint:
        raise OidcError(f"issuer {provider.issuer} does not offer the device authorization grant (no "
                        "device_authorization_endpoint in its discovery document); use --grant-type authcode")
    form = {"client_id": s.client_id, "scope": " ".join(s.scopes)}
    try:
        resp = http.post(provider.device_authorization_endpoint, data=form,
                         auth=_client_auth(s.client_id, s.client_secret),
                         headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise OidcError(f"device login: cannot reach {provider.device_authorization_endpoint}: {exc}") from exc
    start = _json(resp, "device login")
    if resp.status_code != 200 or "device_code" not in start:
        raise OidcError(f"device login: the issuer refused: {start.get('error') or resp.status_code}")
    where = start.get("verification_uri_complete") or start.get("verification_uri")
    print(f"Log in to {provider.issuer}: open {where}\nand enter the code {start.get('user_code')}\n",
          file=err, flush=True)
    interval = max(float(start.get("interval", 5) or 0), 0.0)  # RFC 8628: 5 s when the issuer says nothing
    deadline = time.monotonic() + min(float(start.get("expires_in") or s.timeout), s.timeout)
    poll = {"grant_type": DEVICE_GRANT, "device_code": str(start["device_code"]), "client_id": s.client_id}
    while time.monotonic() < deadline:
        sleep(interval)
        try:
            answer = _token_request(http, provider, poll, s.client_secret, "device login")
        except OidcError as exc:
            if exc.error == "authorization_pending":
                continue
            if exc.error == "slow_down":
                interval += 5
                continue
            raise
        return _tokens(http, provider, answer, s.client_id, None)
    raise OidcError("device login: the code expired before the login was completed")
