"""The image is built from the lock and holds every product package (no Docker engine runs here, so
the Dockerfile is checked as text)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _product_packages() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    includes = project["tool"]["setuptools"]["packages"]["find"]["include"]
    return [pattern.rstrip("*") for pattern in includes]


def test_every_product_package_is_copied_into_the_image() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\S+) \1$", dockerfile, flags=re.MULTILINE))
    missing = [p for p in _product_packages() if p not in copied]
    assert not missing, f"Dockerfile does not COPY {missing}"


def test_dependencies_come_from_the_hashed_lock() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--require-hashes" in dockerfile and "requirements/runtime.txt" in dockerfile
