"""Service compiler tests run without the mesh compiler when it is not there yet.

``hooks.service.compile`` imports ``hooks.service.mesh.resolve_mesh`` as its default mesh step.
The tests pass their own fakes explicitly; only when the real module is absent is an in-memory
stand-in registered (never written to disk) so that the import succeeds.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from typing import Any

import attrs


@attrs.frozen
class _NoMesh:
    children: list[dict[str, Any]] = attrs.field(factory=list)
    resolved: list[Any] = attrs.field(factory=list)
    missing: list[str] = attrs.field(factory=list)


if importlib.util.find_spec("hooks.service.mesh") is None:  # pragma: no cover - until mesh.py lands
    _stub = types.ModuleType("hooks.service.mesh")
    _stub.resolve_mesh = lambda ctx: _NoMesh()  # type: ignore[attr-defined]
    _stub.MeshResult = _NoMesh  # type: ignore[attr-defined]
    sys.modules["hooks.service.mesh"] = _stub
