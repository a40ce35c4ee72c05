"""The committed stubs in lattice_proto/ must match a fresh protoc run of proto/lattice_proto/*.proto."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_committed_stubs_match_the_proto() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "proto" / "generate.py"), "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_stubs_import_and_round_trip() -> None:
    from lattice_proto import agent_pb2 as pb

    msg = pb.AgentMessage(heartbeat=pb.Heartbeat(state=pb.AGENT_STATE_READY, unix_millis=1))
    assert pb.AgentMessage.FromString(msg.SerializeToString()) == msg
    assert {f.name for f in pb.CellCommand.DESCRIPTOR.oneofs_by_name["command"].fields} >= {
        "kubernetes_request", "cancel", "credit", "move_batch", "move_complete", "exec_stdin", "welcome"}
    assert {f.name for f in pb.AgentMessage.DESCRIPTOR.oneofs_by_name["payload"].fields} >= {
        "ready", "bootstrap_complete", "heartbeat", "subtree_state", "kubernetes_response", "move_ack",
        "move_complete_ack", "cluster_deleting", "exec_data"}
