import base64
from pathlib import Path

import pytest

from lattice_tunnel.kube_target import KubeConfigError, load_kubeconfig


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(text)
    return path


def test_token_and_inline_ca(tmp_path: Path) -> None:
    ca = base64.b64encode(b"CA").decode()
    path = write(tmp_path, f"""
apiVersion: v1
kind: Config
current-context: dev
contexts:
- name: dev
  context: {{cluster: c1, user: u1}}
- name: other
  context: {{cluster: c2, user: u2}}
clusters:
- name: c1
  cluster: {{server: "https://127.0.0.1:6443/", certificate-authority-data: {ca}}}
- name: c2
  cluster: {{server: "https://other:6443", insecure-skip-tls-verify: true}}
users:
- name: u1
  user: {{token: secret-token}}
- name: u2
  user: {{client-certificate: cert.pem, client-key: key.pem}}
""")
    (tmp_path / "cert.pem").write_bytes(b"CERT")
    (tmp_path / "key.pem").write_bytes(b"KEY")
    dev = load_kubeconfig(path)
    assert (dev.server, dev.ca_pem, dev.bearer()) == ("https://127.0.0.1:6443", b"CA", "secret-token")
    other = load_kubeconfig(path, "other")
    assert (other.insecure, other.client_cert_pem, other.client_key_pem) == (True, b"CERT", b"KEY")


@pytest.mark.parametrize("body,needle", [
    ("contexts: []", "no --context given"),
    ("current-context: x\ncontexts: []", "no context named 'x'"),
    ("current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
     "clusters: [{name: c, cluster: {server: https://s}}]\nusers: [{name: u, user: {exec: {command: x}}}]",
     "exec/auth-provider"),
])
def test_unusable_kubeconfigs_say_why(tmp_path: Path, body: str, needle: str) -> None:
    with pytest.raises(KubeConfigError, match=needle):
        load_kubeconfig(write(tmp_path, body))
