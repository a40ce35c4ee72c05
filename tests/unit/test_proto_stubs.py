"""The committed stubs in lattice_proto/ match proto/lattice_proto/*.proto and the grpcio-tools version
the lock pins, and pyproject.toml asks for runtimes new enough to load them."""

import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
STUBS = ROOT / "lattice_proto"


@pytest.fixture(scope="module")
def generate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("proto_generate", ROOT / "proto" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_stubs_match_the_proto() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "proto" / "generate.py"), "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_check_looks_at_the_proto_and_the_locked_generator_only(
    generate: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = generate.locked_version()
    assert generate.stale_stamps(locked) == []
    # A newer grpcio-tools on PyPI (or installed by hand) changes nothing: only the lock's pin counts.
    monkeypatch.setattr(generate, "installed_version", lambda: "99.0.0")
    assert generate.check() == 0
    # A different pin in the lock, or a changed .proto, makes every stub stale, and says why.
    assert generate.stale_stamps("99.0.0") == [
        f"{name}: generated with grpcio-tools {locked}, the lock pins 99.0.0" for name in generate.OUTPUTS]
    proto = tmp_path / "proto" / generate.PROTO
    proto.parent.mkdir(parents=True)
    proto.write_text((ROOT / "proto" / generate.PROTO).read_text() + "\n// one more line\n")
    monkeypatch.setattr(generate, "ROOT", tmp_path)
    (tmp_path / "lattice_proto").symlink_to(STUBS)
    assert generate.stale_stamps(locked) == [
        f"{name}: {generate.PROTO} changed since it was generated" for name in generate.OUTPUTS]


def test_locked_version_reads_the_pin(generate: ModuleType, tmp_path: Path) -> None:
    lock = tmp_path / "dev.txt"
    lock.write_text("grpcio==1.2.3 \\\n    --hash=sha256:00\ngrpcio-tools==1.2.4 \\\n    --hash=sha256:11\n")
    assert generate.locked_version(lock) == "1.2.4"


def _floor(requirements: list[str], name: str) -> Version:
    for line in requirements:
        req = Requirement(line)
        if req.name == name:
            return min(Version(s.version) for s in req.specifier if s.operator == ">=")
    raise AssertionError(f"{name} not in pyproject.toml")


def test_pyproject_asks_for_runtimes_that_load_the_stubs() -> None:
    """The stubs refuse older grpcio/protobuf at import: pip users must not be allowed to get them."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    grpc_needs = re.search(r"^GRPC_GENERATED_VERSION = '([^']+)'", (STUBS / "agent_pb2_grpc.py").read_text(), re.M)
    protobuf_needs = re.search(r"^# Protobuf Python Version: (\S+)", (STUBS / "agent_pb2.py").read_text(), re.M)
    assert grpc_needs and protobuf_needs
    assert _floor(deps, "grpcio") >= Version(grpc_needs.group(1))
    assert _floor(deps, "protobuf") >= Version(protobuf_needs.group(1))


def test_stubs_import_and_round_trip() -> None:
    from lattice_proto import agent_pb2 as pb

    msg = pb.AgentMessage(heartbeat=pb.Heartbeat(state=pb.AGENT_STATE_READY, unix_millis=1))
    assert pb.AgentMessage.FromString(msg.SerializeToString()) == msg
    assert {f.name for f in pb.CellCommand.DESCRIPTOR.oneofs_by_name["command"].fields} >= {
        "kubernetes_request", "cancel", "credit", "move_batch", "move_complete", "exec_stdin", "welcome"}
    assert {f.name for f in pb.AgentMessage.DESCRIPTOR.oneofs_by_name["payload"].fields} >= {
        "ready", "bootstrap_complete", "heartbeat", "subtree_state", "kubernetes_response", "move_ack",
        "move_complete_ack", "cluster_deleting", "exec_data"}
