"""cli.kubeconfigs: kubectl's merge rules, private credential files, exec plugins run once."""

import base64
import json
import os
import stat
import sys
from pathlib import Path

import pytest
import yaml

from cli import kubeconfigs
from cli.errors import LatticeError


def write(path: Path, clusters: dict, users: dict, contexts: dict, current: str | None = None) -> Path:  # type: ignore[type-arg]
    doc = {"apiVersion": "v1", "kind": "Config",
           "clusters": [{"name": n, "cluster": c} for n, c in clusters.items()],
           "users": [{"name": n, "user": u} for n, u in users.items()],
           "contexts": [{"name": n, "context": c} for n, c in contexts.items()]}
    if current:
        doc["current-context"] = current
    path.write_text(yaml.safe_dump(doc))
    return path


def test_merged_as_kubectl_merges(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    a = write(tmp_path / "a" / "config", {"c": {"server": "https://a", "certificate-authority": "ca.crt"}},
              {"u": {"token": "ta"}}, {"one": {"cluster": "c", "user": "u", "namespace": "ns"}}, "one")
    b = write(tmp_path / "b", {"c": {"server": "https://b"}, "d": {"server": "https://d"}}, {"u": {"token": "tb"}},
              {"one": {"cluster": "d", "user": "u"}, "two": {"cluster": "d", "user": "u"}}, "two")
    config = kubeconfigs.load(f"{a}{os.pathsep}{b}")
    assert config.current == "one"  # the first file that sets it
    one = config.context("one")
    assert one.server == "https://a" and one.user == {"token": "ta"} and one.namespace == "ns"  # first wins
    assert one.cluster["certificate-authority"] == str(tmp_path / "a" / "ca.crt")  # relative to its file
    assert [c.name for c in config.select(None)] == ["one", "two"]
    with pytest.raises(LatticeError, match="context 'three' not found"):
        config.select(["three"])
    with pytest.raises(LatticeError, match="does not exist"):
        kubeconfigs.load(str(tmp_path / "missing"))


def test_credentials_are_private_files_removed_afterwards(tmp_path: Path) -> None:
    pem = b"-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n"
    ca = base64.b64encode(pem).decode()
    path = write(tmp_path / "k", {"c": {"server": "https://a", "certificate-authority-data": ca}},
                 {"u": {"client-certificate-data": base64.b64encode(pem).decode(),
                        "client-key-data": base64.b64encode(b"KEY").decode()}},
                 {"x": {"cluster": "c", "user": "u"}})
    ctx = kubeconfigs.load(str(path)).context("x")
    with kubeconfigs.materializer() as mat:
        cfg = mat.config(ctx)
        user = cfg["users"][0]["user"]
        assert "client-key-data" not in user and Path(user["client-key"]).read_bytes() == b"KEY"
        assert stat.S_IMODE(Path(user["client-key"]).stat().st_mode) == 0o600
        assert Path(cfg["clusters"][0]["cluster"]["certificate-authority"]).read_bytes() == pem
        folder = mat.folder
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert not folder.exists()


def test_an_exec_plugin_runs_once_for_every_context_using_it(tmp_path: Path) -> None:
    log = tmp_path / "calls"
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "import json, os, sys\n"
        f"open({str(log)!r}, 'a').write(os.environ['KUBERNETES_EXEC_INFO'] + '\\n')\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential',"
        " 'status': {'token': 'from-plugin'}}))\n")
    exec_user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                          "args": [str(plugin)]}}
    path = write(tmp_path / "k", {"p": {"server": "https://proxy/clusters/a"}, "q": {"server": "https://proxy/b"}},
                 {"u": exec_user}, {"a": {"cluster": "p", "user": "u"}, "b": {"cluster": "q", "user": "u"}})
    config = kubeconfigs.load(str(path))
    with kubeconfigs.materializer() as mat:
        tokens = [mat.config(c)["users"][0]["user"]["token"] for c in config.contexts]
    assert tokens == ["from-plugin", "from-plugin"]
    calls = log.read_text().splitlines()
    assert len(calls) == 1
    assert json.loads(calls[0])["apiVersion"] == "client.authentication.k8s.io/v1"


def test_a_failing_exec_plugin_fails_every_context_using_it_once(tmp_path: Path) -> None:
    path = write(tmp_path / "k", {"p": {"server": "https://p"}}, {"u": {"exec": {"command": "false"}}},
                 {"a": {"cluster": "p", "user": "u"}, "b": {"cluster": "p", "user": "u"}})
    config = kubeconfigs.load(str(path))
    with kubeconfigs.materializer() as mat:
        for ctx in config.contexts:
            with pytest.raises(LatticeError, match="credential plugin false exited with 1"):
                mat.config(ctx)
