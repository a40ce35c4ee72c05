"""Which kind of token a bearer token is, and who it says the caller is.

A JWT whose (unverified) ``iss`` is an OIDCProvider's issuer goes to that provider; one whose
``iss`` is the cell's ServiceAccount issuer, or a token that is no JWT at all, goes to the
TokenReview; a JWT of any other issuer is refused without asking anyone. Successful answers are
cached by the token's SHA-256 (OIDC: until the earlier of its expiry and ``OIDC_CACHE_SECONDS``;
TokenReview: ``tokenreview.CACHE_SECONDS``), so a busy client costs one dict lookup per request.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import jwt

from lattice_cell.proxy.identity import AUTHN_FAILURES, AuthnError, Failure, Identity
from lattice_cell.proxy.oidc import IssuerSettings, OidcIssuer
from lattice_cell.proxy.tokenreview import TokenReviewer

log = logging.getLogger(__name__)

OIDC_CACHE_SECONDS = 60.0
CACHE_ENTRIES = 8192


class Authenticator:
    def __init__(self, reviewer: TokenReviewer | None = None, clock_skew: float = 30.0) -> None:
        self.reviewer = reviewer
        self.clock_skew = clock_skew
        self.service_account_issuer: str | None = None  # learned from the API server's discovery
        self.issuers: dict[str, OidcIssuer] = {}  # issuer URL -> issuer
        self._cache: OrderedDict[bytes, tuple[Identity, float]] = OrderedDict()

    # ---- configuration (from the OIDCProvider watch) ----
    async def set_providers(self, settings: Iterable[IssuerSettings]) -> list[OidcIssuer]:
        """Replace the OIDC providers; returns the issuers that are new or changed (to prefetch)."""
        wanted = {s.issuer_url: s for s in settings}
        changed: list[OidcIssuer] = []
        for url in list(self.issuers):
            if url not in wanted or self.issuers[url].settings != wanted[url]:
                await self.issuers.pop(url).aclose()
        for url, s in wanted.items():
            if url not in self.issuers:
                self.issuers[url] = OidcIssuer(s, self.clock_skew)
                changed.append(self.issuers[url])
        self._cache.clear()  # a removed or changed provider must not keep its tokens alive
        return changed

    async def aclose(self) -> None:
        for issuer in self.issuers.values():
            await issuer.aclose()
        self.issuers.clear()

    def providers(self) -> list[IssuerSettings]:
        return sorted((i.settings for i in self.issuers.values()), key=lambda s: s.name)

    # ---- requests ----
    async def authenticate(self, authorization: str | None) -> Identity:
        try:
            return await self._authenticate(authorization)
        except AuthnError as err:
            AUTHN_FAILURES.labels(err.reason.value).inc()
            raise

    async def _authenticate(self, authorization: str | None) -> Identity:
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthnError(Failure.MISSING, "no bearer token (Authorization: Bearer <token>)")
        key = hashlib.sha256(token.encode()).digest()
        hit = self._cache.get(key)
        if hit is not None and hit[1] > time.time():
            return hit[0]
        if token.count(".") != 2:  # not a JWT: only the API server can tell (static tokens ...)
            if self.reviewer is None:
                raise AuthnError(Failure.MALFORMED, "malformed token: not a JWT")
            return await self.reviewer.review(token)
        header, claims = _unverified(token)
        issuer = claims.get("iss")
        oidc = self.issuers.get(issuer) if isinstance(issuer, str) else None
        if oidc is not None:
            identity = await oidc.verify(token, header)
            exp = claims.get("exp")
            until = min(time.time() + OIDC_CACHE_SECONDS, float(exp) if isinstance(exp, int | float) else 0.0)
            self._remember(key, identity, until)
            return identity
        if self.reviewer is not None and (self.service_account_issuer is None or issuer == self.service_account_issuer):
            exp = claims.get("exp")
            return await self.reviewer.review(token, float(exp) if isinstance(exp, int | float) else None)
        raise AuthnError(Failure.UNKNOWN_ISSUER, f"token issuer {str(issuer)[:200]!r} is not a configured "
                                                 "OIDC provider (OIDCProvider in lattice-system)")

    def _remember(self, key: bytes, identity: Identity, until: float) -> None:
        if until <= time.time():
            return
        self._cache[key] = (identity, until)
        while len(self._cache) > CACHE_ENTRIES:
            self._cache.popitem(last=False)


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims, not yet verified: only to choose who verifies."""
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise AuthnError(Failure.MALFORMED, f"malformed token: {exc}") from exc
    if not isinstance(claims, dict):
        raise AuthnError(Failure.MALFORMED, "malformed token: claims are not an object")
    return header, claims
