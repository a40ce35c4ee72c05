"""The bilateral mesh compiler: agreed edges between LatticeServices (and to LatticeExternalServices)
in, network and authorization policies, L7 traffic rules and ingress out.

``resolve_mesh(ctx)`` (``compile``) is a service's mesh part; ``graph`` agrees the edges (traffic
flows only when the caller declares the callee outbound *and* the callee the caller inbound);
``network_policy`` (Cilium), ``authorization_policy`` (Istio), ``traffic`` (retries, timeouts, rate
limits), ``ingress`` (Gateway API) and ``vocabulary`` (API versions, selectors, principals) build
the objects; ``external`` compiles a LatticeExternalService and ``namespace`` a namespace's
waypoint. Pure: imports ``crds`` and the shared ``hooks.context``/``names``/``labels``/``durations``.
"""

from hooks.mesh.compile import MeshResult, resolve_mesh

__all__ = ["MeshResult", "resolve_mesh"]
