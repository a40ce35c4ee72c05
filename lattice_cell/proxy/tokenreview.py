"""ServiceAccount (and other API-server) tokens, checked by the cell's own API server with a
TokenReview that names the audiences the proxy accepts; answers cached briefly (refusals too, for
less time, so a flood of bad tokens does not become a flood of reviews)."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import httpx
from prometheus_client import Counter

from lattice_cell.proxy.identity import AuthnError, Failure, Identity
from lattice_tunnel.kube_api import KubeApi, KubeApiError

CACHE_SECONDS = 10.0
REJECTED_SECONDS = 2.0  # a refused token is refused again without asking (no amplification of floods)
CACHE_ENTRIES = 4096
TOKENREVIEWS = Counter("lattice_api_proxy_tokenreviews_total", "TokenReviews the API proxy sent to its API server "
                       "(cached answers are not counted), by result", ["result"])


class TokenReviewer:
    def __init__(self, kube: KubeApi, audiences: Sequence[str], ttl: float = CACHE_SECONDS,
                 size: int = CACHE_ENTRIES) -> None:
        self.kube = kube
        self.audiences = tuple(audiences)
        self.ttl = ttl
        self.size = size
        self._cache: OrderedDict[bytes, tuple[Identity | AuthnError, float]] = OrderedDict()

    async def review(self, token: str, expires_at: float | None = None) -> Identity:
        """The identity the API server vouches for (``AuthnError`` otherwise). ``expires_at``: the
        token's own expiry when known, which bounds how long the answer is cached."""
        key = hashlib.sha256(token.encode()).digest()
        now = time.time()
        hit = self._cache.get(key)
        if hit is not None:
            if hit[1] > now:
                if isinstance(hit[0], AuthnError):
                    raise AuthnError(hit[0].reason, hit[0].message)
                return hit[0]
            del self._cache[key]
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                "spec": {"token": token, "audiences": list(self.audiences)}}
        try:
            answer = await self.kube.create("authentication.k8s.io/v1", "tokenreviews", body)
        except (KubeApiError, httpx.HTTPError, OSError) as exc:
            TOKENREVIEWS.labels("error").inc()
            raise AuthnError(Failure.TOKENREVIEW_UNAVAILABLE, f"cannot review the token: {exc}") from exc
        try:
            identity = identity_from_review(answer.get("status") or {}, self.audiences)
        except AuthnError as err:
            TOKENREVIEWS.labels("rejected").inc()
            self._remember(key, err, now + REJECTED_SECONDS)
            raise
        TOKENREVIEWS.labels("authenticated").inc()
        self._remember(key, identity, now + self.ttl if expires_at is None else min(now + self.ttl, expires_at))
        return identity

    def _remember(self, key: bytes, answer: Identity | AuthnError, until: float) -> None:
        if until > time.time():
            self._cache[key] = (answer, until)
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)


def identity_from_review(status: dict[str, Any], audiences: Sequence[str]) -> Identity:
    if not status.get("authenticated"):
        error = str(status.get("error") or "token not authenticated")
        reason = Failure.WRONG_AUDIENCE if "audience" in error else Failure.REJECTED
        raise AuthnError(reason, f"token rejected by the API server: {error}")
    granted = status.get("audiences") or []
    if audiences and not set(granted) & set(audiences):
        raise AuthnError(Failure.WRONG_AUDIENCE, f"token audience is not one of {list(audiences)}")
    user = status.get("user") or {}
    username = str(user.get("username") or "")
    if not username:
        raise AuthnError(Failure.REJECTED, "the API server authenticated the token but named no user")
    extra = tuple(sorted((str(k), tuple(str(v) for v in vs)) for k, vs in (user.get("extra") or {}).items()))
    groups = tuple(dict.fromkeys([*(str(g) for g in user.get("groups") or []), "system:authenticated"]))
    return Identity(username=username, groups=groups, uid=str(user.get("uid") or ""), extra=extra,
                    method="serviceaccount" if username.startswith("system:serviceaccount:") else "token")
