"""Moving a cluster's Cluster API objects between API servers with ``clusterctl move`` semantics
(the pivot, parent → child, and the unpivot, child → parent), through the tunnel.

Pure parts: the names both sides agree on (``names``), which kinds move (``resources``), the
object graph and its topological batches (``graph``), how an object is exported and imported
(``manifest``), the Move* messages (``wire``), what a child's agent may write — its RBAC and the
allow-list the importer enforces, one table (``agent_rights``). I/O parts, over ``lattice_tunnel.kube_api``:
``kube`` (generic object access with discovery), ``exporter`` (pause, collect, delete the source
with ``delete-for-move``), ``importer`` (create in order, owners rebuilt through a source→target
UID map kept on the objects, resume after a crash). The cell drives a move and the agent imports
it (or the other way round for an unpivot); both use this package, neither imports the other.

Imports ``lattice_tunnel``, ``lattice_proto`` and ``crds``.
"""
