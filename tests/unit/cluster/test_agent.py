"""The agent install on first boot: the token only ever travels in a Secret the shell writes."""

from __future__ import annotations

import base64
import json
import subprocess

import pytest

from crds.cluster import Bootstrap
from hooks.cluster import BootstrapData, bootstrap_secret
from hooks.cluster import agent as agent_mod

from .support import by_kind, compile_doc, example_docs

DOCS = example_docs()
TOKEN = "tok-Zq3x9V2lB8nM0pQ7rS5tU1wY4zA6cD8eF0gH2iJ4kL"


def _control_plane(example: str, **kwargs: bool) -> dict:  # type: ignore[type-arg]
    plan = compile_doc(DOCS[example], **kwargs)
    kinds = by_kind(plan)
    return (kinds.get("KubeadmControlPlane") or kinds["RKE2ControlPlane"])[0]


def _files(cp: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    spec = cp["spec"].get("kubeadmConfigSpec", cp["spec"])
    return {f["path"]: f for f in spec.get("files", [])}


@pytest.mark.parametrize("example", ["docker", "docker-rke2", "aws", "proxmox"])
def test_files_come_from_the_bootstrap_secret(example: str) -> None:
    name = DOCS[example]["metadata"]["name"]
    plan = compile_doc(DOCS[example])
    assert plan.bootstrap_secret == f"{name}-lattice-bootstrap"
    files = _files(_control_plane(example))
    for key in ("url", "ca.crt", "token"):
        f = files[f"/etc/lattice/bootstrap/{key}"]
        assert f["contentFrom"] == {"secret": {"name": f"{name}-lattice-bootstrap", "key": key}}
        assert f["permissions"] == "0600" and "content" not in f
    assert files[agent_mod.SCRIPT]["permissions"] == "0700"
    spec = _control_plane(example)["spec"]
    post = spec.get("kubeadmConfigSpec", spec).get("postKubeadmCommands") or spec.get("postRKE2Commands")
    assert post[-1] == f"{agent_mod.SCRIPT} --detach"


def test_workers_never_get_the_token() -> None:
    for example in DOCS:
        plan = compile_doc(DOCS[example])
        for o in plan.objects:
            if o["kind"] in ("KubeadmConfigTemplate", "RKE2ConfigTemplate"):
                assert "lattice-bootstrap" not in json.dumps(o)


def test_without_agent_nothing_is_installed() -> None:
    plan = compile_doc(DOCS["docker"], agent=False)
    assert plan.bootstrap_secret is None
    assert "lattice" not in json.dumps(_files(_control_plane("docker", agent=False)))
    assert "install-agent" not in json.dumps(plan.objects)


def test_bootstrap_secret() -> None:
    secret = bootstrap_secret("dev", BootstrapData(url="https://cell.example.com:8443/", ca_bundle_pem="PEM",
                                                   token=TOKEN))
    assert secret["metadata"]["name"] == "dev-lattice-bootstrap"
    assert secret["metadata"]["namespace"] == "capi-dev"
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data == {"url": "https://cell.example.com:8443", "ca.crt": "PEM", "token": TOKEN}
    assert TOKEN not in repr(BootstrapData(url="u", ca_bundle_pem="c", token=TOKEN))


@pytest.mark.parametrize("bootstrap", list(Bootstrap))
def test_script_reads_the_token_from_a_file_never_an_argument(bootstrap: Bootstrap) -> None:
    text = agent_mod.script("dev", bootstrap)
    assert len(text) < 10240  # the files[].content limit of the kubeadm CRDs
    assert '-H @"$work/header"' in text and "--cacert" in text
    assert "$(cat \"$dir/token\")\" >\"$work/header\"" in text  # printf is a shell builtin: no process argv
    assert ': >"$dir/token"' in text
    kubectl = "/var/lib/rancher/rke2/bin/kubectl" if bootstrap is Bootstrap.RKE2 else "kubectl"
    assert f"kubectl={kubectl}" in text


@pytest.mark.parametrize("bootstrap", list(Bootstrap))
def test_script_is_valid_posix_shell(bootstrap: Bootstrap) -> None:
    proc = subprocess.run(["sh", "-n"], input=agent_mod.script("dev", bootstrap), capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
