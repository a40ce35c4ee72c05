"""One-time bootstrap tokens: 32 random bytes, 1 h TTL, stored only as a SHA-256 digest.

A token is issued when a child cluster is registered (by the cluster controller, or
`lattice-cell issue-token`) and is single-use end to end, in two steps:

1. GET .../manifests burns it for the manifests (`used`); a second GET is 410.
2. The first certificate signed for it binds it to that certificate's public key
   (`csr_key_sha256`). A CSR for another key with the same token is 410; only the same key may be
   signed again (the agent's retry after a lost answer gains nothing it did not have).

Expired, the token is good for nothing (401). Records live in a `TokenStore`; the Secret-backed
one (`lattice-bootstrap-<cluster>`) holds only the digest and uses resourceVersion preconditions,
so two concurrent requests cannot both win a step and a cell restart forgets nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Protocol

import attrs

from lattice_tunnel import pki
from lattice_tunnel.kube_api import KubeApi, KubeApiError

TOKEN_TTL = 3600.0
CLUSTER_LABEL = "lattice.dev/cluster"


class BootstrapError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@attrs.frozen
class BootstrapRecord:
    cluster: str
    token_sha256: str
    expires_at: float
    used: bool = False  # the manifests were served
    used_at: float = 0.0
    csr_key_sha256: str = ""  # the public key the token's certificate was signed for
    csr_at: float = 0.0
    version: str = ""  # the store's concurrency token


class TokenStore(Protocol):
    async def get(self, cluster: str) -> BootstrapRecord | None: ...

    async def clusters(self) -> set[str]:
        """Every cluster with a bootstrap record (registered here as a direct child)."""
        ...

    async def put(self, record: BootstrapRecord) -> bool:
        """Write `record` if the stored version still equals `record.version` ('' = absent).
        False on a concurrent write."""
        ...


@attrs.define
class MemoryTokenStore:
    records: dict[str, BootstrapRecord] = attrs.field(factory=dict)

    async def get(self, cluster: str) -> BootstrapRecord | None:
        return self.records.get(cluster)

    async def clusters(self) -> set[str]:
        return set(self.records)

    async def put(self, record: BootstrapRecord) -> bool:
        current = self.records.get(record.cluster)
        if (current.version if current else "") != record.version:
            return False
        self.records[record.cluster] = attrs.evolve(record, version=str(int(record.version or 0) + 1))
        return True


@attrs.define
class SecretTokenStore:
    client: KubeApi
    namespace: str = "lattice-system"

    def _name(self, cluster: str) -> str:
        return f"lattice-bootstrap-{cluster}"

    async def clusters(self) -> set[str]:
        labels = await self.client.secret_labels(self.namespace, CLUSTER_LABEL)
        return {found[CLUSTER_LABEL] for found in labels if found.get(CLUSTER_LABEL)}

    async def get(self, cluster: str) -> BootstrapRecord | None:
        found = await self.client.get_secret(self.namespace, self._name(cluster))
        if found is None:
            return None
        data, version = found
        return BootstrapRecord(
            cluster=cluster, token_sha256=data.get("token-sha256", b"").decode(),
            expires_at=float(data.get("expires-at", b"0")), used=data.get("used") == b"true",
            used_at=float(data.get("used-at", b"0")), csr_key_sha256=data.get("csr-key-sha256", b"").decode(),
            csr_at=float(data.get("csr-at", b"0")), version=version,
        )

    async def put(self, record: BootstrapRecord) -> bool:
        data = {
            "cluster": record.cluster.encode(), "token-sha256": record.token_sha256.encode(),
            "expires-at": repr(record.expires_at).encode(), "used": b"true" if record.used else b"false",
            "used-at": repr(record.used_at).encode(), "csr-key-sha256": record.csr_key_sha256.encode(),
            "csr-at": repr(record.csr_at).encode(),
        }
        try:
            if not record.version:
                await self.client.ensure_namespace(self.namespace)
            await self.client.put_secret(self.namespace, self._name(record.cluster), data,
                                         resource_version=record.version or None,
                                         labels={CLUSTER_LABEL: record.cluster})
        except KubeApiError as exc:
            if exc.status == 409:
                return False
            raise
        return True


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(store: TokenStore, cluster: str, ttl: float = TOKEN_TTL, now: float | None = None) -> str:
    """Register `cluster` with a fresh token (replacing any previous one) and return it."""
    pki.validate_cluster_name(cluster)
    token = secrets.token_urlsafe(32)
    now = time.time() if now is None else now
    current = await store.get(cluster)
    record = BootstrapRecord(cluster, _digest(token), now + ttl, version=current.version if current else "")
    if not await store.put(record):
        raise BootstrapError(409, f"bootstrap record for {cluster!r} changed concurrently; retry")
    return token


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise BootstrapError(401, "missing authorization header")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise BootstrapError(401, "invalid or expired token")
    return token.strip()


def _matches(record: BootstrapRecord, token: str) -> bool:
    return hmac.compare_digest(_digest(token).encode(), record.token_sha256.encode())


async def _record(store: TokenStore, cluster: str) -> BootstrapRecord:
    record = await store.get(cluster)
    if record is None:
        raise BootstrapError(404, f"unknown cluster {cluster!r}")
    return record


async def check_for_manifests(store: TokenStore, cluster: str, authorization: str | None,
                              now: float | None = None) -> BootstrapRecord:
    """Validate without burning. 401 missing/wrong/expired, 404 unknown cluster, 410 replay."""
    token = _bearer(authorization)
    now = time.time() if now is None else now
    record = await _record(store, cluster)
    if not _matches(record, token):
        raise BootstrapError(401, "invalid or expired token")
    if record.used:
        raise BootstrapError(410, "token already used")
    if now >= record.expires_at:
        raise BootstrapError(401, "invalid or expired token")
    return record


async def burn(store: TokenStore, record: BootstrapRecord, now: float | None = None) -> None:
    """Mark a checked token used; only one of several concurrent requests can win."""
    now = time.time() if now is None else now
    if not await store.put(attrs.evolve(record, used=True, used_at=now)):
        raise BootstrapError(410, "token already used")


async def consume_for_manifests(store: TokenStore, cluster: str, authorization: str | None,
                                now: float | None = None) -> BootstrapRecord:
    record = await check_for_manifests(store, cluster, authorization, now)
    await burn(store, record, now)
    return record


async def authorize_csr(store: TokenStore, cluster: str, authorization: str | None,
                        now: float | None = None) -> BootstrapRecord:
    """The CSR needs the same (unexpired) token, and only after the manifests were fetched.
    Whether the token is still free for the CSR's key is `bind_csr`'s decision."""
    token = _bearer(authorization)
    now = time.time() if now is None else now
    record = await _record(store, cluster)
    if not _matches(record, token) or now >= record.expires_at:
        raise BootstrapError(401, "invalid or expired token")
    if not record.used:
        raise BootstrapError(412, f"cluster {cluster!r} not bootstrapped: fetch its manifests first")
    return record


CSR_REUSED = ("token already used for another key's certificate; "
              "register the cluster again (lattice-cell issue-token) for a new one")


async def bind_csr(store: TokenStore, record: BootstrapRecord, key_sha256: str, now: float | None = None) -> None:
    """Spend an authorized token on the certificate for `key_sha256`: the first key wins, once
    (compare-and-set on the record); any other key, then or later, is 410."""
    now = time.time() if now is None else now
    for _ in range(3):
        if record.csr_key_sha256:
            if hmac.compare_digest(record.csr_key_sha256, key_sha256):
                return  # the same key again: a retry after a lost answer
            raise BootstrapError(410, CSR_REUSED)
        if await store.put(attrs.evolve(record, csr_key_sha256=key_sha256, csr_at=now)):
            return
        fresh = await store.get(record.cluster)  # someone wrote first: who?
        if fresh is None or fresh.token_sha256 != record.token_sha256:
            raise BootstrapError(410, CSR_REUSED)
        record = fresh
    raise BootstrapError(409, f"bootstrap record for {record.cluster!r} keeps changing; retry")
