"""lattice_dev.certs: the plane's own CA; client certificates carry the groups Kubernetes reads."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from lattice_dev.certs import issue, load_cert, new_ca, write_file


def test_client_certificates_carry_their_groups_as_organizations(tmp_path: Path) -> None:
    ca, key = new_ca("test-ca")
    cert_pem, _ = issue(ca, key, "alice", orgs=["dev", "ops"], client=True)
    cert = load_cert(cert_pem)
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == ["dev", "ops"]
    assert cert.issuer == ca.subject
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    path = write_file(tmp_path / "pki" / "k.pem", b"secret")
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_serving_certificates_name_their_hosts() -> None:
    ca, key = new_ca("test-ca")
    cert = load_cert(issue(ca, key, "kube-apiserver", dns=["localhost"], ips=["127.0.0.1"], server=True)[0])
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
