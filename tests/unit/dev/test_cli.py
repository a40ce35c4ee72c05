"""lattice_dev.cli: ``python -m lattice_dev binaries`` prints where the binaries come from, or
every place it looked."""

from __future__ import annotations

from pathlib import Path

import pytest

from lattice_dev.binaries import REQUIRED_BINARIES
from lattice_dev.cli import main


def test_binaries_prints_the_directory_or_the_places_tried(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for name in REQUIRED_BINARIES:
        (tmp_path / name).write_text("#!/bin/sh\n")
        (tmp_path / name).chmod(0o755)
    monkeypatch.setenv("LATTICE_DEV_BIN_DIR", str(tmp_path))
    assert main(["binaries"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path)
    monkeypatch.setenv("LATTICE_DEV_BIN_DIR", str(tmp_path / "empty"))
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    monkeypatch.setenv("PATH", "")
    monkeypatch.setenv("LATTICE_CHECKOUT", str(tmp_path / "no-checkout"))
    assert main(["binaries"]) == 1
    err = capsys.readouterr().err
    assert "tried, in order" in err
    assert f"$LATTICE_CHECKOUT ({tmp_path / 'no-checkout'}) holds no testbed/build.sh" in err
