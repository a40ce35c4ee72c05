"""lattice_operator.main: one process for a cluster's cell and, with a parent, its agent. The
mid-tier clusters of tests/integration/test_tunnel_chain.py and bench/tunnel.py run it."""

from __future__ import annotations

import pytest

from lattice_operator.main import main, parser


def test_the_cells_flags_and_the_agents_in_one_parser() -> None:
    args = parser().parse_args(["--cluster", "mid", "--grpc-port", "6000", "--heartbeat-interval", "2",
                                "--keepalive-time", "5", "--parent-config-dir", "/etc/parent"])
    assert (args.cluster, args.grpc_port, args.heartbeat_interval, args.keepalive_time) == ("mid", 6000, 2.0, 5.0)
    assert str(args.parent_config_dir) == "/etc/parent"


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--cluster", "--proxy-port", "--credentials-dir", "--backoff-max"):
        assert flag in out
