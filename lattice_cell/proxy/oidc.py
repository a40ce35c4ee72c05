"""OIDC ID tokens, checked the way kube-apiserver's ``--oidc-*`` flags do, with PyJWT.

One ``OidcIssuer`` per OIDCProvider: discovery (``<issuer>/.well-known/openid-configuration``, whose
``issuer`` must equal the configured one exactly), the JWKS fetched and cached for
``jwksRefreshIntervalSeconds`` and fetched again — at most every ``KID_REFETCH`` seconds — when a
token names a key it does not know (key rotation), signatures with asymmetric algorithms only,
``aud``/``exp``/``nbf``/``iat`` with a bounded clock skew, required claims, and username/groups
claims with kube-apiserver's prefix rules.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs
import httpx
import jwt

from crds import OIDCProvider, parse_as
from lattice_cell.proxy.identity import AuthnError, Failure, Identity

log = logging.getLogger(__name__)

# Asymmetric only: `none` and the HMAC family would let anyone holding the public key sign.
ALLOWED_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                                "ES256", "ES384", "ES512", "EdDSA"})
KID_REFETCH = 10.0  # seconds between two JWKS fetches caused by an unknown `kid`
MAX_CLOCK_SKEW = 300.0
HTTP_TIMEOUT = 10.0
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


@attrs.frozen
class IssuerSettings:
    """What the proxy takes from one OIDCProvider object."""

    name: str
    issuer_url: str
    client_id: str
    audiences: tuple[str, ...]
    username_claim: str = "sub"
    username_prefix: str | None = None
    groups_claim: str = "groups"
    groups_prefix: str | None = None
    required_claims: tuple[tuple[str, str | None], ...] = ()
    ca_bundle: str | None = None
    jwks_refresh_seconds: float = 3600.0
    extra_scopes: tuple[str, ...] = ()

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> IssuerSettings:
        """From a raw OIDCProvider; ``ValueError`` naming every problem when it is not usable."""
        model, errors = parse_as(OIDCProvider, dict(obj))
        if model is None or errors:
            raise ValueError("; ".join(str(e) for e in errors) or "cannot read the object")
        spec = model.spec
        url = urlsplit(spec.issuer_url)
        if url.scheme != "https" and url.hostname not in LOOPBACK:
            raise ValueError(f"spec.issuerUrl: must be https (got {spec.issuer_url!r})")
        return cls(
            name=model.metadata.name or "", issuer_url=spec.issuer_url, client_id=spec.client_id,
            audiences=tuple(spec.audiences) or (spec.client_id,), username_claim=spec.username_claim,
            username_prefix=spec.username_prefix, groups_claim=spec.groups_claim, groups_prefix=spec.groups_prefix,
            required_claims=tuple((c.name, c.value) for c in spec.required_claims), ca_bundle=spec.ca_bundle,
            jwks_refresh_seconds=float(spec.jwks_refresh_interval_seconds), extra_scopes=tuple(spec.extra_scopes),
        )

    def public(self) -> dict[str, Any]:
        """What `GET /auth/providers` shows: never a client secret; the issuer's CA bundle (public, and
        what a client needs to log in at an issuer with a private CA) as base64 of PEM when there is one."""
        doc: dict[str, Any] = {"name": self.name, "issuerUrl": self.issuer_url, "clientId": self.client_id,
                               "audiences": list(self.audiences), "usernameClaim": self.username_claim,
                               "groupsClaim": self.groups_claim}
        if self.extra_scopes:
            doc["extraScopes"] = list(self.extra_scopes)
        if self.ca_bundle:
            doc["certificateAuthorityData"] = base64.b64encode(self.ca_bundle.encode()).decode()
        return doc


class OidcIssuer:
    """Verifies ID tokens of one provider; keeps its discovery document and keys."""

    def __init__(self, settings: IssuerSettings, clock_skew: float = 30.0) -> None:
        self.settings = settings
        self.clock_skew = min(max(clock_skew, 0.0), MAX_CLOCK_SKEW)
        verify: ssl.SSLContext | bool = True
        if settings.ca_bundle:
            verify = ssl.create_default_context(cadata=settings.ca_bundle)
        self.http = httpx.AsyncClient(verify=verify, timeout=HTTP_TIMEOUT, follow_redirects=False)
        self.jwks_uri = ""
        self.keys: dict[str, jwt.PyJWK] = {}  # kid -> key ("" for keys without a kid)
        self.fetched_at = 0.0  # monotonic time of the last successful JWKS fetch
        self.fetched_wall = 0.0
        self.last_error = ""
        self._last_attempt = 0.0
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self.http.aclose()

    # ---- keys ----
    async def refresh(self, *, force: bool = False) -> None:
        """Discovery and JWKS now (``force``) or when the cache is older than the refresh interval.
        Errors leave the previous keys in place and are kept in ``last_error``."""
        async with self._lock:
            now = time.monotonic()
            fresh = self.keys and now - self.fetched_at < self.settings.jwks_refresh_seconds
            if fresh and not force:
                return
            if force and now - self._last_attempt < KID_REFETCH:
                return
            self._last_attempt = now
            try:
                await self._fetch()
                self.last_error = ""
            except (httpx.HTTPError, ValueError, KeyError, TypeError, jwt.PyJWKError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("OIDC provider %s (%s): %s", self.settings.name, self.settings.issuer_url,
                            self.last_error)

    async def _fetch(self) -> None:
        issuer = self.settings.issuer_url
        resp = await self.http.get(issuer.rstrip("/") + "/.well-known/openid-configuration")
        resp.raise_for_status()
        doc = resp.json()
        if doc.get("issuer") != issuer:
            raise ValueError(f"discovery names issuer {doc.get('issuer')!r}, not {issuer!r}")
        self.jwks_uri = str(doc["jwks_uri"])
        jwks = await self.http.get(self.jwks_uri)
        jwks.raise_for_status()
        keys: dict[str, jwt.PyJWK] = {}
        for entry in jwks.json().get("keys", []):
            if entry.get("use", "sig") != "sig" or entry.get("kty") == "oct":
                continue  # encryption keys, and symmetric keys (never for verifying third-party tokens)
            try:
                keys[str(entry.get("kid", ""))] = jwt.PyJWK(entry)
            except jwt.PyJWKError as exc:
                log.warning("OIDC provider %s: skipping key %s: %s", self.settings.name, entry.get("kid"), exc)
        if not keys:
            raise ValueError("the JWKS has no usable signing key")
        self.keys = keys
        self.fetched_at, self.fetched_wall = time.monotonic(), time.time()

    async def _key_for(self, kid: str | None, alg: str) -> list[jwt.PyJWK]:
        await self.refresh()
        if not self.keys:
            raise AuthnError(Failure.ISSUER_UNAVAILABLE,
                             f"OIDC issuer {self.settings.issuer_url} is unavailable: {self.last_error or 'no keys'}")
        if kid is None:  # no kid: any key of the right type may have signed it
            return [k for k in self.keys.values() if _fits(k, alg)] or list(self.keys.values())
        if kid not in self.keys:
            await self.refresh(force=True)  # a rotated key: look again, at most every KID_REFETCH seconds
        if kid not in self.keys:
            raise AuthnError(Failure.UNKNOWN_KID, f"token signed with unknown key id {kid!r}")
        return [self.keys[kid]]

    # ---- tokens ----
    async def verify(self, token: str, header: Mapping[str, Any]) -> Identity:
        alg = str(header.get("alg", ""))
        if alg.lower() == "none":
            raise AuthnError(Failure.ALG_NONE, "unsigned token (alg none) refused")
        if alg not in ALLOWED_ALGORITHMS:
            raise AuthnError(Failure.ALG_NOT_ALLOWED, f"token algorithm {alg!r} is not allowed")
        kid = header.get("kid")
        claims: dict[str, Any] | None = None
        bad_signature: AuthnError | None = None
        for key in await self._key_for(None if kid is None else str(kid), alg):
            try:
                claims = self._decode(token, key, alg)
                break
            except AuthnError as err:
                if err.reason is not Failure.BAD_SIGNATURE:
                    raise
                bad_signature = err
        if claims is None:
            raise bad_signature or AuthnError(Failure.BAD_SIGNATURE, "token signature does not verify")
        return self.identity(claims)

    def _decode(self, token: str, key: jwt.PyJWK, alg: str) -> dict[str, Any]:
        s = self.settings
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=[alg], audience=list(s.audiences), issuer=s.issuer_url,
                leeway=self.clock_skew, options={"require": ["exp", "iat", "iss", "aud"]},
            )
            return claims
        except jwt.ExpiredSignatureError as exc:
            raise AuthnError(Failure.EXPIRED, "token expired") from exc
        except jwt.ImmatureSignatureError as exc:
            if "iat" in str(exc):
                raise AuthnError(Failure.ISSUED_IN_FUTURE, "token issued in the future (iat)") from exc
            raise AuthnError(Failure.NOT_YET_VALID, "token not yet valid (nbf)") from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthnError(Failure.WRONG_AUDIENCE,
                             f"token audience is not one of {list(s.audiences)} ({exc})") from exc
        except jwt.InvalidIssuerError as exc:
            raise AuthnError(Failure.UNKNOWN_ISSUER, f"token issuer is not {s.issuer_url}") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise AuthnError(Failure.MISSING_CLAIM, f"token lacks the {exc.claim!r} claim") from exc
        except jwt.InvalidSignatureError as exc:
            raise AuthnError(Failure.BAD_SIGNATURE, "token signature does not verify") from exc
        except jwt.InvalidAlgorithmError as exc:
            raise AuthnError(Failure.ALG_NOT_ALLOWED, f"token algorithm refused: {exc}") from exc
        except jwt.DecodeError as exc:
            raise AuthnError(Failure.MALFORMED, f"malformed token: {exc}") from exc
        except (jwt.InvalidTokenError, jwt.InvalidKeyError) as exc:
            raise AuthnError(Failure.INVALID, f"invalid token: {exc}") from exc

    def identity(self, claims: Mapping[str, Any]) -> Identity:
        """Username, groups and the checks on claims, as kube-apiserver's --oidc-* flags define them."""
        s = self.settings
        for name, value in s.required_claims:
            if name not in claims or (value is not None and claims[name] != value):
                wanted = f"{name}={value!r}" if value is not None else name
                raise AuthnError(Failure.REQUIRED_CLAIM, f"token lacks the required claim {wanted}")
        raw = claims.get(s.username_claim)
        if not isinstance(raw, str) or not raw:
            raise AuthnError(Failure.MISSING_CLAIM, f"token has no string {s.username_claim!r} claim (the username)")
        if s.username_claim == "email" and claims.get("email_verified") is False:
            raise AuthnError(Failure.EMAIL_UNVERIFIED, "token's email is not verified (email_verified: false)")
        if s.username_prefix is None:
            prefix = "" if s.username_claim == "email" else f"{s.issuer_url}#"
        else:
            prefix = "" if s.username_prefix == "-" else s.username_prefix
        found = claims.get(s.groups_claim, [])
        values = [found] if isinstance(found, str) else found if isinstance(found, list) else []
        groups = [f"{s.groups_prefix or ''}{g}" for g in values if isinstance(g, str)]
        return Identity(
            username=prefix + raw, groups=tuple(dict.fromkeys([*groups, "system:authenticated"])),
            method=f"oidc:{s.name}", issuer=s.issuer_url, client_id=s.client_id,
        )

    def status(self) -> dict[str, Any]:
        """The OIDCProvider status this issuer warrants now."""
        if self.keys:
            fetched = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.fetched_wall))
            return {"phase": "Ready", "message": f"{len(self.keys)} signing key(s)", "jwksUri": self.jwks_uri,
                    "lastJwksFetch": fetched}
        return {"phase": "Failed", "message": self.last_error or "keys not fetched yet", "jwksUri": self.jwks_uri}


def _fits(key: jwt.PyJWK, alg: str) -> bool:
    kty = getattr(key, "key_type", "")
    return (alg[:2] in ("RS", "PS") and kty == "RSA") or (alg.startswith("ES") and kty == "EC") or (
        alg == "EdDSA" and kty == "OKP")
