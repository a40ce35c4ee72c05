"""Regenerate (or check) the committed gRPC stubs in lattice_proto/ from proto/lattice_proto/*.proto.

    python proto/generate.py          # rewrite lattice_proto/agent_pb2*.py{,i}
    python proto/generate.py --check  # exit 1 if the committed stubs differ from a fresh build

Run from anywhere; paths are resolved relative to the repository root.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ["lattice_proto/agent.proto"]
OUTPUTS = ["agent_pb2.py", "agent_pb2.pyi", "agent_pb2_grpc.py"]


def generate(out_dir: Path) -> None:
    from grpc_tools import protoc  # imported lazily: grpcio-tools is a test/dev dependency

    include = Path(protoc.__file__).parent / "_proto"
    for proto in PROTOS:
        args = [
            "protoc",
            f"-I{ROOT / 'proto'}",
            f"-I{include}",
            f"--python_out={out_dir}",
            f"--pyi_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            str(ROOT / "proto" / proto),
        ]
        if protoc.main(args) != 0:
            raise SystemExit(f"protoc failed for {proto}")
    # Generated code is not ours to lint or type-check (protobuf ships no stubs here).
    for name in ("agent_pb2.pyi", "agent_pb2_grpc.py"):
        path = out_dir / "lattice_proto" / name
        path.write_text("# mypy: ignore-errors\n# ruff: noqa\n" + path.read_text())


def differences() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        return [
            name
            for name in OUTPUTS
            if not (ROOT / "lattice_proto" / name).exists()
            or not filecmp.cmp(Path(tmp) / "lattice_proto" / name, ROOT / "lattice_proto" / name, shallow=False)
        ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when stubs are stale")
    args = parser.parse_args()
    if args.check:
        stale = differences()
        if stale:
            print(f"stale generated stubs: {', '.join(stale)}; run: python proto/generate.py", file=sys.stderr)
            return 1
        print("generated stubs are up to date")
        return 0
    generate(ROOT)
    print("regenerated " + ", ".join(f"lattice_proto/{n}" for n in OUTPUTS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
