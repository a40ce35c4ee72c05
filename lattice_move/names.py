"""Annotations, labels and finalizer rules both sides of a move agree on (docs/pivot.md)."""

from __future__ import annotations

# Cluster API's conventions (clusterctl move).
DELETE_FOR_MOVE = "clusterctl.cluster.x-k8s.io/delete-for-move"  # the source object goes, its infrastructure stays
CLUSTERCTL_LABEL = "clusterctl.cluster.x-k8s.io"  # on CRDs installed by clusterctl: the kind moves
MOVE_LABEL = "clusterctl.cluster.x-k8s.io/move"  # every object of the kind moves
MOVE_HIERARCHY_LABEL = "clusterctl.cluster.x-k8s.io/move-hierarchy"  # ... with everything it owns
CLUSTER_NAME_LABEL = "cluster.x-k8s.io/cluster-name"
PAUSED_ANNOTATION = "cluster.x-k8s.io/paused"  # how a ClusterClass is paused
CAPI_GROUP_SUFFIX = "cluster.x-k8s.io"

# Lattice's own marks.
SOURCE_UID = "lattice.dev/source-uid"  # on every imported object: the UID it had on the source
IMPORTED_FROM = "lattice.dev/imported-from"  # on the target's copy of the LatticeCluster: the source cluster
IMPORT_COMPLETE = "lattice.dev/import-complete"  # ... "true" once the move finished there (later batches are no-ops)

# Set by the pivot driver on the parent's LatticeCluster (the contract with the LatticeCluster hook).
PIVOT_PHASE = "lattice.dev/pivot-phase"  # Started | Complete
PIVOT_IMPORTED = "lattice.dev/pivot-imported"  # "true": the child acknowledged MoveComplete; never unpause the source
PIVOT_MESSAGE = "lattice.dev/pivot-message"  # the last failure, for people (lattice get cluster)
UNPIVOT_PHASE = "lattice.dev/unpivot-phase"  # Imported: the objects came back from the child

# Annotations an imported object must not carry over.
DROPPED_ANNOTATIONS = frozenset({
    DELETE_FOR_MOVE,
    "kubectl.kubernetes.io/last-applied-configuration",
    PIVOT_PHASE, PIVOT_IMPORTED, PIVOT_MESSAGE, UNPIVOT_PHASE,
})
# Metadata the target API server assigns itself.
SERVER_METADATA = ("uid", "resourceVersion", "creationTimestamp", "generation", "selfLink", "managedFields",
                   "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences", "generateName")
