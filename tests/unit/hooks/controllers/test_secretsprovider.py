"""hooks.controllers.secretsprovider: the provider's status and the secret-stores decorator."""

from __future__ import annotations

import orjson

from hooks import wire
from hooks.context import ClusterIdentity
from hooks.controllers import secretsprovider
from hooks.controllers.definition import HookConfig
from tests.unit.hooks.support import FakeMetacontroller, docs, in_process

CFG = HookConfig(cluster=ClusterIdentity(name="prod", provider="aws"))
API = "lattice.dev/v1alpha1"


PROVIDERS = """
apiVersion: lattice.dev/v1alpha1
kind: SecretsProvider
metadata: {name: vault, namespace: lattice-system}
spec: {server: "https://vault:8200", authMethod: kubernetes}
---
apiVersion: lattice.dev/v1alpha1
kind: SecretsProvider
metadata: {name: broken, namespace: lattice-system}
spec: {server: "https://vault:8200", authMethod: token}
"""


def test_secrets_provider_status_follows_the_store() -> None:
    mc = FakeMetacontroller(in_process(CFG))
    mc.apply_yaml(PROVIDERS)
    rules = mc.customize(mc.get("SecretsProvider", "lattice-system", "vault"))["relatedResources"]
    assert {"apiVersion": "external-secrets.io/v1", "resource": "clustersecretstores", "names": ["vault"]} in rules
    # No ESO CRD among the objects: Pending, waiting for ESO
    assert mc.sync("SecretsProvider", "lattice-system", "vault")["status"]["phase"] == "Pending"
    broken = mc.sync("SecretsProvider", "lattice-system", "broken")["status"]
    assert broken["phase"] == "Failed" and "credentialsSecretRef" in broken["message"]


def test_secret_stores_decorator_owns_one_store_per_usable_provider() -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lattice-system"}}
    providers = {wire.object_key(p): p for p in docs(PROVIDERS)}
    req = wire.DecoratorSyncRequest(object=ns, related={"SecretsProvider.lattice.dev/v1alpha1": providers})
    response = secretsprovider.STORES.run_sync(req, CFG).response
    assert [(a["kind"], a["metadata"]["name"]) for a in response.attachments] == [("ClusterSecretStore", "vault")]
    assert "namespace" not in response.attachments[0]["metadata"]
    rules = secretsprovider.STORES.run("customize", orjson.dumps({"parent": ns}), CFG).response.to_json()
    assert rules == {"relatedResources": [{"apiVersion": API, "resource": "secretsproviders",
                                           "namespace": "lattice-system"}]}
