"""lattice_agent.main: ``lattice-agent`` runs the agent alone (a leaf cluster)."""

from __future__ import annotations

import pytest

from lattice_agent.main import main, parser


def test_flags() -> None:
    args = parser().parse_args(["--cluster", "leaf", "--health-port", "9090", "--backoff-max", "1"])
    assert (args.cluster, args.health_port, args.backoff_max, args.parent_config_dir) == ("leaf", 9090, 1.0, None)


def test_help_lists_the_agent_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--kubeconfig", "--parent-config-dir", "--credentials-dir", "--keepalive-time"):
        assert flag in out
