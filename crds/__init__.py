"""The Lattice custom resources: one attrs model per kind, and everything derived from them.

Each kind is one attrs class (``crds.service.LatticeService`` ...). From those classes come the
validation (``crds.convert.parse``), the CustomResourceDefinition YAML in this folder
(``python -m crds.generate``) and the field reference in ``docs/crds.md``.

Nothing here does I/O beyond reading/writing the generated files, and nothing imports a
Kubernetes client, starlette or grpc.
"""

from crds._base import Condition, ConditionStatus, FieldError, KubeObject, ObjectMeta, Phase, SecretRef
from crds.cedar_policy import CedarPolicy
from crds.cloud_provider import CloudProvider
from crds.cluster import LatticeCluster
from crds.convert import LatticeObject, ParseResult, dump, parse, parse_as
from crds.external_service import LatticeExternalService
from crds.oidc_provider import OIDCProvider
from crds.provisioner import Provisioner
from crds.secrets_provider import SecretsProvider
from crds.service import LatticeService

GROUP = "lattice.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

KINDS: tuple[type[LatticeObject], ...] = (
    LatticeCluster,
    LatticeService,
    LatticeExternalService,
    CedarPolicy,
    SecretsProvider,
    CloudProvider,
    OIDCProvider,
    Provisioner,
)

__all__ = [
    "API_VERSION",
    "GROUP",
    "KINDS",
    "VERSION",
    "CedarPolicy",
    "CloudProvider",
    "Condition",
    "ConditionStatus",
    "FieldError",
    "KubeObject",
    "LatticeCluster",
    "LatticeExternalService",
    "LatticeObject",
    "LatticeService",
    "OIDCProvider",
    "ObjectMeta",
    "ParseResult",
    "Phase",
    "Provisioner",
    "SecretRef",
    "SecretsProvider",
    "dump",
    "parse",
    "parse_as",
]
