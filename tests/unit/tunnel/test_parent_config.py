"""lattice_tunnel.parent_config: the Secret both sides agree on, written by the cell, read by the agent."""

from __future__ import annotations

import pytest

from lattice_tunnel.parent_config import ParentConfig, ParentConfigError


def test_round_trip_and_the_token_stays_out_of_repr() -> None:
    parent = ParentConfig("child", "cell:50051", "https://cell:8443", "cell", b"CA", "secret-token")
    assert ParentConfig.from_data(parent.to_data(), "test") == parent
    assert "secret-token" not in repr(parent)


def test_optional_keys_default_and_missing_ones_are_named() -> None:
    minimal = ParentConfig.from_data({"cluster": b"c", "grpc_endpoint": b"cell:1", "ca.crt": b"CA"}, "dir")
    assert (minimal.bootstrap_url, minimal.server_name, minimal.token) == ("", "", "")
    with pytest.raises(ParentConfigError, match=r"Secret x lacks ca\.crt, grpc_endpoint"):
        ParentConfig.from_data({"cluster": b"c"}, "Secret x")
