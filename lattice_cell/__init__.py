"""The parent side of the tunnel (``lattice-cell``): the CA, the gRPC endpoint child agents dial
(``servicer``, ``session``), the registries of agents and of the subtree below (``registry``,
``subtree``), the router that reaches any cluster in it (``router``), the bootstrap webhook and its
one-time tokens (``bootstrap``, ``bootstrap_tokens``, ``manifests``) and the read-only CAPI proxy
(``capi_proxy``, ``http_front``); ``cell`` assembles them. Imports ``lattice_tunnel``,
``lattice_proto`` and ``crds``; never the agent (``lattice_operator`` runs both in one process).
"""
