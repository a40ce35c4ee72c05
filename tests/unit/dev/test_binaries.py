"""lattice_dev.binaries: where the control plane's binaries are found, in order, and an error that
names every place tried. (Built nowhere here: directories of executable files stand in.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from lattice_dev.binaries import REQUIRED_BINARIES, find_binaries, find_checkout, missing_binaries
from lattice_dev.errors import DevClusterError


def bin_dir(path: Path, names: tuple[str, ...] = REQUIRED_BINARIES) -> Path:
    path.mkdir(parents=True)
    for name in names:
        (path / name).write_text("#!/bin/sh\n")
        (path / name).chmod(0o755)
    return path


def checkout(path: Path, prints: Path) -> Path:
    (path / "testbed").mkdir(parents=True)
    (path / "testbed" / "build.sh").write_text(f'[ "$1" = --print-bin-dir ] && echo {prints}\n')
    return path


def test_the_explicit_variable_comes_first(tmp_path: Path) -> None:
    mine, assets = bin_dir(tmp_path / "mine"), bin_dir(tmp_path / "assets")
    env = {"LATTICE_DEV_BIN_DIR": str(mine), "KUBEBUILDER_ASSETS": str(assets), "PATH": ""}
    assert find_binaries(env, cwd=tmp_path) == mine
    assert find_binaries({"KUBEBUILDER_ASSETS": str(assets), "PATH": ""}, cwd=tmp_path) == assets


def test_a_checkout_found_from_a_subdirectory_gives_its_testbed_cache(tmp_path: Path) -> None:
    cache = bin_dir(tmp_path / "cache" / "bin")
    root = checkout(tmp_path / "repo", cache)
    (root / "docs").mkdir()
    assert find_checkout({}, cwd=root / "docs") == root
    assert find_binaries({"PATH": ""}, cwd=root / "docs") == cache
    assert find_binaries({"LATTICE_CHECKOUT": str(root), "PATH": ""}, cwd=tmp_path) == cache


def test_path_is_the_last_resort(tmp_path: Path) -> None:
    on_path = bin_dir(tmp_path / "usr-bin")
    assert find_binaries({"PATH": str(on_path)}, cwd=tmp_path) == on_path


def test_the_error_names_every_place_tried(tmp_path: Path) -> None:
    partial = bin_dir(tmp_path / "partial", ("etcd", "kubectl"))
    assert missing_binaries(partial) == ["kube-apiserver", "kube-controller-manager"]
    root = checkout(tmp_path / "repo", tmp_path / "not-built")
    with pytest.raises(DevClusterError) as err:
        find_binaries({"LATTICE_DEV_BIN_DIR": str(partial), "PATH": ""}, cwd=root)
    message = str(err.value)
    assert f"$LATTICE_DEV_BIN_DIR ({partial}): lacks kube-apiserver, kube-controller-manager" in message
    assert "$KUBEBUILDER_ASSETS: not set" in message
    assert f"the testbed cache of {root.resolve()} ({tmp_path / 'not-built'}): lacks etcd" in message
    assert "PATH: no kube-apiserver on PATH" in message
    assert "bash testbed/build.sh" in message
