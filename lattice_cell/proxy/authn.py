"""Which kind of token a bearer token is, and who it says the caller is.

A JWT whose (unverified) ``iss`` is an OIDCProvider's issuer goes to that provider; one whose
``iss`` is the cell's ServiceAccount issuer, or a token that is no JWT at all, goes to the
TokenReview; a JWT of any other issuer is refused without asking anyone. Successful answers are
cached by the token's SHA-256 (OIDC: until the earlier of its expiry and ``OIDC_CACHE_SECONDS``;
TokenReview: ``tokenreview.CACHE_SECONDS``), so a busy client costs one dict lookup per request.

Failed authentications are limited per client address (``auth_throttle``): a client out of tries
gets ``Throttled`` (429) before its token is parsed, verified or reviewed. Never throttled: a cached
token, and a token verified before (its SHA-256 is remembered until its expiry, at most
``VERIFIED_SECONDS``; it is verified again, but not refused unseen). A request without a token costs
the client nothing; an unreachable issuer or API server does (a flood must not go on because it
overloads what it is aimed at).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import jwt
from prometheus_client import Gauge

from lattice_cell.proxy.auth_throttle import FailureLimiter
from lattice_cell.proxy.identity import AUTHN_FAILURES, AUTHN_THROTTLED, AuthnError, Failure, Identity, Throttled
from lattice_cell.proxy.oidc import IssuerSettings, OidcIssuer
from lattice_cell.proxy.tokenreview import TokenReviewer

log = logging.getLogger(__name__)

OIDC_CACHE_SECONDS = 60.0
CACHE_ENTRIES = 8192
VERIFIED_SECONDS = 3600.0  # how long a verified token without `exp` is spared the limiter
THROTTLED_CLIENTS = Gauge("lattice_api_proxy_auth_throttled_clients", "Client addresses the API proxy refuses "
                          "(or refused) with 429 that have not got all their authentication tries back yet")


class Authenticator:
    def __init__(self, reviewer: TokenReviewer | None = None, clock_skew: float = 30.0,
                 limiter: FailureLimiter | None = None) -> None:
        self.reviewer = reviewer
        self.clock_skew = clock_skew
        self.limiter = limiter  # None: failed authentications are not limited
        self.service_account_issuer: str | None = None  # learned from the API server's discovery
        self.issuers: dict[str, OidcIssuer] = {}  # issuer URL -> issuer
        self._cache: OrderedDict[bytes, tuple[Identity, float]] = OrderedDict()
        self._verified: OrderedDict[bytes, float] = OrderedDict()  # token SHA-256 -> spared the limiter until
        if limiter is not None:
            THROTTLED_CLIENTS.set_function(limiter.throttled_clients)

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
    async def authenticate(self, authorization: str | None, client: str = "") -> Identity:
        """Who the bearer token of ``authorization`` says the caller is (``AuthnError`` otherwise);
        ``client`` is the caller's address (``auth_throttle.client_key``), for the limiter only."""
        try:
            return await self._authenticate(authorization, client)
        except AuthnError as err:
            AUTHN_FAILURES.labels(err.reason.value).inc()
            raise

    async def _authenticate(self, authorization: str | None, client: str) -> Identity:
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthnError(Failure.MISSING, "no bearer token (Authorization: Bearer <token>)")
        key = hashlib.sha256(token.encode()).digest()
        hit = self._cache.get(key)
        if hit is not None and hit[1] > time.time():
            return hit[0]
        charged = self._admit(key, client)
        try:
            identity, expires = await self._verify(token, key)
        except AuthnError:
            if self.limiter is not None and not charged:
                self.limiter.charge(client)
            raise
        if charged and self.limiter is not None:
            self.limiter.refund(client)
        self._spare(key, expires)
        return identity

    def _admit(self, key: bytes, client: str) -> bool:
        """Whether a try of ``client`` was spent in advance; ``Throttled`` when it has none left."""
        if self.limiter is None or self._verified.get(key, 0.0) > time.time():
            return False
        refused = self.limiter.admit(client)
        if refused is None:
            return True
        AUTHN_THROTTLED.inc()
        if refused.first:  # once per episode, never the token
            log.warning("API proxy: too many failed authentications from %s (allowance %d per %.0fs): its "
                        "unverified tokens get 429 until it is back under the limit", client, self.limiter.failures,
                        self.limiter.window)
        raise Throttled(client, refused.retry_after)

    async def _verify(self, token: str, key: bytes) -> tuple[Identity, float | None]:
        """The identity and the token's expiry when known."""
        if token.count(".") != 2:  # not a JWT: only the API server can tell (static tokens ...)
            if self.reviewer is None:
                raise AuthnError(Failure.MALFORMED, "malformed token: not a JWT")
            return await self.reviewer.review(token), None
        header, claims = _unverified(token)
        issuer = claims.get("iss")
        exp = claims.get("exp")
        expires = float(exp) if isinstance(exp, int | float) else None
        oidc = self.issuers.get(issuer) if isinstance(issuer, str) else None
        if oidc is not None:
            identity = await oidc.verify(token, header)
            self._remember(key, identity, min(time.time() + OIDC_CACHE_SECONDS, expires or 0.0))
            return identity, expires
        if self.reviewer is not None and (self.service_account_issuer is None or issuer == self.service_account_issuer):
            return await self.reviewer.review(token, expires), expires
        raise AuthnError(Failure.UNKNOWN_ISSUER, f"token issuer {str(issuer)[:200]!r} is not a configured "
                                                 "OIDC provider (OIDCProvider in lattice-system)")

    def _spare(self, key: bytes, expires: float | None) -> None:
        """Remember a verified token (its hash) so the limiter never refuses it unseen."""
        if self.limiter is None:
            return
        self._verified[key] = min(time.time() + VERIFIED_SECONDS, expires or float("inf"))
        self._verified.move_to_end(key)
        while len(self._verified) > CACHE_ENTRIES:
            self._verified.popitem(last=False)

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
