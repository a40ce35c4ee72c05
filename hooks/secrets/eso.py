"""External Secrets Operator API names and the labels Lattice puts on ESO objects.

ESO 0.17 stopped serving ``external-secrets.io/v1beta1``; ``v1`` is the served and storage
version from 0.16 on (the original Lattice still wrote v1beta1).
"""

API_VERSION = "external-secrets.io/v1"
EXTERNAL_SECRET = "ExternalSecret"
CLUSTER_SECRET_STORE = "ClusterSecretStore"
EXTERNAL_SECRETS = "externalsecrets"
CLUSTER_SECRET_STORES = "clustersecretstores"
STORE_CRD = f"{CLUSTER_SECRET_STORES}.external-secrets.io"

# On every ExternalSecret: which service and which of its resources it serves.
SERVICE_LABEL = "lattice.dev/service"
RESOURCE_LABEL = "lattice.dev/secret-resource"

# On every ClusterSecretStore: which SecretsProvider it was made from.
PROVIDER_LABEL = "lattice.dev/secrets-provider"
OWNER_NAMESPACE_LABEL = "lattice.dev/owner-namespace"
OWNER_NAME_LABEL = "lattice.dev/owner-name"
