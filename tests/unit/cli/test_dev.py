"""``lattice dev up`` and ``python -m lattice_dev``: option wiring and help, without
starting a control plane (``dev_up`` is replaced by a recorder)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path
from typing import Any

import pytest

from cli.main import run
from lattice_dev import DevClusterError
from lattice_dev import binaries as devcluster_binaries
from lattice_dev import up as devcluster_up


def _flat(text: str) -> str:
    """Help text without rich's box characters and line wrapping."""
    return " ".join(text.replace("│", " ").split())


def _help(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, available: bool) -> str:
    monkeypatch.setattr(devcluster_binaries, "metacontroller_available", lambda: available)
    code = run(["dev", "up", "--help"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    return _flat(out)


def test_dev_up_help_lists_options_and_says_when_no_metacontroller_binary_is_found(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _help(capsys, monkeypatch, available=False)
    for option in ("--no-metacontroller", "--no-crds", "--workdir"):
        assert option in out
    assert "No Metacontroller binary was found: set LATTICE_METACONTROLLER_BIN to one." in out
    assert "export KUBECONFIG=" in out


def test_dev_up_help_without_the_note_when_metacontroller_is_available(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _help(capsys, monkeypatch, available=True)
    assert "--no-metacontroller" in out
    assert "No Metacontroller binary" not in out


def test_dev_lists_up(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["dev", "--help"]) == 0
    assert " up " in _flat(capsys.readouterr().out)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    def fake_dev_up(workdir: Path | None = None, **kwargs: Any) -> int:
        seen.append({"workdir": workdir, **kwargs})
        return 0

    monkeypatch.setattr(devcluster_up, "dev_up", fake_dev_up)
    # The Cluster API CRDs come from the testbed's files; what matters here is that they are passed.
    monkeypatch.setattr("cli.dev.cluster_controller_crds", lambda: [CLUSTER_CRDS])
    return seen


CLUSTER_CRDS = {"kind": "CustomResourceDefinition", "metadata": {"name": "clusters.cluster.x-k8s.io"}}


def test_dev_up_defaults_run_the_whole_loop_with_what_manifests_ships(calls: list[dict[str, Any]]) -> None:
    from cli.dev import HOOKS_ENV, hooks_user, install_manifests
    from hooks.controllers_manifest import METACONTROLLER_FLAGS, metacontroller_user

    assert run(["dev", "up"]) == 0
    assert calls == [{"workdir": None, "install": install_manifests, "metacontroller_args": METACONTROLLER_FLAGS,
                      "metacontroller_user": metacontroller_user(), "hooks_env": HOOKS_ENV,
                      "hooks_user": hooks_user(), "upstream_crds": True, "extra_crds": [CLUSTER_CRDS]}]
    assert hooks_user() == "system:serviceaccount:lattice-system:lattice-hooks"
    assert "--apply-strategy=server-side-apply" in METACONTROLLER_FLAGS


def test_dev_up_options(calls: list[dict[str, Any]], tmp_path: Path) -> None:
    from cli.dev import HOOKS_ENV

    assert run(["dev", "up", "--no-metacontroller", "--no-crds", "--workdir", str(tmp_path)]) == 0  # no CRDs at all
    assert calls == [{"workdir": tmp_path, "hooks_env": HOOKS_ENV, "upstream_crds": False}]


def test_dev_up_exit_code_and_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(devcluster_up, "dev_up", lambda *a, **k: 130)
    assert run(["dev", "up"]) == 130

    def fail(*args: Any, **kwargs: Any) -> int:
        raise DevClusterError("Metacontroller binary not available")

    monkeypatch.setattr(devcluster_up, "dev_up", fail)
    assert run(["dev", "up"]) == 1
    assert capsys.readouterr().err == "error: Metacontroller binary not available\n"


def test_python_m_devcluster_up_help(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["python -m lattice_dev", "up", "--help"])
    with pytest.raises(SystemExit) as exc:
        runpy.run_module("lattice_dev", run_name="__main__")
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in ("--metacontroller", "--no-crds", "--no-controller-manager", "--metacontroller-arg", "--workdir"):
        assert option in out
