"""The lock (requirements/*.txt) satisfies pyproject.toml: a dependency added to pyproject.toml without
``make lock`` fails here, with the command that fixes it, not later as an ImportError on a fresh clone."""

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def pins(name: str) -> dict[str, Version]:
    text = (ROOT / "requirements" / name).read_text()
    return {canonicalize_name(m[1]): Version(m[2]) for m in _PIN.finditer(text)}


def unmet(requirements: list[str], locked: dict[str, Version]) -> list[str]:
    out = []
    for line in requirements:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate({"sys_platform": "linux", "extra": ""}):
            continue
        version = locked.get(canonicalize_name(req.name))
        if version is None or not req.specifier.contains(version, prereleases=True):
            out.append(f"{line} (locked: {version or 'nothing'})")
    return out


def test_dev_lock_satisfies_every_requirement_of_pyproject() -> None:
    wanted = PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["test"] \
        + PYPROJECT["build-system"]["requires"]
    assert unmet(wanted, pins("dev.txt")) == [], "run: make lock"


def test_runtime_lock_is_the_runtime_part_of_the_dev_lock() -> None:
    runtime, dev = pins("runtime.txt"), pins("dev.txt")
    wanted = PYPROJECT["project"]["dependencies"] + PYPROJECT["build-system"]["requires"]
    assert unmet(wanted, runtime) == [], "run: make lock"
    assert {name: (version, dev.get(name)) for name, version in runtime.items() if dev.get(name) != version} == {}


def test_every_pin_carries_hashes() -> None:
    for name in ("runtime.txt", "dev.txt"):
        blocks = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / "requirements" / name).read_text())
        unhashed = [b.split()[0] for b in blocks if _PIN.match(b) and "--hash=sha256:" not in b]
        assert unhashed == [], f"{name}: pins without hashes"
        assert len(pins(name)) > 10
