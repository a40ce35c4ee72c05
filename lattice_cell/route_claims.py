"""Who may announce which cluster name: the route-ownership rule of a cell (docs/tunnel.md,
"Route ownership").

A child agent announces its subtree; each entry claims "this cluster is below me". The rule, in
order, for agent `via` claiming `name`:

1. never this cell's own name, nor any of its ancestors (they are above, not below);
2. the agent's own name is always its own (its client certificate proves it), and takes the
   route back from whoever announced it before;
3. the name of another *direct* child — one registered here (a LatticeCluster or a bootstrap
   record on this cluster) or one whose agent has connected here — belongs to that child only,
   connected or not;
4. a name already routed through another child stays with that child, connected or not, until
   that child withdraws it or its registration is removed;
5. names must be cluster names (DNS labels), and one child may route at most
   `MAX_ROUTES_PER_CHILD` names.

A refused claim is ignored (the rest of the message still applies), logged, and counted in
`lattice_cell_route_claims_refused_total{reason}`. This module is the pure decision; the
`SubtreeRegistry` applies it.
"""

from __future__ import annotations

import enum
from collections.abc import Collection

from prometheus_client import Counter

from lattice_tunnel import pki

MAX_ROUTES_PER_CHILD = 10_000

REFUSED_TOTAL = Counter("lattice_cell_route_claims_refused_total",
                        "Subtree entries a child agent announced and this cell refused", ["reason"])


class Refusal(enum.StrEnum):
    OWN_CELL = "own-cell"  # the cell's own name
    ANCESTOR = "ancestor"  # a cluster above this cell
    DIRECT_CHILD = "direct-child"  # another direct child's name
    OWNED_BY_SIBLING = "owned-by-sibling"  # already routed through another child
    INVALID_NAME = "invalid-name"  # not a cluster name
    TOO_MANY = "too-many"  # over MAX_ROUTES_PER_CHILD


def valid_name(name: str) -> bool:
    try:
        pki.validate_cluster_name(name)
    except pki.PkiError:
        return False
    return True


def judge(via: str, name: str, *, cell: str, ancestors: Collection[str], direct_children: Collection[str],
          current_via: str | None, routes_of_via: int) -> Refusal | None:
    """None when `via` may route `name`; else why not. `current_via`: who routes it now."""
    if not valid_name(name):
        return Refusal.INVALID_NAME
    if name == cell:
        return Refusal.OWN_CELL
    if name in ancestors:
        return Refusal.ANCESTOR
    if name == via:
        return None
    if name in direct_children:
        return Refusal.DIRECT_CHILD
    if current_via is not None and current_via != via:
        return Refusal.OWNED_BY_SIBLING
    if current_via is None and routes_of_via >= MAX_ROUTES_PER_CHILD:
        return Refusal.TOO_MANY
    return None
