"""Who a caller is once a token checked out, why a token did not, and a client refused before its
token is looked at (too many failed authentications)."""

from __future__ import annotations

import enum

import attrs
from prometheus_client import Counter

from lattice_tunnel.kube_request import Extra

AUTHN_FAILURES = Counter("lattice_api_proxy_authn_failures_total",
                         "API proxy requests refused with 401, by reason", ["reason"])
AUTHN_THROTTLED = Counter("lattice_api_proxy_auth_throttled_total",
                          "API proxy requests refused with 429 because their client had too many failed "
                          "authentications (its token was not looked at)")


class Failure(enum.StrEnum):
    """Why a bearer token was refused (the metric's `reason` label)."""

    MISSING = "missing"
    MALFORMED = "malformed"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    ISSUED_IN_FUTURE = "issued_in_future"
    WRONG_AUDIENCE = "wrong_audience"
    UNKNOWN_ISSUER = "unknown_issuer"
    ALG_NONE = "alg_none"
    ALG_NOT_ALLOWED = "alg_not_allowed"
    UNKNOWN_KID = "unknown_kid"
    BAD_SIGNATURE = "bad_signature"
    MISSING_CLAIM = "missing_claim"
    REQUIRED_CLAIM = "required_claim"
    EMAIL_UNVERIFIED = "email_unverified"
    INVALID = "invalid"
    ISSUER_UNAVAILABLE = "issuer_unavailable"
    REJECTED = "rejected"
    TOKENREVIEW_UNAVAILABLE = "tokenreview_unavailable"


class AuthnError(Exception):
    """A refused token: 401 with `message`, counted under `reason`."""

    def __init__(self, reason: Failure, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class Throttled(Exception):
    """A client out of failed-authentication tries: 429 with ``Retry-After``."""

    def __init__(self, client: str, retry_after: float) -> None:
        super().__init__(f"authentication failures of {client} are throttled")
        self.client = client
        self.retry_after = retry_after


@attrs.frozen
class Identity:
    """An authenticated caller, as the target clusters will see it (impersonated)."""

    username: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Extra = ()
    method: str = ""  # "oidc:<OIDCProvider name>" or "serviceaccount"
    issuer: str = ""  # OIDC: the provider's issuer URL
    client_id: str = ""  # OIDC: the provider's client id

    @property
    def service_account(self) -> tuple[str, str] | None:
        """(namespace, name) when this is a ServiceAccount."""
        parts = self.username.split(":")
        if self.method == "serviceaccount" and len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
            return parts[2], parts[3]
        return None
