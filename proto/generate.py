"""Regenerate (or check) the committed gRPC stubs in lattice_proto/ from proto/lattice_proto/*.proto.

    python proto/generate.py          # rewrite lattice_proto/agent_pb2*.py{,i} with the locked grpcio-tools
    python proto/generate.py --check  # exit 1 if the committed stubs are stale

What decides whether the stubs are stale is what they are made from: the ``.proto`` file and the
grpcio-tools version the lock (requirements/dev.txt) pins. Each stub's first line records both, so a
newer grpcio-tools release on PyPI never makes a fresh clone fail. When the installed grpcio-tools is
the locked one (as after ``make setup``), ``--check`` also regenerates and compares byte for byte,
which catches hand edits. To move to a new generator: ``make lock-upgrade`` (or bump grpcio-tools in
the lock), ``make setup``, then this script without ``--check``, and commit the stubs with the lock.

Run from anywhere; paths are resolved relative to the repository root.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "dev.txt"
PROTO = "lattice_proto/agent.proto"
OUTPUTS = ["agent_pb2.py", "agent_pb2.pyi", "agent_pb2_grpc.py"]
GENERATOR = "grpcio-tools"
# Generated code is not ours to lint or type-check (protobuf ships no stubs here).
UNCHECKED = ("agent_pb2.pyi", "agent_pb2_grpc.py")
_STAMP = re.compile(
    r"^# lattice_proto stamp: (?P<generator>\S+)=(?P<version>\S+) (?P<proto>\S+) sha256=(?P<digest>\w+)$")


def locked_version(lock: Path = LOCK) -> str:
    """The grpcio-tools version the lock pins."""
    found = re.search(rf"^{re.escape(GENERATOR)}==([^\s;\\]+)", lock.read_text(), re.MULTILINE)
    if found is None:
        raise SystemExit(f"{lock.relative_to(ROOT)} pins no {GENERATOR}; run: make lock")
    return found.group(1)


def installed_version() -> str | None:
    try:
        return importlib.metadata.version(GENERATOR)
    except importlib.metadata.PackageNotFoundError:
        return None


def stamp(version: str) -> str:
    """The first line of every stub: the generator version and the digest of the .proto it came from."""
    digest = hashlib.sha256((ROOT / "proto" / PROTO).read_bytes()).hexdigest()
    return f"# lattice_proto stamp: {GENERATOR}={version} {PROTO} sha256={digest}"


def generate(out_dir: Path, version: str) -> None:
    from grpc_tools import protoc  # imported lazily: grpcio-tools is a test/dev dependency

    include = Path(protoc.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{ROOT / 'proto'}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        str(ROOT / "proto" / PROTO),
    ]
    if protoc.main(args) != 0:
        raise SystemExit(f"protoc failed for {PROTO}")
    for name in OUTPUTS:
        path = out_dir / "lattice_proto" / name
        header = stamp(version) + "\n"
        if name in UNCHECKED:
            header += "# mypy: ignore-errors\n# ruff: noqa\n"
        path.write_text(header + path.read_text())


def stale_stamps(version: str) -> list[str]:
    """Why each committed stub does not match the .proto and the locked generator (empty: it does)."""
    want = stamp(version)
    reasons = []
    for name in OUTPUTS:
        path = ROOT / "lattice_proto" / name
        if not path.exists():
            reasons.append(f"{name}: missing")
            continue
        first = path.read_text().split("\n", 1)[0]
        got = _STAMP.match(first)
        if got is None:
            reasons.append(f"{name}: no stamp line")
        elif got["version"] != version:
            reasons.append(f"{name}: generated with {GENERATOR} {got['version']}, the lock pins {version}")
        elif first != want:
            reasons.append(f"{name}: {PROTO} changed since it was generated")
    return reasons


def differences(version: str) -> list[str]:
    """The stubs whose bytes differ from a fresh run of the installed (locked) generator."""
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp), version)
        return [
            f"{name}: differs from a fresh build (edited by hand?)"
            for name in OUTPUTS
            if (Path(tmp) / "lattice_proto" / name).read_bytes() != (ROOT / "lattice_proto" / name).read_bytes()
        ]


def check() -> int:
    version = locked_version()
    stale = stale_stamps(version)
    installed = installed_version()
    if not stale and installed == version:
        stale = differences(version)
    if stale:
        print("stale generated stubs:\n  " + "\n  ".join(stale)
              + f"\nrun, with the locked {GENERATOR} installed (make setup): python proto/generate.py",
              file=sys.stderr)
        return 1
    if installed == version:
        print(f"generated stubs are up to date ({GENERATOR} {version}, compared byte for byte)")
    else:
        print(f"generated stubs match {PROTO} and the locked {GENERATOR} {version} "
              f"(installed: {installed or 'none'}, so no byte comparison)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when stubs are stale")
    args = parser.parse_args()
    if args.check:
        return check()
    version, installed = locked_version(), installed_version()
    if installed != version:
        print(f"error: the lock pins {GENERATOR} {version} but {installed or 'none'} is installed; "
              "run make setup first", file=sys.stderr)
        return 1
    generate(ROOT, version)
    print("regenerated " + ", ".join(f"lattice_proto/{n}" for n in OUTPUTS) + f" with {GENERATOR} {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
