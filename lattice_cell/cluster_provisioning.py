"""The cell's part in provisioning child clusters: what the LatticeCluster hook may not do because it
involves secret values (docs/cluster-lifecycle.md).

The hook publishes in each LatticeCluster's status what the cluster needs from the cell, and this
loop (every ``interval`` seconds, on kr8s through ``KubeApi``) supplies it:

* ``status.bootstrapSecret``: the Secret in ``capi-<name>`` that the control plane's bootstrap
  files read (keys ``url``, ``ca.crt``, ``token``; the same shape as
  ``hooks.cluster.bootstrap_secret``). The token is minted in the cell's token store (one-time,
  hashed at rest); a token that expired unused is replaced; once the store says it was spent (the
  manifests were served or its certificate was signed) the Secret keeps its place — later
  control-plane machines still read it — but the token becomes empty, which the install script
  takes as "already bootstrapped".
* ``status.credentialCopies``: provider credentials copied from ``lattice-system`` to where Cluster
  API reads them (``capi-<name>``, or CAPA's namespace), with the non-secret ``literals`` added. A
  copy in ``capi-<name>`` goes with that namespace; one elsewhere carries an owner reference to its
  LatticeCluster, so the garbage collector deletes it with the cluster (the cell lists no Secrets
  outside its own namespace).
* every CloudProvider in lattice-system: whether its credentials Secret exists and which keys it has
  (names only) goes into its ``lattice.dev/credentials-observed`` annotation, from which the
  CloudProvider hook reports readiness.

Status stays the hook's: this loop never writes a LatticeCluster or CloudProvider status. Every
Secret it writes is in a namespace the LatticeCluster controller granted it (``lattice_cell.rbac``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs

import crds
from crds.agent_lease import parse_time as _epoch
from crds.cloud_provider import CREDENTIALS_OBSERVED_ANNOTATION, CredentialsObservation
from lattice_cell.bootstrap_tokens import TOKEN_TTL, BootstrapRecord, TokenStore, issue_token
from lattice_tunnel.kube_api import KubeApi, KubeApiError

log = logging.getLogger(__name__)

PROVIDER_NAMESPACE = "lattice-system"
NAMESPACE_PREFIX = "capi-"
CLUSTER_LABEL = "lattice.dev/cluster"
CAPI_CLUSTER_LABEL = "cluster.x-k8s.io/cluster-name"  # so a move carries the Secret with its Cluster
COPY_LABEL = "lattice.dev/credentials-copy"
SPENT = b""  # the token value once used: the install script exits "already bootstrapped"
RESCAN_EVERY = 12  # rounds between full passes that forget what was already done


@attrs.frozen
class BootstrapEndpoint:
    """Where a new cluster's installer reaches this cell: its bootstrap URL and CA trust bundle."""

    url: str
    ca_pem: bytes


def bootstrap_data(endpoint: BootstrapEndpoint, token: bytes) -> dict[str, bytes]:
    """The bootstrap Secret's data (``hooks.cluster.agent.KEYS``)."""
    return {"url": endpoint.url.rstrip("/").encode(), "ca.crt": endpoint.ca_pem, "token": token}


def spent(record: BootstrapRecord | None) -> bool:
    """The token did its work: the manifests were served, or a certificate was signed for it."""
    return record is not None and (record.used or bool(getattr(record, "csr_key_sha256", "")))


def older_than(record: BootstrapRecord | None, created: float | None) -> bool:
    """The record was issued before this LatticeCluster existed: it belongs to an earlier cluster of
    the same name (records outlive their clusters), so it says nothing about this one."""
    return record is not None and created is not None and record.expires_at - TOKEN_TTL < created - 1.0


def _digest(token: bytes) -> str:
    return hashlib.sha256(token).hexdigest()


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _rfc3339(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@attrs.define
class Report:
    """What one pass did (for logs, metrics and tests)."""

    tokens_issued: list[str] = attrs.field(factory=list)
    tokens_spent: list[str] = attrs.field(factory=list)
    secrets_written: list[str] = attrs.field(factory=list)
    providers_observed: list[str] = attrs.field(factory=list)
    skipped: list[str] = attrs.field(factory=list)


class ClusterProvisioning:
    def __init__(self, kube: KubeApi, tokens: TokenStore, endpoint: Callable[[], BootstrapEndpoint], *,
                 interval: float = 5.0, clock: Callable[[], float] = time.time) -> None:
        self.kube = kube
        self.tokens = tokens
        self.endpoint = endpoint
        self.interval = interval
        self.clock = clock
        # (name, uid) of clusters whose bootstrap Secret holds the spent marker: by uid, so a new cluster
        # of a deleted one's name is bootstrapped at once, not after the next rescan.
        self._done: set[tuple[str, str]] = set()
        self._copied: dict[str, tuple[str, str]] = {}  # target -> (source resourceVersion, literals digest)
        self._rounds = 0
        self._wake = asyncio.Event()

    async def run(self) -> None:
        while True:
            try:
                report = await self.reconcile_once()
                if report.tokens_issued or report.tokens_spent:
                    log.info("cluster provisioning: %s", attrs.asdict(report))
            except (KubeApiError, OSError) as exc:
                log.warning("cluster provisioning pass failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()

    def poke(self) -> None:
        """Run the next pass now (e.g. the bootstrap webhook just spent a token)."""
        self._wake.set()

    async def reconcile_once(self) -> Report:
        report = Report()
        self._rounds += 1
        if self._rounds % RESCAN_EVERY == 0:
            self._done.clear()
            self._copied.clear()
        clusters = await self.kube.list_cluster_objects(crds.API_VERSION, "latticeclusters")
        if clusters is None:  # the CRD is not installed here
            return report
        for cluster in clusters:
            name = str(_get(cluster, "metadata", "name"))
            status = cluster.get("status") or {}
            try:
                await self._cluster(cluster, name, status, report)
            except KubeApiError as exc:
                if exc.status != 403:
                    raise
                # Metacontroller updates a parent's status before it creates the children, so the
                # RoleBinding that grants this cell its Secrets there can come a moment after the ask.
                # One cluster waiting for its rights never holds up the others.
                report.skipped.append(f"{name}: no rights yet ({exc}); the next pass retries")
        await self._observe_providers(report)
        return report

    async def _cluster(self, cluster: Mapping[str, Any], name: str, status: Mapping[str, Any],
                       report: Report) -> None:
        uid = str(_get(cluster, "metadata", "uid") or "")
        secret = status.get("bootstrapSecret")
        if isinstance(secret, str) and secret and not _get(cluster, "metadata", "deletionTimestamp"):
            await self._bootstrap(name, uid, secret, _epoch(_get(cluster, "metadata", "creationTimestamp")), report)
        for copy in status.get("credentialCopies") or []:
            await self._copy(name, uid, copy, report)

    # ---- the agent's one-time token ------------------------------------------------------------

    async def _bootstrap(self, cluster: str, uid: str, secret: str, created: float | None, report: Report) -> None:
        if (cluster, uid) in self._done:
            return
        namespace = NAMESPACE_PREFIX + cluster
        if not await self.kube.namespace_active(namespace):  # the hook creates it; not there yet
            report.skipped.append(f"{namespace}/{secret}: namespace not there yet")
            return
        current = await self.kube.get_secret(namespace, secret)
        record = await self.tokens.get(cluster)
        if older_than(record, created):
            record = None
        now = self.clock()
        have = current[0].get("token") if current else None
        if spent(record):
            token = SPENT
            if have != SPENT:
                report.tokens_spent.append(cluster)
        elif (have and record is not None and _digest(have) == record.token_sha256
              and now < record.expires_at):
            token = have
        else:
            token = (await issue_token(self.tokens, cluster, now=now)).encode()
            report.tokens_issued.append(cluster)
        data = bootstrap_data(self.endpoint(), token)
        if current is None or current[0] != data:
            labels = {CLUSTER_LABEL: cluster, CAPI_CLUSTER_LABEL: cluster}
            await self.kube.put_secret(namespace, secret, data, resource_version=current[1] if current else None,
                                       labels=labels)
            report.secrets_written.append(f"{namespace}/{secret}")
        if token == SPENT:
            self._done.add((cluster, uid))

    # ---- provider credentials ------------------------------------------------------------------

    async def _copy(self, cluster: str, uid: str, copy: Mapping[str, Any], report: Report) -> None:
        source, target = copy.get("source") or {}, copy.get("target") or {}
        src_ns, src_name = source.get("namespace") or PROVIDER_NAMESPACE, source.get("name")
        dst_ns, dst_name = target.get("namespace") or PROVIDER_NAMESPACE, target.get("name")
        where = f"{dst_ns}/{dst_name}"
        if src_ns != PROVIDER_NAMESPACE or not src_name or not dst_name:
            report.skipped.append(f"{where}: only Secrets of {PROVIDER_NAMESPACE} are copied")
            return
        found = await self.kube.get_secret(src_ns, src_name)
        if found is None:  # the CloudProvider reports it (see _observe_providers)
            report.skipped.append(f"{where}: {src_ns}/{src_name} not found")
            return
        values, version = found
        literals = {str(k): str(v).encode() for k, v in (copy.get("literals") or {}).items()}
        stamp = (version, hashlib.sha256(repr(sorted(literals.items())).encode()).hexdigest())
        if self._copied.get(where) == stamp:
            return
        data = {**values, **literals}
        current = await self.kube.get_secret(dst_ns, dst_name)
        if current is None or current[0] != data:
            labels = {CLUSTER_LABEL: cluster, COPY_LABEL: "true"}
            owners = None
            if dst_ns == NAMESPACE_PREFIX + cluster:
                labels[CAPI_CLUSTER_LABEL] = cluster
            elif uid:  # outlives no cluster: the garbage collector deletes it with the LatticeCluster
                owners = [{"apiVersion": crds.API_VERSION, "kind": "LatticeCluster", "name": cluster, "uid": uid}]
            try:
                await self.kube.put_secret(dst_ns, dst_name, data, resource_version=current[1] if current else None,
                                           labels=labels, owner_references=owners)
            except KubeApiError as exc:
                if exc.status != 404:  # 404: its namespace is not there (yet)
                    raise
                report.skipped.append(f"{where}: namespace {dst_ns} not found")
                return
            report.secrets_written.append(where)
        self._copied[where] = stamp

    # ---- CloudProviders -----------------------------------------------------------------------

    async def _observe_providers(self, report: Report) -> None:
        providers = await self.kube.list_objects(crds.API_VERSION, "cloudproviders", PROVIDER_NAMESPACE) or []
        for provider in providers:
            ref = _get(provider, "spec", "credentialsSecretRef")
            if not isinstance(ref, Mapping) or not ref.get("name"):
                continue
            namespace = ref.get("namespace") or PROVIDER_NAMESPACE
            if namespace != PROVIDER_NAMESPACE:
                continue  # the hook reports it; this cell does not look elsewhere
            found = await self.kube.get_secret(namespace, str(ref["name"]))
            seen = CredentialsObservation(secret=f"{namespace}/{ref['name']}", exists=found is not None,
                                          keys=tuple(sorted(found[0])) if found else (),
                                          observed_at=_rfc3339(self.clock()))
            before = CredentialsObservation.from_annotations(_get(provider, "metadata", "annotations") or {})
            if seen.same_facts(before):
                continue
            name = str(_get(provider, "metadata", "name"))
            await self.kube.merge_patch_annotations(crds.API_VERSION, "cloudproviders", PROVIDER_NAMESPACE, name,
                                                    {CREDENTIALS_OBSERVED_ANNOTATION: seen.to_annotation()})
            report.providers_observed.append(name)
