"""cli.oidc: PKCE, the loopback redirect, ID token verification and the device grant (against a named
test double of an issuer: the real one, Hydra v2.3.0, has no device grant; its authorization-code
flow is tests/integration/test_token.py)."""

import base64
import hashlib
import io
import threading
import time
import urllib.parse
from pathlib import Path

import httpx
import jwt
import pytest

from cli import oidc
from tests.unit.cli.issuer_double import serve


def settings(**kw: object) -> oidc.LoginSettings:
    base = {"client_id": "cli", "client_secret": None, "scopes": ("openid", "offline_access"),
            "redirect_urls": ("http://127.0.0.1:0/callback",), "open_browser": False, "timeout": 10.0}
    return oidc.LoginSettings(**{**base, **kw})  # type: ignore[arg-type]


def test_pkce_challenge_is_the_s256_of_the_verifier() -> None:
    verifier, challenge = oidc.pkce_pair()
    assert 43 <= len(verifier) <= 128
    assert challenge == base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert oidc.pkce_pair()[0] != verifier


def test_redirects_must_be_loopback_http() -> None:
    for bad in ("https://127.0.0.1:8000/cb", "http://example.com:8000/cb", "http://10.0.0.1/cb"):
        with pytest.raises(oidc.OidcError, match="--redirect-url"):
            oidc._loopback(bad)
    assert oidc._loopback("http://localhost:8000/callback") == ("localhost", 8000, "/callback")
    server, uri, path = oidc._bind(("http://127.0.0.1:0/cb",))
    try:
        assert uri == f"http://127.0.0.1:{server.server_address[1]}/cb" and path == "/cb"
        with pytest.raises(oidc.OidcError, match="cannot listen"):
            oidc._bind((uri,))  # taken: said which and why
    finally:
        server.server_close()


def test_discovery_must_name_the_same_issuer() -> None:
    with serve() as issuer, httpx.Client() as http:
        assert oidc.discover(http, issuer.url).device_authorization_endpoint == issuer.url + "/device"
        with pytest.raises(oidc.OidcError, match="names issuer"):
            oidc.discover(http, issuer.url + "/")


@pytest.mark.parametrize(("override", "message"), [
    ({"aud": "someone-else"}, "Audience"),
    ({"iss": "https://evil.example"}, "issuer"),
    ({"exp": int(time.time()) - 3600}, "expired"),
    ({"nonce": "other"}, "nonce"),
    ({"iat": None}, "iat"),
])
def test_bad_id_tokens_are_refused(override: dict[str, object], message: str) -> None:
    with serve() as issuer, httpx.Client() as http:
        provider = oidc.discover(http, issuer.url)
        assert oidc.verify_id_token(http, provider, issuer.id_token(nonce="n1"), "cli", "n1")["sub"] == "bob"
        with pytest.raises(oidc.OidcError, match=message):
            oidc.verify_id_token(http, provider, issuer.id_token(**{"nonce": "n1", **override}), "cli", "n1")


def test_unsigned_and_hmac_tokens_are_refused() -> None:
    with serve() as issuer, httpx.Client() as http:
        provider = oidc.discover(http, issuer.url)
        claims = {"iss": issuer.url, "aud": "cli", "sub": "x", "iat": int(time.time()), "exp": int(time.time()) + 60}
        unsigned = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
        hmac = jwt.encode(claims, "a-shared-secret-long-enough-for-hs256!!", algorithm="HS256")
        for token in (unsigned, hmac):
            with pytest.raises(oidc.OidcError, match="not accepted"):
                oidc.verify_id_token(http, provider, token, "cli")


def test_device_grant_polls_until_the_user_is_done() -> None:
    with serve(pending_polls=2, slow_down=True) as issuer, httpx.Client() as http:
        provider = oidc.discover(http, issuer.url)
        err = io.StringIO()
        waits: list[float] = []
        tokens = oidc.login_device(http, provider, settings(), err, sleep=waits.append)
        assert tokens.claims["sub"] == "bob" and tokens.refresh_token == "r1"
        assert "enter the code WDJB-MJHT" in err.getvalue() and "activate?user_code=WDJB-MJHT" in err.getvalue()
        assert waits == [0.0, 5.0, 5.0]  # slow_down adds 5 s to the interval
        assert issuer.requests[0] == ("/device", {"client_id": "cli", "scope": "openid offline_access"})


def test_device_grant_needs_an_issuer_that_offers_it() -> None:
    with serve(device=False) as issuer, httpx.Client() as http:
        provider = oidc.discover(http, issuer.url)
        with pytest.raises(oidc.OidcError, match="does not offer the device authorization grant"):
            oidc.login_device(http, provider, settings(), io.StringIO())


def test_refresh_and_a_rejected_refresh_token() -> None:
    with serve() as issuer, httpx.Client() as http:
        provider = oidc.discover(http, issuer.url)
        tokens = oidc.refresh(http, provider, "cli", None, "r1")
        assert tokens.refresh_token == "r1"  # the issuer sent none back: the old one is kept
        with pytest.raises(oidc.RefreshRejected, match="invalid_grant: refresh token revoked"):
            oidc.refresh(http, provider, "cli", None, "r0")


def test_the_loopback_listener_checks_state_and_reports_errors() -> None:
    with serve() as issuer, httpx.Client() as http:
        provider = oidc.discover(http, issuer.url)
        err = io.StringIO()
        result: list[BaseException] = []

        def run() -> None:
            try:
                oidc.login_authcode(http, provider, settings(), err)
            except BaseException as exc:
                result.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 10
        while "/auth?" not in err.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
        url = next(line.strip() for line in err.getvalue().splitlines() if "/auth?" in line)
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        assert query["code_challenge_method"] == "S256" and query["response_type"] == "code"
        callback = query["redirect_uri"]
        assert httpx.get(callback, params={"code": "c", "state": "forged"}).status_code == 400
        assert httpx.get(callback.replace("/callback", "/other"), params={"code": "c"}).status_code == 404
        page = httpx.get(callback, params={"error": "access_denied", "error_description": "<b>no</b>",
                                           "state": query["state"]})
        assert "&lt;b&gt;no&lt;/b&gt;" in page.text  # escaped
        thread.join(10)
        assert len(result) == 1 and "login refused by the issuer: access_denied: <b>no</b>" in str(result[0])


def test_the_issuer_ca_as_a_file_or_as_base64(tmp_path: Path) -> None:
    from lattice_tunnel.pki import generate_ca

    pem = generate_ca().cert_pem
    (tmp_path / "ca.crt").write_bytes(pem)
    with oidc.http_client(str(tmp_path / "ca.crt")), oidc.http_client(None, ca_data=base64.b64encode(pem).decode()):
        pass
    with pytest.raises(oidc.OidcError, match="--certificate-authority-data: not a base64 PEM"):
        oidc.http_client(None, ca_data="not base64!")
    with pytest.raises(oidc.OidcError, match="--certificate-authority-data: not a base64 PEM"):
        oidc.http_client(None, ca_data=base64.b64encode(b"no PEM here").decode())
    with pytest.raises(oidc.OidcError, match=r"--certificate-authority .*missing"):
        oidc.http_client(str(tmp_path / "missing"))
