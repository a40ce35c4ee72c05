"""lattice_cell.proxy.authn: which checker a token goes to, and the failures decided before any."""

from __future__ import annotations

import jwt
import pytest

from lattice_cell.proxy.authn import Authenticator
from lattice_cell.proxy.identity import AuthnError, Failure
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
