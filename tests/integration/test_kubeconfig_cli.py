"""`lattice kubeconfig` against the real fleet: finds the proxy from the cluster's ConfigMap, writes
one context per accessible cluster, refuses to overwrite a file without --merge, merges; and the whole
loop with no token given: `lattice token` logs in at Hydra (the test playing the browser, the issuer's
private CA carried in the exec arguments), kubectl then runs the written exec plugin."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from fleet_procs import Fleet, prepare_access

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def lattice(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", "kubeconfig", *args], capture_output=True, text=True,
                          timeout=60)


@pytest.fixture(scope="module")
def alice_token(fleet: Fleet) -> str:
    prepare_access(fleet)
    return fleet.hydra.id_token("alice", {"email": "alice@example.com", "groups": ["platform"]})


def test_finds_the_proxy_and_writes_a_context_per_cluster(fleet: Fleet, alice_token: str, tmp_path: Path) -> None:
    root = fleet.planes["root"]
    out = lattice("--kubeconfig", str(root.kubeconfig), "--token", alice_token)
    assert out.returncode == 0, out.stderr
    config = yaml.safe_load(out.stdout)
    assert [c["name"] for c in config["contexts"]] == ["root", "child", "grandchild"]
    assert config["clusters"][0]["cluster"]["server"] == f"https://127.0.0.1:{fleet.root.api_proxy_port}/clusters/root"
    assert config["users"][0]["user"]["exec"]["command"] == "lattice"
    target = tmp_path / "fleet.yaml"
    assert lattice("--kubeconfig", str(root.kubeconfig), "--token", alice_token, "-o", str(target)).returncode == 0
    assert target.stat().st_mode & 0o777 == 0o600
    # The written file works with kubectl (credentials given on the command line, as the exec
    # plugin `lattice token` would give them).
    got = subprocess.run([str(fleet.bin_dir / "kubectl"), f"--kubeconfig={target}", "--context=grandchild",
                          f"--token={alice_token}", "-n", "demo", "get", "pods", "-o", "name"],
                         capture_output=True, text=True, timeout=60)
    assert "pod/web" in got.stdout, got.stderr


def test_never_overwrites_without_merge(fleet: Fleet, alice_token: str, tmp_path: Path) -> None:
    mine = tmp_path / "config"
    mine.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "work",
                                    "clusters": [{"name": "work", "cluster": {"server": "https://work.example"}}],
                                    "contexts": [{"name": "work", "context": {"cluster": "work", "user": "me"}}],
                                    "users": [{"name": "me", "user": {"token": "secret"}}]}))
    before = mine.read_text()
    refused = lattice("--proxy", fleet.proxy_url, "--certificate-authority", str(fleet.ca_file()), "--token",
                      alice_token, "-o", str(mine))
    assert refused.returncode == 1 and "use --merge" in refused.stderr
    assert mine.read_text() == before
    merged = lattice("--proxy", fleet.proxy_url, "--certificate-authority", str(fleet.ca_file()), "--token",
                     alice_token, "-o", str(mine), "--merge")
    assert merged.returncode == 0, merged.stderr
    config = yaml.safe_load(mine.read_text())
    assert [c["name"] for c in config["contexts"]] == ["work", "root", "child", "grandchild"]
    assert config["current-context"] == "work"
    assert {"name": "me", "user": {"token": "secret"}} in config["users"]


def test_a_caller_with_no_access_gets_a_clear_error(fleet: Fleet) -> None:
    dave = fleet.hydra.id_token("dave", {"email": "dave@example.com", "groups": []})
    out = lattice("--proxy", fleet.proxy_url, "--certificate-authority", str(fleet.ca_file()), "--token", dave)
    assert out.returncode == 1
    assert "403" in out.stderr and "may access no cluster" in out.stderr


def login_url(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    """The login URL `lattice token` prints on stderr (under the `lattice kubeconfig` running it)."""
    assert proc.stderr is not None
    deadline, seen = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if line.strip().startswith("https://"):
            return line.strip()
    proc.kill()
    raise AssertionError(f"no login URL; stderr: {''.join(seen)}")


def test_oidc_login_through_the_exec_plugin_and_kubectl(fleet: Fleet, alice_token: str, tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "DISPLAY": "", "WAYLAND_DISPLAY": "",
           "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    target = tmp_path / "fleet.yaml"
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "kubeconfig", "--kubeconfig",
                             str(fleet.planes["root"].kubeconfig), "--oidc-provider", "hydra", "-o", str(target)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = login_url(proc)
        # the OIDCProvider's extraScopes reach the issuer: the login asks for them
        assert set(parse_qs(urlsplit(url).query)["scope"][0].split()) == {"openid", "offline_access", "email", "groups"}
        answer = fleet.hydra.play_browser(url, "alice",
                                          {"email": "alice@example.com", "groups": ["platform"]})
        assert answer.status_code == 200, answer.text
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    config = yaml.safe_load(target.read_text())
    args = config["users"][0]["user"]["exec"]["args"]
    assert args[:3] == ["token", f"--oidc-issuer-url={fleet.hydra.public_url}", "--oidc-client-id=lattice-cli"]
    assert args[3].startswith("--certificate-authority-data=")  # Hydra's CA is private: without it no login
    assert args[4:] == ["--oidc-extra-scope=email", "--oidc-extra-scope=groups"]
    cached = list((tmp_path / "cache" / "lattice" / "oidc").glob("*.json"))
    assert len(cached) == 1 and cached[0].stat().st_mode & 0o777 == 0o600
    # kubectl runs the plugin as written: the cached ID token, no second login, the grandchild's RBAC.
    got = subprocess.run([str(fleet.bin_dir / "kubectl"), f"--kubeconfig={target}", "--context=grandchild",
                          "-n", "demo", "get", "pods", "-o", "name"],
                         capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    assert "pod/web" in got.stdout, got.stderr
    whoami = subprocess.run([str(fleet.bin_dir / "kubectl"), f"--kubeconfig={target}", "--context=grandchild",
                             "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"],
                            capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    assert whoami.stdout == "alice@example.com", whoami.stderr
