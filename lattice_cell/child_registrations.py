"""Which direct children this cell has registered, read from its own cluster, for the route-
ownership rule (docs/tunnel.md, "Route ownership").

A child is registered here by a LatticeCluster object (the cluster this one provisions) or by a
bootstrap record (`lattice-bootstrap-<name>`, written by `issue-token`). Both survive a restart of
the cell, so a disconnected child's name stays its own before its agent reconnects. The cell polls
both lists at start and then on its maintenance tick (every minute); a name that was registered
and is now in neither list — its LatticeCluster and its bootstrap record deleted — is released.
A poll that cannot read a list changes nothing.
"""

from __future__ import annotations

import logging

import crds
from lattice_cell.bootstrap_tokens import TokenStore
from lattice_cell.subtree import SubtreeRegistry
from lattice_tunnel.kube_api import KubeApi

log = logging.getLogger(__name__)


class ChildRegistrations:
    def __init__(self, subtree: SubtreeRegistry, tokens: TokenStore, kube: KubeApi | None = None) -> None:
        self.subtree = subtree
        self.tokens = tokens
        self.kube = kube
        self.known: set[str] = set()

    async def current(self) -> set[str]:
        """The registered names now (raises when a list cannot be read)."""
        names = set(await self.tokens.clusters())
        if self.kube is not None:
            clusters = await self.kube.list_objects(crds.API_VERSION, "latticeclusters", None)
            names |= {str(c["metadata"]["name"]) for c in clusters or []}  # None: the CRD is not installed
        names.discard(self.subtree.self_name)  # a pivoted cluster holds its own LatticeCluster
        return names

    async def poll(self) -> None:
        try:
            names = await self.current()
        except Exception as exc:  # an unreadable list must not release anybody
            log.warning("cannot read this cluster's child registrations: %s", exc)
            return
        for gone in sorted(self.known - names):
            log.info("cluster %s is no longer registered here (LatticeCluster and bootstrap record gone)", gone)
            self.subtree.release(gone)
        self.subtree.register_children(names)
        self.known = names
