"""Every kind a Lattice controller reads or writes, with the apiVersion and plural Metacontroller
needs. The versions are those the compilers emit (a child of another version would not be
watched, and the controllers refuse it)."""

from __future__ import annotations

import crds
from hooks.controllers.definition import Kind
from hooks.secrets import eso

# Lattice
LATTICE_SERVICE = Kind(crds.API_VERSION, "LatticeService", "latticeservices")
LATTICE_EXTERNAL_SERVICE = Kind(crds.API_VERSION, "LatticeExternalService", "latticeexternalservices")
CEDAR_POLICY = Kind(crds.API_VERSION, "CedarPolicy", "cedarpolicies")
SECRETS_PROVIDER = Kind(crds.API_VERSION, "SecretsProvider", "secretsproviders")
LATTICE_CLUSTER = Kind(crds.API_VERSION, "LatticeCluster", "latticeclusters", namespaced=False)
PROVISIONER = Kind(crds.API_VERSION, "Provisioner", "provisioners", namespaced=False)

# Kubernetes
NAMESPACE = Kind("v1", "Namespace", "namespaces", namespaced=False)
SERVICE_ACCOUNT = Kind("v1", "ServiceAccount", "serviceaccounts")
SERVICE = Kind("v1", "Service", "services")
CONFIG_MAP = Kind("v1", "ConfigMap", "configmaps")
PVC = Kind("v1", "PersistentVolumeClaim", "persistentvolumeclaims")
DEPLOYMENT = Kind("apps/v1", "Deployment", "deployments")
STATEFUL_SET = Kind("apps/v1", "StatefulSet", "statefulsets")
HPA = Kind("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers")

# Mesh, ingress, certificates, secrets
CILIUM_NETWORK_POLICY = Kind("cilium.io/v2", "CiliumNetworkPolicy", "ciliumnetworkpolicies")
AUTHORIZATION_POLICY = Kind("security.istio.io/v1", "AuthorizationPolicy", "authorizationpolicies")
SERVICE_ENTRY = Kind("networking.istio.io/v1", "ServiceEntry", "serviceentries")
GATEWAY = Kind("gateway.networking.k8s.io/v1", "Gateway", "gateways")
HTTP_ROUTE = Kind("gateway.networking.k8s.io/v1", "HTTPRoute", "httproutes")
CERTIFICATE = Kind("cert-manager.io/v1", "Certificate", "certificates")
ENVOY_FILTER = Kind("networking.istio.io/v1alpha3", "EnvoyFilter", "envoyfilters")
BACKEND_TRAFFIC_POLICY = Kind("gateway.envoyproxy.io/v1alpha1", "BackendTrafficPolicy", "backendtrafficpolicies")
EXTERNAL_SECRET = Kind(eso.API_VERSION, eso.EXTERNAL_SECRET, eso.EXTERNAL_SECRETS)
PASSWORD_GENERATOR = Kind("generators.external-secrets.io/v1alpha1", "Password", "passwords")
CLUSTER_SECRET_STORE = Kind(eso.API_VERSION, eso.CLUSTER_SECRET_STORE, eso.CLUSTER_SECRET_STORES, namespaced=False)
