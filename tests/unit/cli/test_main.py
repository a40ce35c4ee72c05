"""``lattice --help`` and every command's help: plain options tables that speak to the user."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer

from cli.main import app, run


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path under ``command`` (a group has ``commands``), the group itself included."""
    out = [path]
    for name, sub in getattr(command, "commands", {}).items():
        out += _commands(sub, (*path, name))
    return out


COMMANDS = _commands(typer.main.get_command(app))


def test_every_command_is_covered() -> None:
    assert {" ".join(c) for c in COMMANDS} >= {"", "render", "dev", "dev up"}


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "lattice")
def test_help_shows_flags_bare_and_values_by_what_they_are(
    command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([*command, "--help"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert re.search(r"^  --help +Show this message and exit\.$", out, re.MULTILINE), out
    # a flag takes no value, so no type may follow it (typer's rich panel printed "--help <bool>")
    assert "<bool>" not in out and "BOOLEAN" not in out


def test_option_tables_read_as_kubectl_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["render", "--help"]) == 0
    out = capsys.readouterr().out
    for line in ("-f, --filename PATH", "-o, --output FORMAT", "--cluster-name NAME"):
        assert f"  {line}  " in out
    assert run(["dev", "up", "--help"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^  --no-metacontroller +Do not run Metacontroller", out, re.MULTILINE)
    assert re.search(r"^  --no-crds +Skip", out, re.MULTILINE)
    assert "--workdir DIR" in out


def test_help_speaks_to_the_user_about_their_choices(capsys: pytest.CaptureFixture[str]) -> None:
    """Not about how this project's machines fetch their binaries."""
    assert run(["dev", "up", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "module proxy" not in out and "built here" not in out and "available here" not in out
    assert "applied objects are checked against the CRD schemas and stored" in out


def test_no_arguments_is_a_usage_error_that_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert run([]) == 2
    out = capsys.readouterr().err
    assert re.search(r"^  render +Compile Lattice YAML into Kubernetes objects, offline\.$", out, re.MULTILINE)
    assert re.search(r"^  dev +A local control plane", out, re.MULTILINE)
