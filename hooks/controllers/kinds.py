"""Every kind a Lattice controller reads or writes, with the apiVersion and plural Metacontroller
needs. The versions are those the compilers emit (a child of another version would not be
watched, and the controllers refuse it)."""

from __future__ import annotations

import crds
from hooks.cluster import apis as capi
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
CUSTOM_RESOURCE_DEFINITION = Kind("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions",
                                  namespaced=False)
NAMESPACE = Kind("v1", "Namespace", "namespaces", namespaced=False)
SERVICE_ACCOUNT = Kind("v1", "ServiceAccount", "serviceaccounts")
SERVICE = Kind("v1", "Service", "services")
CONFIG_MAP = Kind("v1", "ConfigMap", "configmaps")
PVC = Kind("v1", "PersistentVolumeClaim", "persistentvolumeclaims")
DEPLOYMENT = Kind("apps/v1", "Deployment", "deployments")
STATEFUL_SET = Kind("apps/v1", "StatefulSet", "statefulsets")
ROLE_BINDING = Kind("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings")
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
CLOUD_PROVIDER = Kind(crds.API_VERSION, "CloudProvider", "cloudproviders")
LEASE = Kind("coordination.k8s.io/v1", "Lease", "leases")

# Cluster API (the versions hooks.cluster emits: v1.13 core and kubeadm, the providers' storage versions)
CAPI_CLUSTER = Kind(capi.CLUSTER.api_version, "Cluster", "clusters")
MACHINE_DEPLOYMENT = Kind(capi.MACHINE_DEPLOYMENT.api_version, "MachineDeployment", "machinedeployments")
KUBEADM_CONTROL_PLANE = Kind(capi.KUBEADM_CONTROL_PLANE.api_version, "KubeadmControlPlane", "kubeadmcontrolplanes")
KUBEADM_CONFIG_TEMPLATE = Kind(capi.KUBEADM_CONFIG_TEMPLATE.api_version, "KubeadmConfigTemplate",
                               "kubeadmconfigtemplates")
RKE2_CONTROL_PLANE = Kind(capi.RKE2_CONTROL_PLANE.api_version, "RKE2ControlPlane", "rke2controlplanes")
RKE2_CONFIG_TEMPLATE = Kind(capi.RKE2_CONFIG_TEMPLATE.api_version, "RKE2ConfigTemplate", "rke2configtemplates")
DEV_CLUSTER = Kind(capi.DEV_CLUSTER.api_version, "DevCluster", "devclusters")
DEV_MACHINE_TEMPLATE = Kind(capi.DEV_MACHINE_TEMPLATE.api_version, "DevMachineTemplate", "devmachinetemplates")
AWS_CLUSTER = Kind(capi.AWS_CLUSTER.api_version, "AWSCluster", "awsclusters")
AWS_MACHINE_TEMPLATE = Kind(capi.AWS_MACHINE_TEMPLATE.api_version, "AWSMachineTemplate", "awsmachinetemplates")
AWS_STATIC_IDENTITY = Kind(capi.AWS_STATIC_IDENTITY.api_version, "AWSClusterStaticIdentity",
                           "awsclusterstaticidentities", namespaced=False)
AWS_ROLE_IDENTITY = Kind(capi.AWS_ROLE_IDENTITY.api_version, "AWSClusterRoleIdentity", "awsclusterroleidentities",
                         namespaced=False)
OPENSTACK_CLUSTER = Kind(capi.OPENSTACK_CLUSTER.api_version, "OpenStackCluster", "openstackclusters")
OPENSTACK_MACHINE_TEMPLATE = Kind(capi.OPENSTACK_MACHINE_TEMPLATE.api_version, "OpenStackMachineTemplate",
                                  "openstackmachinetemplates")
PROXMOX_CLUSTER = Kind(capi.PROXMOX_CLUSTER.api_version, "ProxmoxCluster", "proxmoxclusters")
PROXMOX_MACHINE_TEMPLATE = Kind(capi.PROXMOX_MACHINE_TEMPLATE.api_version, "ProxmoxMachineTemplate",
                                "proxmoxmachinetemplates")
