"""lattice_cell.proxy.oidc: token checks and kube-apiserver's claim rules, with keys the test holds
(the issuer's cache is filled directly; discovery over the network is the integration tests' job)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from lattice_cell.proxy.identity import AuthnError, Failure
from lattice_cell.proxy.oidc import IssuerSettings, OidcIssuer
from lattice_tunnel.pki import generate_ca

ISSUER = "https://sso.example.com"
KEY = rsa.generate_private_key(65537, 2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def issuer(**settings: Any) -> OidcIssuer:
    s = IssuerSettings(name="sso", issuer_url=ISSUER, client_id="cli", audiences=("cli",), **settings)
    oidc = OidcIssuer(s, clock_skew=30)
    oidc.keys = {"r1": jwt.PyJWK(json.loads(RSAAlgorithm.to_jwk(KEY.public_key()))),
                 "e1": jwt.PyJWK(json.loads(ECAlgorithm.to_jwk(EC_KEY.public_key())))}
    oidc.fetched_at = time.monotonic()
    return oidc


def token(key: Any = KEY, kid: str | None = "r1", alg: str = "RS256", **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": "cli", "sub": "u1", "email": "a@example.com", "iat": now, "exp": now + 300,
            "groups": ["dev", "ops"], **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm=alg,
                      headers={"kid": kid} if kid else None)


async def verify(oidc: OidcIssuer, tok: str) -> Any:
    return await oidc.verify(tok, jwt.get_unverified_header(tok))


async def test_username_prefix_follows_kube_apiserver() -> None:
    # unset prefix: the issuer URL and '#' for any claim but email
    assert (await verify(issuer(), token())).username == f"{ISSUER}#u1"
    assert (await verify(issuer(username_claim="email"), token())).username == "a@example.com"
    assert (await verify(issuer(username_prefix="-"), token())).username == "u1"
    assert (await verify(issuer(username_prefix="sso:"), token())).username == "sso:u1"


async def test_groups_string_or_list_with_prefix() -> None:
    who = await verify(issuer(groups_prefix="sso:"), token())
    assert who.groups == ("sso:dev", "sso:ops", "system:authenticated")
    assert (await verify(issuer(), token(groups="solo"))).groups == ("solo", "system:authenticated")
    assert who.method == "oidc:sso" and (who.issuer, who.client_id) == (ISSUER, "cli")


async def test_an_ec_key_and_a_token_without_kid() -> None:
    assert (await verify(issuer(), token(EC_KEY, kid="e1", alg="ES256"))).username.endswith("#u1")
    assert (await verify(issuer(), token(kid=None))).username.endswith("#u1")


@pytest.mark.parametrize(("claims", "reason"), [
    ({"exp": -100}, Failure.EXPIRED),  # times: seconds from now, when the test runs
    ({"nbf": 100}, Failure.NOT_YET_VALID),
    ({"iat": 100}, Failure.ISSUED_IN_FUTURE),
    ({"aud": "other"}, Failure.WRONG_AUDIENCE),
    ({"exp": None}, Failure.MISSING_CLAIM),
])
async def test_claims_refused(claims: dict[str, Any], reason: Failure) -> None:
    now = int(time.time())
    at = {k: now + v if k in ("exp", "nbf", "iat") and isinstance(v, int) else v for k, v in claims.items()}
    with pytest.raises(AuthnError) as err:
        await verify(issuer(), token(**at))
    assert err.value.reason is reason


async def test_clock_skew_is_bounded_leeway() -> None:
    assert await verify(issuer(), token(exp=int(time.time()) - 10))  # within 30 s of skew


async def test_algorithms_and_keys_refused() -> None:
    oidc = issuer()
    cases = {
        Failure.ALG_NONE: jwt.encode({"iss": ISSUER}, None, algorithm="none"),
        Failure.ALG_NOT_ALLOWED: jwt.encode({"iss": ISSUER}, "secret-of-32-bytes-at-least-aaaaaa", algorithm="HS256"),
        Failure.UNKNOWN_KID: token(kid="r9"),
        Failure.BAD_SIGNATURE: token(rsa.generate_private_key(65537, 2048)),
    }
    oidc._last_attempt = time.monotonic()  # an unknown kid would refetch; the cache was just filled
    for reason, tok in cases.items():
        with pytest.raises(AuthnError) as err:
            await verify(oidc, tok)
        assert err.value.reason is reason, (reason, err.value.message)


async def test_required_claims_and_unverified_email() -> None:
    with pytest.raises(AuthnError) as err:
        await verify(issuer(required_claims=(("tenant", "acme"),)), token(tenant="other"))
    assert err.value.reason is Failure.REQUIRED_CLAIM
    assert await verify(issuer(required_claims=(("tenant", "acme"), ("hd", None))), token(tenant="acme", hd="x"))
    with pytest.raises(AuthnError) as err:
        await verify(issuer(username_claim="email"), token(email_verified=False))
    assert err.value.reason is Failure.EMAIL_UNVERIFIED


def test_settings_from_an_object_and_what_is_public() -> None:
    obj = {"apiVersion": "lattice.dev/v1alpha1", "kind": "OIDCProvider",
           "metadata": {"name": "sso", "namespace": "lattice-system"},
           "spec": {"issuerUrl": ISSUER, "clientId": "cli", "usernameClaim": "email", "caBundle": None}}
    s = IssuerSettings.from_object(obj)
    assert (s.audiences, s.username_claim, s.jwks_refresh_seconds) == (("cli",), "email", 3600.0)
    assert "caBundle" not in s.public() and s.public()["issuerUrl"] == ISSUER
    assert "certificateAuthorityData" not in s.public() and "clientSecret" not in s.public()
    pem = generate_ca().cert_pem.decode()
    with_ca = IssuerSettings.from_object({**obj, "spec": {**obj["spec"], "caBundle": pem}})
    assert base64.b64decode(with_ca.public()["certificateAuthorityData"]).decode() == pem  # public, for logins
    with pytest.raises(ValueError, match="must be https"):
        IssuerSettings.from_object({**obj, "spec": {**obj["spec"], "issuerUrl": "http://sso.example.com"}})
    with pytest.raises(ValueError):
        IssuerSettings.from_object({**obj, "spec": {"clientId": "cli"}})
    assert "extraScopes" not in s.public()


def test_extra_scopes_are_public_and_checked_for_every_item() -> None:
    spec = {"issuerUrl": ISSUER, "clientId": "cli", "extraScopes": ["groups", "email"]}
    obj = {"apiVersion": "lattice.dev/v1alpha1", "kind": "OIDCProvider",
           "metadata": {"name": "sso", "namespace": "lattice-system"}, "spec": spec}
    assert IssuerSettings.from_object(obj).public()["extraScopes"] == ["groups", "email"]
    with pytest.raises(ValueError, match=r"spec\.extraScopes.*invalid OAuth scope 'two words'"):
        IssuerSettings.from_object({**obj, "spec": {**spec, "extraScopes": ["groups", "two words"]}})
