"""Every Lattice controller Metacontroller runs, as data plus pure hook functions.

One module per controller (``latticeservice``, ``latticeexternalservice``, ``cedarpolicy``,
``secretsprovider`` (+ the ``secret-stores`` decorator), ``latticecluster`` (with ``cluster_observed``),
``cloudprovider``, ``latticenamespace``).
Each hook maps a decoded request to a response and never does I/O; the HTTP edge is
``hooks.server.app``, the Metacontroller objects come from ``hooks.controllers_manifest``, and
``lattice render`` runs the same hooks offline. Nothing here imports starlette or uvicorn.
"""

from __future__ import annotations

from hooks.controllers import (
    cedarpolicy,
    cloudprovider,
    latticecluster,
    latticeexternalservice,
    latticenamespace,
    latticeservice,
    secretsprovider,
)
from hooks.controllers.definition import Composite, Controller, Decorator

CONTROLLERS: tuple[Controller, ...] = (
    latticeservice.CONTROLLER,
    latticeexternalservice.CONTROLLER,
    latticenamespace.CONTROLLER,
    cedarpolicy.CONTROLLER,
    secretsprovider.PROVIDER,
    secretsprovider.STORES,
    latticecluster.CONTROLLER,
    cloudprovider.CONTROLLER,
)


def by_name(name: str) -> Controller:
    for c in CONTROLLERS:
        if c.name == name:
            return c
    raise KeyError(name)


__all__ = ["CONTROLLERS", "Composite", "Controller", "Decorator", "by_name"]
