"""lattice_cell.main: ``lattice-cell`` runs the cell alone; its flags are the operator's too."""

from __future__ import annotations

import pytest

from lattice_cell.main import api_proxy_config, main, parser


def test_serve_is_the_default_command() -> None:
    args = parser().parse_args(["serve", "--cluster", "root"])
    assert (args.command, args.cluster, args.grpc_port, args.heartbeat_interval) == ("serve", "root", 50051, 30.0)


def test_issue_token_needs_a_child() -> None:
    args = parser().parse_args(["issue-token", "--child", "edge-1", "--ttl", "60"])
    assert (args.command, args.child, args.ttl) == ("issue-token", "edge-1", 60.0)


def test_no_agent_flags_on_the_cell_alone(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--cluster" in out and "--parent-config-dir" not in out and "--keepalive-time" not in out


def test_the_api_proxy_limits_failed_authentications_by_default() -> None:
    config = api_proxy_config(parser().parse_args(["serve", "--cluster", "root"]))
    assert (config.auth_failures, config.auth_failure_window) == (20, 60.0)  # docs/proxy.md
    config = api_proxy_config(parser().parse_args(["serve", "--cluster", "root", "--api-proxy-auth-failures", "5",
                                                   "--api-proxy-auth-failure-window", "10"]))
    assert (config.auth_failures, config.auth_failure_window) == (5, 10.0)
    with pytest.raises(SystemExit, match="auth-failure-window positive"):
        api_proxy_config(parser().parse_args(["serve", "--cluster", "root", "--api-proxy-auth-failure-window", "0"]))
