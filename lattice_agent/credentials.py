"""Where an agent finds its parent and its identity.

Parent config: Secret lattice-system/lattice-parent-config (written by the bootstrap manifests)
or a directory with the same keys as files. Credentials: Secret lattice-agent-credentials
(kubernetes.io/tls) or files in that directory; when absent the agent creates a key locally,
sends only a CSR to the parent's bootstrap webhook, and stores the signed result. Once it holds
credentials, the bootstrap token is deleted from the parent config: it is spent, and a secret
that opens nothing should not lie around either.
"""

from __future__ import annotations

import logging
from pathlib import Path

import attrs
import httpx

from lattice_tunnel import pki
from lattice_tunnel.kube_api import KubeApi
from lattice_tunnel.parent_config import NAMESPACE, PARENT_CONFIG_SECRET, ParentConfig

AGENT_CREDENTIALS_SECRET = "lattice-agent-credentials"
TOKEN_KEY = "token"
CSR_ATTEMPTS = 3

log = logging.getLogger(__name__)


class CredentialsError(Exception):
    pass


def _read_dir(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()} if directory.is_dir() else {}


async def load_parent_config(kube: KubeApi | None, directory: Path | None = None) -> ParentConfig | None:
    """None when this cluster has no parent (a root cell)."""
    if directory is not None:
        data = _read_dir(directory)
        return ParentConfig.from_data(data, str(directory)) if data else None
    if kube is None:
        return None
    found = await kube.get_secret(NAMESPACE, PARENT_CONFIG_SECRET)
    return ParentConfig.from_data(found[0], f"Secret {NAMESPACE}/{PARENT_CONFIG_SECRET}") if found else None


@attrs.frozen
class Credentials:
    cert_pem: bytes
    key_pem: bytes = attrs.field(repr=False)
    ca_pem: bytes


class CredentialStore:
    def __init__(self, kube: KubeApi | None, directory: Path | None = None) -> None:
        self.kube = kube
        self.directory = directory

    async def load(self) -> Credentials | None:
        if self.directory is not None:
            data = _read_dir(self.directory)
        elif self.kube is not None:
            found = await self.kube.get_secret(NAMESPACE, AGENT_CREDENTIALS_SECRET)
            data = found[0] if found else {}
        else:
            data = {}
        if not {"tls.crt", "tls.key", "ca.crt"} <= data.keys():
            return None
        return Credentials(data["tls.crt"], data["tls.key"], data["ca.crt"])

    async def save(self, cert_pem: bytes, key_pem: bytes, ca_pem: bytes) -> None:
        data = {"tls.crt": cert_pem, "tls.key": key_pem, "ca.crt": ca_pem}
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            for name, value in data.items():
                path = self.directory / name
                path.touch(mode=0o600)
                path.write_bytes(value)
        elif self.kube is not None:
            await self.kube.ensure_namespace(NAMESPACE)
            await self.kube.put_secret(NAMESPACE, AGENT_CREDENTIALS_SECRET, data, secret_type="kubernetes.io/tls")


async def request_certificate(parent: ParentConfig, timeout: float = 30.0) -> Credentials:
    """Generate a key here and have the parent sign a CSR for it (bootstrap token required)."""
    if not parent.bootstrap_url or not parent.token:
        raise CredentialsError("no stored credentials and the parent config has no bootstrap URL/token to get some")
    csr_pem, key_pem = pki.generate_agent_csr(parent.cluster)
    ctx = pki.client_ssl_context(parent.ca_pem)
    async with httpx.AsyncClient(verify=ctx, timeout=timeout) as http:
        for attempt in range(CSR_ATTEMPTS):
            # The same key on every attempt: the token is bound to the first key the cell signs,
            # so only a retry of this very CSR can recover an answer lost on the way back.
            try:
                resp = await http.post(f"{parent.bootstrap_url}/api/clusters/{parent.cluster}/csr",
                                       json={"csr_pem": csr_pem.decode()},
                                       headers={"Authorization": f"Bearer {parent.token}"})
                break
            except httpx.TransportError as exc:
                if attempt == CSR_ATTEMPTS - 1:
                    raise CredentialsError(f"parent bootstrap webhook unreachable: {exc}") from exc
                log.warning("CSR for %s failed (%s); retrying with the same key", parent.cluster, exc)
    if resp.status_code != 200:
        try:
            detail = resp.json().get("error", resp.text)
        except ValueError:
            detail = resp.text
        raise CredentialsError(f"parent refused the CSR for {parent.cluster!r}: HTTP {resp.status_code}: {detail}")
    body = resp.json()
    return Credentials(body["certificate_pem"].encode(), key_pem, body["ca_certificate_pem"].encode())


async def obtain(store: CredentialStore, parent: ParentConfig) -> Credentials:
    creds = await store.load()
    if creds is not None:
        if pki.cluster_from_certificate(creds.cert_pem) != parent.cluster:
            raise CredentialsError(f"stored credentials are for another cluster than {parent.cluster!r}")
        return creds
    creds = await request_certificate(parent)
    await store.save(creds.cert_pem, creds.key_pem, creds.ca_pem)
    return creds


async def forget_bootstrap_token(kube: KubeApi | None, directory: Path | None = None) -> None:
    """Delete the spent bootstrap token from the parent config (Secret key, or the file in
    `directory`; a read-only mount keeps it, which is logged)."""
    if directory is not None:
        path = directory / TOKEN_KEY
        if path.exists():
            try:
                path.unlink()
            except OSError as exc:
                log.info("cannot delete the spent bootstrap token file %s: %s", path, exc)
        return
    if kube is not None:
        await kube.drop_secret_keys(NAMESPACE, PARENT_CONFIG_SECRET, [TOKEN_KEY])
        log.info("deleted the spent bootstrap token from Secret %s/%s", NAMESPACE, PARENT_CONFIG_SECRET)
