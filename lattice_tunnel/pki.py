"""The cell's PKI: CA (ECDSA P-256), trust bundle across rotations, server/client leaves, agent CSRs.

Everything X.509 goes through `cryptography`. Identities are bound by the issuer: an agent's CSR
only contributes its public key; subject and SANs are always `lattice-agent-<cluster>` whatever
the CSR asked for. Persistence is pluggable (`CaStorage`) so this module does no I/O of its own
beyond the optional storage object handed in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import ssl
import tempfile
from collections.abc import Iterable, Sequence
from ipaddress import ip_address
from pathlib import Path
from typing import Protocol

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_VALIDITY = dt.timedelta(days=3650)
LEAF_VALIDITY = dt.timedelta(days=365)
ROTATE_AT = 0.8  # fraction of a CA's lifetime after which a new signer takes over
ORGANIZATION = "Lattice"
AGENT_PREFIX = "lattice-agent-"
AGENT_SERVICE_SANS = ("lattice-agent.lattice-system.svc", "lattice-agent.lattice-system.svc.cluster.local")
DEFAULT_SERVER_SANS = (
    "localhost",
    "127.0.0.1",
    "host.docker.internal",
    "host.containers.internal",
    "lattice-cell.lattice-system.svc",
    "lattice-cell.lattice-system.svc.cluster.local",
)
_CLUSTER_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_CLOCK_SKEW = dt.timedelta(minutes=5)

PrivateKey = ec.EllipticCurvePrivateKey


class PkiError(Exception):
    """Base of every PKI failure; the message says what is wrong."""


class CsrError(PkiError):
    """A certificate signing request that cannot be signed (malformed, bad signature, weak key)."""


class IdentityError(PkiError):
    """A certificate that does not carry a valid, consistent agent identity."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def validate_cluster_name(name: str) -> str:
    if not _CLUSTER_NAME.match(name):
        raise PkiError(f"invalid cluster name {name!r}: must be a DNS label ([a-z0-9-], at most 63 characters)")
    return name


def agent_common_name(cluster: str) -> str:
    return AGENT_PREFIX + validate_cluster_name(cluster)


def new_key() -> PrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def load_certs(pem: bytes) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise PkiError(f"cannot parse PEM certificates: {exc}") from exc


def load_key(pem: bytes) -> PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError("CA key must be an ECDSA key")
    return key


@attrs.frozen
class CaKeyPair:
    cert: x509.Certificate
    key: PrivateKey

    @property
    def cert_pem(self) -> bytes:
        return cert_pem(self.cert)

    def expires(self) -> dt.datetime:
        return self.cert.not_valid_after_utc

    def rotation_due(self, now: dt.datetime) -> dt.datetime:
        start, end = self.cert.not_valid_before_utc, self.cert.not_valid_after_utc
        return start + (end - start) * ROTATE_AT


def _ski(public_key: ec.EllipticCurvePublicKey) -> x509.SubjectKeyIdentifier:
    return x509.SubjectKeyIdentifier.from_public_key(public_key)


def _ca_builder(subject: x509.Name, public_key: ec.EllipticCurvePublicKey, now: dt.datetime,
                validity: dt.timedelta) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(_ski(public_key), critical=False)
    )


def generate_ca(now: dt.datetime | None = None, validity: dt.timedelta = CA_VALIDITY,
                generation: int = 1) -> CaKeyPair:
    """A self-signed CA. `generation` goes into the CN so rotated CAs have distinct subjects."""
    now = now or _now()
    key = new_key()
    subject = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
        x509.NameAttribute(NameOID.COMMON_NAME, f"Lattice CA g{generation}"),
    ])
    builder = _ca_builder(subject, key.public_key(), now, validity).issuer_name(subject)
    return CaKeyPair(builder.sign(key, hashes.SHA256()), key)


def cross_sign(new: CaKeyPair, old: CaKeyPair, now: dt.datetime | None = None) -> x509.Certificate:
    """`new`'s subject and key, issued by `old`: clients that only trust `old` can still verify
    leaves signed by `new` when servers send this as an intermediate."""
    now = now or _now()
    validity = min(old.expires(), new.expires()) - now
    builder = (
        _ca_builder(new.cert.subject, new.cert.public_key(), now, validity)  # type: ignore[arg-type]
        .issuer_name(old.cert.subject)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(old.key.public_key()), critical=False
        )
    )
    return builder.sign(old.key, hashes.SHA256())


def _generation(ca: CaKeyPair) -> int:
    cn = ca.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    match = re.search(r" g(\d+)$", str(cn[0].value)) if cn else None
    return int(match.group(1)) if match else 1


@attrs.frozen
class CaBundle:
    """The current signer plus retired CAs that stay trusted until they expire."""

    signer: CaKeyPair
    retired: tuple[x509.Certificate, ...] = ()
    cross_signed: x509.Certificate | None = None  # signer issued by the newest retired CA

    def trusted(self, now: dt.datetime | None = None) -> list[x509.Certificate]:
        now = now or _now()
        return [self.signer.cert, *(c for c in self.retired if c.not_valid_after_utc > now)]

    def trust_pem(self, now: dt.datetime | None = None) -> bytes:
        return b"".join(cert_pem(c) for c in self.trusted(now))

    def chain_extra(self, now: dt.datetime | None = None) -> list[x509.Certificate]:
        """Intermediates to send after a leaf so pre-rotation clients can build a path."""
        now = now or _now()
        if self.cross_signed is not None and self.cross_signed.not_valid_after_utc > now:
            return [self.cross_signed]
        return []

    def rotation_due(self, now: dt.datetime | None = None) -> bool:
        return (now or _now()) >= self.signer.rotation_due(now or _now())

    def rotated(self, now: dt.datetime | None = None) -> CaBundle:
        now = now or _now()
        new = generate_ca(now, generation=_generation(self.signer) + 1)
        retired = tuple(c for c in (self.signer.cert, *self.retired) if c.not_valid_after_utc > now)
        return CaBundle(new, retired, cross_sign(new, self.signer, now))

    def to_data(self) -> dict[str, bytes]:
        data = {
            "ca.crt": self.signer.cert_pem,
            "ca.key": key_pem(self.signer.key),
            "ca-trust.crt": b"".join(cert_pem(c) for c in (self.signer.cert, *self.retired)),
        }
        if self.cross_signed is not None:
            data["ca-cross.crt"] = cert_pem(self.cross_signed)
        return data

    @classmethod
    def from_data(cls, data: dict[str, bytes]) -> CaBundle:
        missing = {"ca.crt", "ca.key"} - data.keys()
        if missing:
            raise PkiError(f"CA data lacks {', '.join(sorted(missing))}")
        signer = CaKeyPair(load_certs(data["ca.crt"])[0], load_key(data["ca.key"]))
        trust = load_certs(data["ca-trust.crt"]) if data.get("ca-trust.crt") else []
        retired = tuple(c for c in trust if c.fingerprint(hashes.SHA256()) != signer.cert.fingerprint(hashes.SHA256()))
        cross = load_certs(data["ca-cross.crt"])[0] if data.get("ca-cross.crt") else None
        return cls(signer, retired, cross)


class CaStorage(Protocol):
    """Where the CA lives between restarts (a Kubernetes Secret in production)."""

    async def load(self) -> dict[str, bytes] | None: ...

    async def save(self, data: dict[str, bytes]) -> None: ...


@attrs.define
class MemoryCaStorage:
    data: dict[str, bytes] | None = None

    async def load(self) -> dict[str, bytes] | None:
        return dict(self.data) if self.data is not None else None

    async def save(self, data: dict[str, bytes]) -> None:
        self.data = dict(data)


async def load_or_create_ca(storage: CaStorage, now: dt.datetime | None = None) -> tuple[CaBundle, bool]:
    """Load the CA, creating or rotating it as needed. Returns (bundle, changed)."""
    now = now or _now()
    data = await storage.load()
    if data is None:
        bundle = CaBundle(generate_ca(now))
        await storage.save(bundle.to_data())
        return bundle, True
    bundle = CaBundle.from_data(data)
    if bundle.rotation_due(now):
        bundle = bundle.rotated(now)
        await storage.save(bundle.to_data())
        return bundle, True
    return bundle, False


@attrs.frozen
class LeafCredentials:
    cert_pem: bytes
    key_pem: bytes
    chain_pem: bytes  # leaf followed by any intermediates; what a server should present


def _san_entries(names: Iterable[str]) -> list[x509.GeneralName]:
    entries: list[x509.GeneralName] = []
    for name in dict.fromkeys(names):  # keep order, drop duplicates
        try:
            entries.append(x509.IPAddress(ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return entries


def _leaf(bundle: CaBundle, public_key: object, common_name: str, sans: Sequence[str],
          usages: Sequence[x509.ObjectIdentifier], now: dt.datetime, validity: dt.timedelta) -> x509.Certificate:
    ca = bundle.signer
    not_after = min(now + validity, ca.expires())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]))
        .issuer_name(ca.cert.subject)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(_san_entries(sans)), critical=False)
    return builder.sign(ca.key, hashes.SHA256())


def _chain(bundle: CaBundle, leaf: x509.Certificate, now: dt.datetime) -> bytes:
    return cert_pem(leaf) + b"".join(cert_pem(c) for c in bundle.chain_extra(now))


def issue_server_certificate(bundle: CaBundle, sans: Sequence[str] = DEFAULT_SERVER_SANS,
                             extra_sans: Sequence[str] = (), common_name: str = "Lattice Server",
                             now: dt.datetime | None = None,
                             validity: dt.timedelta = LEAF_VALIDITY) -> LeafCredentials:
    """A serving certificate (serverAuth) for the cell's gRPC, bootstrap and proxy endpoints."""
    now = now or _now()
    key = new_key()
    leaf = _leaf(bundle, key.public_key(), common_name, [*sans, *extra_sans],
                 [ExtendedKeyUsageOID.SERVER_AUTH], now, validity)
    return LeafCredentials(cert_pem(leaf), key_pem(key), _chain(bundle, leaf, now))


def issue_client_certificate(bundle: CaBundle, common_name: str, sans: Sequence[str] = (),
                             now: dt.datetime | None = None,
                             validity: dt.timedelta = LEAF_VALIDITY) -> LeafCredentials:
    """A clientAuth certificate, e.g. for callers of the read-only CAPI proxy."""
    now = now or _now()
    key = new_key()
    leaf = _leaf(bundle, key.public_key(), common_name, sans or [common_name],
                 [ExtendedKeyUsageOID.CLIENT_AUTH], now, validity)
    return LeafCredentials(cert_pem(leaf), key_pem(key), _chain(bundle, leaf, now))


def generate_agent_csr(cluster: str, key: PrivateKey | None = None) -> tuple[bytes, bytes]:
    """(csr_pem, key_pem) for an agent; the private key never leaves the child."""
    key = key or new_key()
    cn = agent_common_name(cluster)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM), key_pem(key)


def _check_public_key(key: object) -> None:
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.key_size < 256:
            raise CsrError(f"EC key on {key.curve.name} is too weak; use P-256 or stronger")
    elif isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise CsrError(f"RSA key of {key.key_size} bits is too weak; use at least 2048")
    elif not isinstance(key, ed25519.Ed25519PublicKey):
        raise CsrError(f"unsupported public key type {type(key).__name__}")


def sign_agent_csr(bundle: CaBundle, csr_pem: bytes, cluster: str, now: dt.datetime | None = None,
                   validity: dt.timedelta = LEAF_VALIDITY) -> bytes:
    """Sign an agent CSR for `cluster`. Only the CSR's public key is used: subject and SANs are
    set to `lattice-agent-<cluster>` here, so a CSR asking for another identity gains nothing."""
    now = now or _now()
    cn = agent_common_name(cluster)
    try:
        csr = x509.load_pem_x509_csr(csr_pem)
    except ValueError as exc:
        raise CsrError(f"malformed CSR: {exc}") from exc
    if not csr.is_signature_valid:
        raise CsrError("CSR signature does not verify (proof of key possession failed)")
    public_key = csr.public_key()
    _check_public_key(public_key)
    leaf = _leaf(bundle, public_key, cn, [cn, *AGENT_SERVICE_SANS],
                 [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH], now, validity)
    return cert_pem(leaf)


def cluster_from_certificate(pem: bytes) -> str:
    """The cluster an agent certificate speaks for: CN `lattice-agent-<cluster>`, and the same
    name among the DNS SANs. Anything else is not an agent identity."""
    cert = load_certs(pem)[0]
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(cns) != 1:
        raise IdentityError(f"certificate has {len(cns)} common names; an agent certificate has exactly one")
    cn = str(cns[0].value)
    if not cn.startswith(AGENT_PREFIX):
        raise IdentityError(f"certificate CN {cn!r} is not an agent identity (lattice-agent-<cluster>)")
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound as exc:
        raise IdentityError(f"certificate for {cn!r} has no subjectAltName") from exc
    if cn not in sans.get_values_for_type(x509.DNSName):
        raise IdentityError(f"certificate CN {cn!r} is not among its DNS SANs")
    cluster = cn[len(AGENT_PREFIX):]
    try:
        return validate_cluster_name(cluster)
    except PkiError as exc:
        raise IdentityError(str(exc)) from exc


def certificate_common_name(pem: bytes) -> str:
    cns = load_certs(pem)[0].subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(cns[0].value) if cns else ""


def public_key_sha256(pem: bytes) -> str:
    """SHA-256 (hex) of a certificate's SubjectPublicKeyInfo: which key it certifies."""
    spki = load_certs(pem)[0].public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def certificate_expiry(pem: bytes) -> dt.datetime:
    return load_certs(pem)[0].not_valid_after_utc


def renewal_due(pem: bytes, now: dt.datetime | None = None) -> bool:
    cert = load_certs(pem)[0]
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    return (now or _now()) >= start + (end - start) * ROTATE_AT


# ---- ssl contexts (for httpx / uvicorn); load_cert_chain only reads files ----

def load_chain(ctx: ssl.SSLContext, chain_pem: bytes, key_pem_bytes: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="lattice-tls-") as tmp:
        os.chmod(tmp, 0o700)
        cert_file, key_file = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
        cert_file.write_bytes(chain_pem)
        key_file.touch(mode=0o600)
        key_file.write_bytes(key_pem_bytes)
        ctx.load_cert_chain(cert_file, key_file)


def server_ssl_context(chain_pem: bytes, key_pem_bytes: bytes, client_ca_pem: bytes | None = None) -> ssl.SSLContext:
    """TLS for HTTPS servers; with `client_ca_pem`, clients must present a certificate it issued."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    load_chain(ctx, chain_pem, key_pem_bytes)
    if client_ca_pem is not None:
        ctx.load_verify_locations(cadata=client_ca_pem.decode())
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def client_ssl_context(ca_pem: bytes | None, cert_pem_bytes: bytes | None = None,
                       key_pem_bytes: bytes | None = None, verify: bool = True) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif ca_pem:
        ctx.load_verify_locations(cadata=ca_pem.decode())
    else:
        ctx.load_default_certs()
    if cert_pem_bytes and key_pem_bytes:
        load_chain(ctx, cert_pem_bytes, key_pem_bytes)
    return ctx
