"""The import-linter contracts in pyproject.toml hold, and they are not vacuous: a copy of the tree
with one forbidden import injected fails them, naming the broken contract."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("crds", "hooks", "cli", "lattice_cedar", "lattice_tunnel", "lattice_move", "lattice_agent",
            "lattice_cell", "lattice_operator", "lattice_dev", "lattice_proto")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    # The copy comes first on the path, so grimp reads its packages, not the installed ones.
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_the_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " broken" not in result.stdout.replace("0 broken", "")


@pytest.mark.parametrize(("module", "injected", "contract"), [
    ("hooks/mesh/traffic.py", "import httpx", "Compilers are pure"),
    ("lattice_agent/credentials.py", "import lattice_cell.manifests", "The agent and the cell do not import"),
    ("lattice_cedar/store.py", "import hooks.context", "lattice_cedar imports only crds"),
    ("crds/service.py", "import hooks.labels", "crds imports nothing of ours"),
    ("lattice_dev/launch.py", "import lattice_dev.controlplane", "Inside lattice_dev"),
    ("hooks/secrets/compile.py", "import hooks.service.compile", "Inside hooks"),
    ("lattice_move/graph.py", "import lattice_tunnel.kube_api", "The move's graph, manifests and messages are pure"),
    ("lattice_move/kube.py", "import lattice_cell.cell", "Packages stand in layers"),
])
def test_a_forbidden_import_fails_the_check(tree: Path, module: str, injected: str, contract: str) -> None:
    assert lint_imports(tree).returncode == 0  # the copy is as clean as the tree
    path = tree / module
    path.write_text(path.read_text() + f"\n{injected}  # injected by the test\n")
    result = lint_imports(tree)
    assert result.returncode != 0
    _, _, broken = result.stdout.partition("Broken contracts")
    assert contract in broken, result.stdout
    assert module.removesuffix(".py").replace("/", ".") in broken  # the report names the import


def test_no_private_module_is_imported_from_outside_its_package() -> None:
    """A module whose name starts with ``_`` belongs to its package: nobody else imports it."""
    import ast

    offenders = []
    for path in sorted(p for top in (*PACKAGES, "tests", "bench") for p in (ROOT / top).rglob("*.py")):
        if "_pb2" in path.name:
            continue
        here = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            for name in names:
                parts = name.split(".")
                private = next((i for i, part in enumerate(parts)
                                if part.startswith("_") and not part.endswith("__")), None)
                if private is not None and not here.startswith(".".join(parts[:private]) + "."):
                    offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []
