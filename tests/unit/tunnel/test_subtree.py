"""lattice_tunnel.subtree: a cluster below a cell, the same on both sides and on the wire."""

from __future__ import annotations

from lattice_tunnel.subtree import ClusterInfo, from_proto, to_proto


def test_wire_round_trip() -> None:
    info = ClusterInfo("leaf", "mid", "Ready", {"lattice.dev/region": "eu"}, connected=False, pivoted=True)
    assert from_proto(to_proto(info)) == info


def test_a_missing_phase_reads_as_unknown() -> None:
    wire = to_proto(ClusterInfo("x", phase=""))
    assert from_proto(wire).phase == "Unknown"
