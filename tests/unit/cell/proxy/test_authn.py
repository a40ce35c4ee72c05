"""lattice_cell.proxy.authn: which checker a token goes to, and the failures decided before any."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from lattice_cell.proxy.auth_throttle import FailureLimiter
from lattice_cell.proxy.authn import Authenticator
from lattice_cell.proxy.identity import AuthnError, Failure, Throttled
from lattice_cell.proxy.oidc import IssuerSettings


@pytest.mark.parametrize(("header", "reason"), [
    (None, Failure.MISSING), ("Basic abc", Failure.MISSING), ("Bearer ", Failure.MISSING),
    ("Bearer opaque-token", Failure.MALFORMED),  # no TokenReview configured: only JWTs can be checked
    ("Bearer a.b.c", Failure.MALFORMED),
    ("Bearer " + jwt.encode({"iss": "https://nobody.example"}, "k" * 32, algorithm="HS256"), Failure.UNKNOWN_ISSUER),
])
async def test_refused_before_any_issuer_is_asked(header: str | None, reason: Failure) -> None:
    with pytest.raises(AuthnError) as err:
        await Authenticator().authenticate(header)
    assert err.value.reason is reason


async def test_providers_replace_and_close() -> None:
    authn = Authenticator()
    a = IssuerSettings("a", "https://a.example", "cli", ("cli",))
    assert [i.settings.name for i in await authn.set_providers([a])] == ["a"]
    assert await authn.set_providers([a]) == []  # unchanged: nothing new to fetch
    changed = IssuerSettings("a", "https://a.example", "cli2", ("cli2",))
    assert [i.settings.client_id for i in await authn.set_providers([changed])] == ["cli2"]
    assert [p.name for p in authn.providers()] == ["a"]
    await authn.set_providers([])
    assert authn.issuers == {}


# ---- the failure limiter in front of every checker ----

ISSUER = "https://sso.example.com"
KEY = rsa.generate_private_key(65537, 2048)


def good_token(email: str = "alice@x") -> str:
    now = int(time.time())
    return jwt.encode({"iss": ISSUER, "aud": "cli", "sub": email, "email": email, "iat": now, "exp": now + 300},
                      KEY, algorithm="RS256", headers={"kid": "k"})


async def limited(failures: int = 3) -> Authenticator:
    authn = Authenticator(limiter=FailureLimiter(failures, 60.0))
    issuer, = await authn.set_providers([IssuerSettings("sso", ISSUER, "cli", ("cli",), username_claim="email")])
    issuer.keys = {"k": jwt.PyJWK(json.loads(RSAAlgorithm.to_jwk(KEY.public_key())))}
    issuer.fetched_at = time.monotonic()
    return authn


async def test_a_client_out_of_tries_is_refused_before_its_token_is_looked_at() -> None:
    authn = await limited()
    for _ in range(3):
        with pytest.raises(AuthnError):
            await authn.authenticate("Bearer a.b.c", "10.0.0.1")
    with pytest.raises(Throttled) as refused:
        await authn.authenticate("Bearer a.b.c", "10.0.0.1")
    assert refused.value.client == "10.0.0.1" and refused.value.retry_after == pytest.approx(20.0, abs=0.5)
    with pytest.raises(Throttled):  # a new, good token is not verified either: it could be a guess
        await authn.authenticate(f"Bearer {good_token('new@x')}", "10.0.0.1")
    with pytest.raises(AuthnError):  # another address has its own tries
        await authn.authenticate("Bearer a.b.c", "10.0.0.2")


async def test_a_token_verified_before_is_never_throttled_and_does_not_reset_the_failures() -> None:
    authn = await limited()
    good = f"Bearer {good_token()}"
    assert (await authn.authenticate(good, "10.0.0.1")).username == "alice@x"
    for _ in range(3):
        with pytest.raises(AuthnError):
            await authn.authenticate("Bearer a.b.c", "10.0.0.1")
    authn._cache.clear()  # past the identity cache: the token is verified again, and not refused unseen
    assert (await authn.authenticate(good, "10.0.0.1")).username == "alice@x"
    with pytest.raises(Throttled):
        await authn.authenticate("Bearer a.b.c", "10.0.0.1")


async def test_no_token_costs_nothing_but_an_unreachable_checker_does() -> None:
    authn = Authenticator(limiter=FailureLimiter(2, 60.0))
    await authn.set_providers([IssuerSettings("down", "https://127.0.0.1:1", "cli", ("cli",))])
    unreachable = jwt.encode({"iss": "https://127.0.0.1:1", "aud": "cli"}, KEY, algorithm="RS256",
                             headers={"kid": "k"})
    for _ in range(5):
        with pytest.raises(AuthnError) as err:
            await authn.authenticate(None, "10.0.0.1")
        assert err.value.reason is Failure.MISSING
    for _ in range(2):  # a flood must not go on because the issuer (or API server) is down
        with pytest.raises(AuthnError) as err:
            await authn.authenticate(f"Bearer {unreachable}", "10.0.0.1")
        assert err.value.reason is Failure.ISSUER_UNAVAILABLE
    with pytest.raises(Throttled):
        await authn.authenticate(f"Bearer {unreachable}", "10.0.0.1")
    await authn.aclose()
