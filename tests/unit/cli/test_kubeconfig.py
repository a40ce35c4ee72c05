"""cli.kubeconfig: choosing the exec plugin and merging into a user's kubeconfig (the command against
a real proxy: tests/integration/test_kubeconfig_cli.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cli.errors import LatticeError
from cli.kubeconfig import merge_into, oidc_args, sa_args

NEW = {"clusters": [{"name": "prod", "cluster": {"server": "https://p/clusters/prod"}}],
       "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "lattice-root"}}],
       "users": [{"name": "lattice-root", "user": {"exec": {"command": "lattice"}}}], "current-context": "prod"}


def test_merge_keeps_the_users_entries_and_current_context(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "work",
                                    "contexts": [{"name": "work", "context": {}}, {"name": "prod", "context": {}}]}))
    assert merge_into(path, NEW) == ["prod"]
    merged = yaml.safe_load(path.read_text())
    assert [c["name"] for c in merged["contexts"]] == ["work", "prod"] and merged["current-context"] == "work"
    assert merged["contexts"][1]["context"]["user"] == "lattice-root"
    assert path.stat().st_mode & 0o777 == 0o600
    fresh = tmp_path / "new" / "config"
    assert merge_into(fresh, NEW) == [] and yaml.safe_load(fresh.read_text())["current-context"] == "prod"


def test_merge_refuses_what_is_not_a_kubeconfig(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("- a list\n")
    with pytest.raises(LatticeError, match="not a kubeconfig"):
        merge_into(path, NEW)


def test_exec_plugin_arguments(tmp_path: Path) -> None:
    providers = [{"name": "a", "issuerUrl": "https://a", "clientId": "x"},
                 {"name": "b", "issuerUrl": "https://b", "clientId": "y"}]
    assert oidc_args(providers, "b") == ["token", "--oidc-issuer-url=https://b", "--oidc-client-id=y"]
    assert oidc_args(providers[:1], None)[1] == "--oidc-issuer-url=https://a"
    private = [{**providers[0], "certificateAuthorityData": "UEVN"}]
    assert oidc_args(private, None)[3] == "--certificate-authority-data=UEVN"
    scoped = [{**private[0], "extraScopes": ["groups"]}]
    assert oidc_args(scoped, None)[3:] == ["--certificate-authority-data=UEVN", "--oidc-extra-scope=groups"]
    with pytest.raises(LatticeError, match="--oidc-provider"):
        oidc_args(providers, None)
    assert sa_args("ci/deployer", tmp_path / "k", "ctx") == [
        "token", "--service-account=ci/deployer", "--audience=lattice-proxy", f"--kubeconfig={tmp_path / 'k'}",
        "--context=ctx"]
    with pytest.raises(LatticeError, match="NAMESPACE/NAME"):
        sa_args("deployer", None, None)
