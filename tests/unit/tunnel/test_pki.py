import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import PolicyBuilder, Store

from lattice_tunnel import pki

NOW = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)


def verify_server(chain_pem: bytes, roots: list[x509.Certificate], name: str, when: dt.datetime) -> None:
    certs = pki.load_certs(chain_pem)
    verifier = PolicyBuilder().store(Store(roots)).time(when).build_server_verifier(x509.DNSName(name))
    verifier.verify(certs[0], certs[1:])


def verify_client(cert_pem: bytes, roots: list[x509.Certificate], when: dt.datetime) -> None:
    verifier = PolicyBuilder().store(Store(roots)).time(when).build_client_verifier()
    verifier.verify(pki.load_certs(cert_pem)[0], [])


def test_ca_is_p256_and_constrained() -> None:
    ca = pki.generate_ca(NOW)
    assert isinstance(ca.key.curve, ec.SECP256R1)
    bc = ca.cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert bc.ca and ca.cert.not_valid_after_utc - NOW == pki.CA_VALIDITY


def test_server_certificate_has_the_sans_and_verifies() -> None:
    bundle = pki.CaBundle(pki.generate_ca(NOW))
    leaf = pki.issue_server_certificate(bundle, extra_sans=["cell.example.com", "10.1.2.3"], now=NOW)
    san = pki.load_certs(leaf.cert_pem)[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost", "lattice-cell.lattice-system.svc", "cell.example.com"} <= set(
        san.get_values_for_type(x509.DNSName))
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} >= {"127.0.0.1", "10.1.2.3"}
    verify_server(leaf.chain_pem, bundle.trusted(NOW), "cell.example.com", NOW + dt.timedelta(days=1))


def test_csr_signing_binds_the_identity_whatever_the_csr_asks_for() -> None:
    bundle = pki.CaBundle(pki.generate_ca(NOW))
    key = ec.generate_private_key(ec.SECP256R1())
    evil = (x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lattice-agent-prod")]))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("lattice-agent-prod"),
                                                        x509.DNSName("kubernetes.default.svc")]), False)
            .sign(key, hashes.SHA256()))
    from cryptography.hazmat.primitives import serialization
    cert_pem = pki.sign_agent_csr(bundle, evil.public_bytes(serialization.Encoding.PEM), "dev", now=NOW)
    cert = pki.load_certs(cert_pem)[0]
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "lattice-agent-dev"
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName)
    assert "lattice-agent-prod" not in sans and "kubernetes.default.svc" not in sans
    assert pki.cluster_from_certificate(cert_pem) == "dev"
    assert cert.public_key() == key.public_key()
    verify_client(cert_pem, bundle.trusted(NOW), NOW + dt.timedelta(days=1))


@pytest.mark.parametrize("csr,needle", [
    (b"not a csr", "malformed CSR"),
    (b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", "malformed CSR"),
])
def test_malformed_csr_is_rejected(csr: bytes, needle: str) -> None:
    bundle = pki.CaBundle(pki.generate_ca(NOW))
    with pytest.raises(pki.CsrError, match=needle):
        pki.sign_agent_csr(bundle, csr, "dev")


def test_invalid_cluster_names_are_rejected() -> None:
    bundle = pki.CaBundle(pki.generate_ca(NOW))
    csr, _ = pki.generate_agent_csr("ok")
    for bad in ("", "UPPER", "a_b", "-x", "x" * 64):
        with pytest.raises(pki.PkiError, match="invalid cluster name"):
            pki.sign_agent_csr(bundle, csr, bad)


def test_identity_requires_agent_cn_and_matching_san() -> None:
    bundle = pki.CaBundle(pki.generate_ca(NOW))
    server = pki.issue_server_certificate(bundle, now=NOW)
    with pytest.raises(pki.IdentityError, match="not an agent identity"):
        pki.cluster_from_certificate(server.cert_pem)
    mismatched = pki.issue_client_certificate(bundle, "lattice-agent-a", sans=["lattice-agent-b"], now=NOW)
    with pytest.raises(pki.IdentityError, match="not among its DNS SANs"):
        pki.cluster_from_certificate(mismatched.cert_pem)


def test_rotation_keeps_old_certificates_trusted_and_new_ones_verifiable_by_old_clients() -> None:
    old = pki.CaBundle(pki.generate_ca(NOW))
    later = NOW + pki.CA_VALIDITY * 0.85
    csr, _ = pki.generate_agent_csr("a")
    agent_cert = pki.sign_agent_csr(old, csr, "a", now=later - dt.timedelta(days=30))
    assert old.rotation_due(later) and not old.rotation_due(NOW)
    new = old.rotated(later)
    assert new.signer.cert.subject != old.signer.cert.subject
    assert len(new.trusted(later)) == 2
    # Agent certificates from before the rotation still authenticate.
    verify_client(agent_cert, new.trusted(later), later)
    # A server certificate from the new CA verifies for a client that only knows the old CA.
    server = pki.issue_server_certificate(new, now=later)
    verify_server(server.chain_pem, [old.signer.cert], "localhost", later + dt.timedelta(days=1))
    # Round trip through storage keeps everything.
    again = pki.CaBundle.from_data(new.to_data())
    assert again.trust_pem(later) == new.trust_pem(later)
    assert again.cross_signed == new.cross_signed


async def test_load_or_create_persists_and_rotates_when_due() -> None:
    storage = pki.MemoryCaStorage()
    first, created = await pki.load_or_create_ca(storage, NOW)
    assert created and storage.data is not None
    same, changed = await pki.load_or_create_ca(storage, NOW + dt.timedelta(days=1))
    assert not changed and same.signer.cert == first.signer.cert
    rotated, changed = await pki.load_or_create_ca(storage, NOW + pki.CA_VALIDITY * 0.81)
    assert changed and rotated.signer.cert != first.signer.cert
    assert first.signer.cert in rotated.trusted(NOW + pki.CA_VALIDITY * 0.81)
