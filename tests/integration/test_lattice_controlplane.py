"""Lattice on the real control loop (the ``lattice_loop`` fixture, tests/integration/conftest.py):
kube-apiserver + etcd + kube-controller-manager (garbage collector), the upstream CRD schemas, the
real Metacontroller v4.17.2 running the controllers ``manifests/`` ships with the flags it ships,
acting as its ServiceAccount, and ``lattice-hooks`` as a process on loopback.

Every test works in its own namespace (``lt-<what>-<random>``). Waits are bounded and say what
they waited for. Nothing here polls on Metacontroller's behalf: what happens is what
Metacontroller's informers, work queues and retries make happen.
"""

from __future__ import annotations

import json
import re
import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from live import API, SERVICE_CHILDREN, LatticeLoop, docs, examples, permit, wait

from hooks.controllers_manifest import controller_objects

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
LATTICE_CRDS = ("cedarpolicies", "cloudproviders", "latticeclusters", "latticeexternalservices",
                "latticeservices", "oidcproviders", "provisioners", "secretsproviders")


def _clean(live: LatticeLoop, ns: str, upstream_race: str = "") -> None:
    """Nothing in ``ns`` was refused: no Warning event from Metacontroller, no error in its log.
    ``upstream_race``: a regex of one known, harmless Metacontroller race the test provokes."""
    def real(errors: list[str]) -> list[str]:
        return [e for e in errors if not (upstream_race and re.search(upstream_race, e))]

    assert real(live.sync_errors(ns)) == []
    assert real(live.metacontroller_errors(pattern=f'"{ns}"|{ns}/')) == []


# ---- install ------------------------------------------------------------------------------------


def test_crds_and_manifests_apply(lattice_loop: LatticeLoop) -> None:
    cp = lattice_loop.cp
    assert cp.kubectl("apply", "-k", str(ROOT / "crds")).returncode == 0
    # The README's `kubectl apply -f crds/` is all a user needs (the Kustomization file has no
    # .yaml extension, so -f skips it).
    plain = cp.kubectl("apply", "-f", str(ROOT / "crds"), check=False)
    assert plain.returncode == 0, plain.stderr
    for p in LATTICE_CRDS:
        assert f"customresourcedefinition.apiextensions.k8s.io/{p}.lattice.dev" in plain.stdout
    # manifests/ as shipped (hooks at the in-cluster Service, Lattice's Metacontroller included) is
    # accepted entirely, the metacontroller.k8s.io objects too (their CRDs are installed).
    built = [d for d in yaml.safe_load_all(cp.kubectl("kustomize", str(ROOT / "manifests")).stdout) if d]
    out = cp.kubectl("apply", "-k", str(ROOT / "manifests"), "--dry-run=server", check=False)
    assert out.returncode == 0, out.stderr
    accepted = {(line.split("/")[0].split(".")[0], line.split("/")[1].split()[0])
                for line in out.stdout.splitlines() if line.endswith("(server dry run)")}
    assert accepted == {(d["kind"].lower(), d["metadata"]["name"]) for d in built}, out.stdout
    controllers = {d["metadata"]["name"] for d in built if d["apiVersion"].startswith("metacontroller.k8s.io/")}
    assert controllers == {o["metadata"]["name"] for o in controller_objects("http://x")}
    assert ("statefulset", "lattice-metacontroller") in accepted
    # What the loop runs is what manifests/ ships, hooks aside.
    for shipped in controller_objects("http://x"):
        live_obj = cp.get_json(shipped["kind"].lower(), shipped["metadata"]["name"])
        live_hooks = {h: w["webhook"]["url"].split("/hooks/")[1] for h, w in live_obj["spec"]["hooks"].items()}
        assert live_hooks == {h: w["webhook"]["url"].split("/hooks/")[1] for h, w in shipped["spec"]["hooks"].items()}
        assert {k: v for k, v in live_obj["spec"].items() if k != "hooks"} == \
            {k: v for k, v in shipped["spec"].items() if k != "hooks"}
        assert all(w["webhook"]["url"].startswith(lattice_loop.hooks.url + "/hooks/")
                   for w in live_obj["spec"]["hooks"].values())


@pytest.mark.parametrize(("patch", "field", "message"), [
    ({"replicas": {"min": "two"}}, "spec.replicas.min", "must be of type integer"),
    ({"deploy": {"strategy": "bluegreen"}}, "spec.deploy.strategy", "Unsupported value"),
    # The limits (crds/limits.py) are in the schema: oversized objects never reach a hook.
    ({"containers": {f"c{i}": {"image": "example/app:1"} for i in range(17)}}, "spec.containers", "Too many"),
    ({"containers": {"main": {"image": "example/app:1", "variables": {"A": "x" * 40_000}}}},
     "spec.containers.main.variables.A", "Too long"),
])
def test_schema_invalid_service_rejected(lattice_loop: LatticeLoop, patch: dict[str, Any], field: str,
                                         message: str) -> None:
    ns = lattice_loop.namespace("schema")
    obj = {"apiVersion": API, "kind": "LatticeService", "metadata": {"name": "bad", "namespace": ns},
           "spec": {"containers": {"main": {"image": "example/app:1"}}, **patch}}
    out = lattice_loop.cp.kubectl("apply", "-f", "-", input=json.dumps(obj), check=False)
    assert out.returncode != 0 and field in out.stderr and message in out.stderr, out.stderr
    assert lattice_loop.lattice("latticeservices", ns, "bad") is None


# ---- services -------------------------------------------------------------------------------------


def test_examples_compile_into_owned_schema_valid_children(lattice_loop: LatticeLoop) -> None:
    live = lattice_loop
    ns = live.namespace("svc")
    live.apply(permit(ns))
    # web-frontend calls api-gateway, which does not exist yet: Compiling, then Ready once it does.
    live.apply(examples(ns, "web-frontend"))
    compiling = live.wait_phase("latticeservices", ns, "web-frontend", "Compiling")
    assert "api-gateway" in compiling["status"]["message"]
    live.apply(examples(ns, "api-gateway", "auth-service", "redis", "asset-store", "stripe-api"))
    services = {n: live.wait_phase("latticeservices", ns, n, "Ready")
                for n in ("api-gateway", "auth-service", "redis", "asset-store", "web-frontend")}
    stripe = live.wait_phase("latticeexternalservices", ns, "stripe-api", "Ready")

    children: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    for name, svc in services.items():
        owned = live.owned(svc, ns)
        for obj in owned.values():
            assert obj["metadata"]["labels"]["controller-uid"] == svc["metadata"]["uid"]
            ref = next(r for r in obj["metadata"]["ownerReferences"] if r.get("controller"))
            assert (ref["kind"], ref["name"], ref["blockOwnerDeletion"]) == ("LatticeService", name, True)
        children[name] = owned
    kinds = {kind for owned in children.values() for kind, _ in owned}
    assert kinds == set(SERVICE_CHILDREN), f"child kinds never produced: {set(SERVICE_CHILDREN) - kinds}"
    assert ("Deployment", "api-gateway") in children["api-gateway"]
    assert ("ExternalSecret", "api-gateway-db-creds") in children["api-gateway"]
    assert ("BackendTrafficPolicy", "web-frontend-ratelimit") in children["web-frontend"]
    assert set(live.owned(stripe, ns)) == {("ServiceEntry", "stripe-api")}
    # The namespace owns the shared waypoint and carries the mesh labels (latticenamespace decorator).
    namespace = live.get("v1", "namespaces", None, ns)
    assert namespace is not None and namespace["metadata"]["labels"].get("istio.io/use-waypoint") == f"{ns}-waypoint"
    waypoint = wait("the waypoint", lambda: live.get("gateway.networking.k8s.io/v1", "gateways", ns, f"{ns}-waypoint"),
                    15)
    assert [(r["kind"], r["name"]) for r in waypoint["metadata"]["ownerReferences"]] == [("Namespace", ns)]
    # The decorator also runs for `default` (its selector admits it) but writes nothing to a
    # namespace without a LatticeService: no mesh label, no waypoint.
    default = live.get("v1", "namespaces", None, "default") or {}
    assert not {k for k in default["metadata"].get("labels") or {} if k.startswith("istio.io/")}
    assert live.get("gateway.networking.k8s.io/v1", "gateways", "default", "default-waypoint") is None
    # It settles: once the statuses written last have re-synced their related peers, nothing in the
    # namespace is written any more. A status or label that differed on every sync would loop.
    live.settled(ns)
    _clean(live, ns)


# Every field of the LatticeService spec the compiler turns into something, across two namespaces.
EVERYTHING = """
apiVersion: lattice.dev/v1alpha1
kind: LatticeService
metadata: {name: sink}
spec:
  containers:
    main:
      image: example/sink:1.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
      command: ["/bin/sink"]
      args: ["--port", "8080"]
      variables:
        PEER_URL: "${resources.peer.url}"
        OTHER_HOST: "${resources.other.host}"
        EXT_URL: "${resources.ext.url}"
        TOKEN: "${resources.tok.token}"
        NAME: "${metadata.name}"
      resources:
        requests: {cpu: "0.5", memory: 64Mi}
        limits: {cpu: 1500m, memory: 1Gi}
      files:
        /etc/sink/app.conf: {content: "peer=${resources.peer.url}\n", mode: "0640"}
        /etc/sink/raw.txt: {content: "literal ${x}", noExpand: true}
        /etc/sink/blob.bin: {binaryContent: "AAECAwQ="}
        /etc/sink/secret.env: {content: "token=${resources.tok.token}\n"}
      volumes:
        /data: {source: "${resources.scratch}"}
        /shared: {source: "${resources.shared}", path: sub, readOnly: true}
      livenessProbe:
        httpGet: {path: /live, port: 8080, scheme: HTTP, httpHeaders: [{name: X-Probe, value: "1"}]}
        initialDelaySeconds: 5
        periodSeconds: 10
      readinessProbe:
        exec: {command: ["cat", "/tmp/ready"]}
      startupProbe:
        httpGet: {path: /start, port: http}
        failureThreshold: 30
      security:
        capabilities: [NET_BIND_SERVICE]
        readOnlyRootFilesystem: true
        runAsNonRoot: true
        runAsUser: 1000
        runAsGroup: 1000
        allowPrivilegeEscalation: false
  sidecars:
    migrate:
      image: example/migrate:2
      init: true
      args: ["up"]
    logger:
      image: example/logger:3
      variables: {TARGET: "${resources.peer.host}"}
      resources: {requests: {cpu: 10m, memory: 16Mi}}
  sysctls: {net.ipv4.ip_unprivileged_port_start: "0"}
  shareProcessNamespace: true
  service:
    ports:
      http: {port: 8080}
      metrics: {port: 9102, targetPort: 9100}
      dns: {port: 5353, protocol: UDP}
  resources:
    peer:
      type: service
      direction: both
      outbound:
        retries: {attempts: 2, perTryTimeout: 2s, retryOn: [5xx, reset]}
        timeout: {request: 10s}
      inbound:
        rateLimit: {requestsPerInterval: 50, intervalSeconds: 10}
    other: {type: service, namespace: __OTHER__, direction: outbound}
    anyone: {type: service, id: "*", direction: inbound}
    ext: {type: external-service, direction: outbound}
    tok: {type: secret, id: __NS__/token, params: {provider: vault-prod, keys: [token], refreshInterval: 15m}}
    all: {type: secret, id: __NS__/all, params: {provider: vault-prod}}
    scratch: {type: volume, params: {size: 1Gi, accessMode: ReadWriteOnce}}
    shared: {type: volume, id: shared-vol, params: {size: 5Gi, accessMode: ReadWriteMany, storageClass: nfs}}
  replicas: {min: 2, max: 4}
  deploy:
    strategy: canary
    canary: {interval: 1m, threshold: 3, maxWeight: 50, stepWeight: 10}
  ingress:
    hosts: [sink.example.com, www.sink.example.com]
    paths:
      - {path: /api, pathType: PathPrefix}
      - {path: /health, pathType: Exact}
    tls: {mode: auto, issuerRef: {name: internal-ca, kind: Issuer}}
    rateLimit: {requestsPerInterval: 10, intervalSeconds: 1, burst: 20}
---
apiVersion: lattice.dev/v1alpha1
kind: LatticeService
metadata: {name: peer}
spec:
  containers: {main: {image: example/peer:1}}
  service: {ports: {grpc: {port: 50051}}}
  resources:
    sink: {type: service, direction: both}
---
apiVersion: lattice.dev/v1alpha1
kind: LatticeExternalService
metadata: {name: ext}
spec:
  endpoints:
    api: "https://api.example.net"
    db: "tcp://10.1.2.3:5432"
    rpc: "grpc://rpc.example.net:9000"
  allowed_requesters: ["*"]
  resolution: dns
"""
OTHER = """
apiVersion: lattice.dev/v1alpha1
kind: LatticeService
metadata: {name: other}
spec:
  containers: {main: {image: example/other:1}}
  service: {ports: {http: {port: 80}}}
  resources:
    sink: {type: service, namespace: __ALL__, direction: inbound}
"""


def test_every_feature_compiles_into_objects_the_apiserver_accepts(lattice_loop: LatticeLoop) -> None:
    live = lattice_loop
    ns, other = live.namespace("all"), live.namespace("other")
    live.apply(permit(ns))
    live.apply(docs(OTHER.replace("__ALL__", ns), other))
    live.apply(docs(EVERYTHING.replace("__OTHER__", other), ns))
    for name in ("sink", "peer"):
        live.wait_phase("latticeservices", ns, name, "Ready")
    live.wait_phase("latticeservices", other, "other", "Ready")
    live.wait_phase("latticeexternalservices", ns, "ext", "Ready")
    sink = live.lattice("latticeservices", ns, "sink")
    assert sink is not None
    owned = live.owned(sink, ns)
    assert {kind for kind, _ in owned} == set(SERVICE_CHILDREN), sorted(owned)
    # Two hosts: the ingress Gateway has four listeners, each with its own name (a three-way merge
    # keyed by port would have collapsed them).
    gateway = owned[("Gateway", "sink-gateway")]
    assert len({listener["name"] for listener in gateway["spec"]["listeners"]}) == 4, gateway["spec"]["listeners"]
    # "other" accepts sink from ns by a wildcard inbound without namespace: it relates every
    # namespace's services (a rule without namespace), so it sees sink.
    other_svc = live.wait_phase("latticeservices", other, "other", "Ready")
    assert ("sink", "inbound") in {(d["name"], d["direction"]) for d in other_svc["status"]["resolvedDependencies"]}
    _clean(live, ns)
    _clean(live, other)


BILATERAL = """
apiVersion: lattice.dev/v1alpha1
kind: LatticeService
metadata: {name: a}
spec:
  containers: {main: {image: "example/a:1"}}
  service: {ports: {http: {port: 8080}}}
  resources:
    b: {type: service, direction: outbound}
---
apiVersion: lattice.dev/v1alpha1
kind: LatticeService
metadata: {name: b}
spec:
  containers: {main: {image: "example/b:1"}}
  service: {ports: {http: {port: 9090}}}
  resources:
    a: {type: service, direction: inbound}
"""


def _edges(live: LatticeLoop, ns: str) -> tuple[bool, bool, bool]:
    """(A's CNP egress to B, B's CNP ingress from A, A's principal in allow-to-b)."""
    cnp = "cilium.io/v2", "ciliumnetworkpolicies"
    policy_a = live.get(*cnp, ns, "policy-a") or {}
    policy_b = live.get(*cnp, ns, "policy-b") or {}
    allow_b = live.get("security.istio.io/v1", "authorizationpolicies", ns, "allow-to-b") or {}

    def selects(rules: list[dict[str, Any]], key: str, app: str) -> bool:
        return any(sel.get("matchLabels", {}).get("k8s:app.kubernetes.io/name") == app
                   for rule in rules for sel in rule.get(key) or [])

    principals = [p for rule in (allow_b.get("spec") or {}).get("rules") or [] for f in rule.get("from") or []
                  for p in f["source"].get("principals") or []]
    return (selects((policy_a.get("spec") or {}).get("egress") or [], "toEndpoints", "b"),
            selects((policy_b.get("spec") or {}).get("ingress") or [], "fromEndpoints", "a"),
            f"lattice.default.local/ns/{ns}/sa/a" in principals)


def test_bilateral_agreement_and_revocation(lattice_loop: LatticeLoop,
                                            record_property: Callable[[str, Any], None]) -> None:
    live = lattice_loop
    ns = live.namespace("bi")
    live.apply(docs(BILATERAL, ns))
    for name in ("a", "b"):
        live.wait_phase("latticeservices", ns, name, "Ready")
    wait("both sides' rules", lambda: _edges(live, ns) == (True, True, True), 15, lambda: _edges(live, ns))

    def flip(declared: bool) -> float:
        t0 = time.perf_counter()
        live.patch("latticeservices", ns, "b", {"spec": {"resources": {
            "a": {"type": "service", "direction": "inbound"} if declared else None}}})
        want = (declared, declared, declared)
        wait(f"edges {want}", lambda: _edges(live, ns) == want, 15, lambda: _edges(live, ns), interval=0.01)
        return time.perf_counter() - t0

    # Edit of B -> A's and B's CiliumNetworkPolicies and B's AuthorizationPolicy updated in the
    # apiserver: Metacontroller's informers see B's new generation, sync B, and re-sync A (B is
    # one of A's related objects).
    revocations = []
    for _ in range(5):
        revocations.append(flip(False))
        flip(True)
    print(f"\nbilateral revocation (edit -> both sides' rules gone): median {statistics.median(revocations):.2f} s "
          f"({', '.join(f'{t:.2f}' for t in revocations)})")
    record_property("revocation_median_s", statistics.median(revocations))
    flip(False)

    def a_resolves_b() -> bool:  # Metacontroller writes A's status just after its children
        a = live.wait_phase("latticeservices", ns, "a", "Ready")
        return ("b", "outbound") in {(d["name"], d["direction"]) for d in a["status"].get("resolvedDependencies") or []}

    wait("A's status without b", lambda: not a_resolves_b(), 15)
    # B deleted: A's related object is gone, A waits for it again.
    live.cp.kubectl("delete", "latticeservice", "b", "-n", ns, "--wait=false")
    compiling = live.wait_phase("latticeservices", ns, "a", "Compiling")
    assert "b" in compiling["status"]["message"], compiling["status"]
    _clean(live, ns)


SECRET = """
apiVersion: lattice.dev/v1alpha1
kind: LatticeService
metadata: {name: vaulted}
spec:
  containers:
    main:
      image: example/vaulted:1
      variables: {DB_PASS: "${resources.db.password}"}
  resources:
    db: {type: secret, id: __NS__/db, params: {provider: vault-prod, keys: [password]}}
"""


def test_secret_denied_until_a_permit_appears(lattice_loop: LatticeLoop) -> None:
    live = lattice_loop
    ns = live.namespace("sec")
    live.apply(docs(SECRET, ns))
    failed = live.wait_phase("latticeservices", ns, "vaulted", "Failed")
    assert failed["status"]["message"].startswith("secret access denied: "), failed["status"]
    assert "db" in failed["status"]["message"]
    assert live.get("external-secrets.io/v1", "externalsecrets", ns, "vaulted-db") is None
    # A permit in lattice-system: the service turns Ready without being touched, through the related
    # CedarPolicies (the fallback, resyncAfterSeconds, is 30 s: far longer than this wait).
    t0 = time.monotonic()
    live.apply(permit(ns))
    ready = live.wait_phase("latticeservices", ns, "vaulted", "Ready", timeout=10)
    print(f"\nsecret denied -> permit applied -> Ready: {time.monotonic() - t0:.2f} s")
    assert ready["metadata"]["generation"] == failed["metadata"]["generation"] == 1
    secret = wait("ExternalSecret vaulted-db", lambda: live.get("external-secrets.io/v1", "externalsecrets",
                                                               ns, "vaulted-db"), 10)
    assert secret["spec"]["secretStoreRef"] == {"name": "vault-prod", "kind": "ClusterSecretStore"}
    _clean(live, ns)


PLAIN = """
apiVersion: lattice.dev/v1alpha1
kind: LatticeService
metadata: {name: plain}
spec:
  containers: {main: {image: "example/plain:1", variables: {MODE: prod}}}
  service: {ports: {http: {port: 8080}}}
"""


def test_broken_edit_fails_and_keeps_the_running_children(lattice_loop: LatticeLoop) -> None:
    live = lattice_loop
    ns = live.namespace("broken")
    live.apply(docs(PLAIN, ns))
    svc = live.wait_phase("latticeservices", ns, "plain", "Ready")
    before = live.owned(svc, ns)
    live.patch("latticeservices", ns, "plain", {"spec": {"containers": {"main": {"variables": {
        "MODE": "${resources.nope.url}"}}}}})
    failed = live.wait_phase("latticeservices", ns, "plain", "Failed")
    assert "nope" in failed["status"]["message"] and failed["status"]["observedGeneration"] == 2
    live.settled(ns)  # more syncs come and go: still nothing deleted or rewritten
    after = live.owned(svc, ns)
    assert {k: o["metadata"]["uid"] for k, o in after.items()} == {k: o["metadata"]["uid"] for k, o in before.items()}
    assert {k: o.get("spec") for k, o in after.items()} == {k: o.get("spec") for k, o in before.items()}
    env_vars = after[("Deployment", "plain")]["spec"]["template"]["spec"]["containers"][0].get("env") or []
    assert {"name": "MODE", "value": "prod"} in env_vars
    _clean(live, ns)


def test_cedar_policy_valid_and_invalid(lattice_loop: LatticeLoop) -> None:
    live = lattice_loop
    ns = live.namespace("cedar")
    good = {"apiVersion": API, "kind": "CedarPolicy", "metadata": {"name": "good", "namespace": ns},
            "spec": {"policies": 'permit(principal, action == Lattice::Action::"AccessSecret", resource);'}}
    bad = {"apiVersion": API, "kind": "CedarPolicy", "metadata": {"name": "bad", "namespace": ns},
           "spec": {"policies": "permit(principal, action, resource) when { principal.team == };"}}
    live.apply([good, bad])
    live.wait_phase("cedarpolicies", ns, "good", "Valid")
    invalid = live.wait_phase("cedarpolicies", ns, "bad", "Invalid")
    assert invalid["status"]["message"], invalid["status"]


def test_lattice_cluster_pending_and_provider_outside_lattice_system_failed(lattice_loop: LatticeLoop) -> None:
    live = lattice_loop
    ns = live.namespace("misc")
    cluster = yaml.safe_load((ROOT / "examples" / "clusters" / "docker.yaml").read_text())
    cluster["metadata"]["name"] = ns  # cluster-scoped: a name of its own
    provider = yaml.safe_load((ROOT / "examples" / "secrets" / "vault-prod.yaml").read_text())
    provider["metadata"]["namespace"] = ns
    live.apply([cluster, provider])
    pending = live.wait_phase("latticeclusters", None, ns, "Pending")
    assert pending["status"]["message"] == "CloudProvider 'docker' not found in lattice-system", pending["status"]
    assert pending["status"]["observedGeneration"] == 1, pending["status"]
    failed = live.wait_phase("secretsproviders", ns, "vault-prod", "Failed")
    assert "lattice-system" in failed["status"]["message"], failed["status"]
    live.cp.kubectl("delete", "latticecluster", ns, "--wait=false")


def test_secrets_provider_owns_cluster_secret_store_through_the_namespace(lattice_loop: LatticeLoop) -> None:
    live = lattice_loop
    name = f"lt-vault-{uuid.uuid4().hex[:5]}"
    provider = {"apiVersion": API, "kind": "SecretsProvider", "metadata": {"name": name, "namespace": "lattice-system"},
                "spec": {"server": "https://vault.example.com:8200", "authMethod": "token",
                         "credentialsSecretRef": {"name": "vault-token", "namespace": "lattice-system"}}}
    live.apply(provider)
    store_api = "external-secrets.io/v1", "clustersecretstores"
    store = wait(f"ClusterSecretStore {name}", lambda: live.get(*store_api, None, name), 15)
    system = live.get("v1", "namespaces", None, "lattice-system")
    assert system is not None
    assert [(r["kind"], r["name"], r["uid"], r.get("controller")) for r in store["metadata"]["ownerReferences"]] == \
        [("Namespace", "lattice-system", system["metadata"]["uid"], True)]
    assert store["spec"]["provider"]["vault"]["server"] == "https://vault.example.com:8200"
    pending = live.wait_phase("secretsproviders", "lattice-system", name, "Pending")
    # Play ESO: the store's Ready condition reaches the provider's status (its related store changed).
    store["status"] = {"conditions": [{"type": "Ready", "status": "True", "reason": "Valid", "message": "ok",
                                       "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
    live.api.put(live.path(*store_api, None, name) + "/status", json=store).raise_for_status()
    ready = live.wait_phase("secretsproviders", "lattice-system", name, "Ready", timeout=10)
    assert ready["metadata"]["generation"] == pending["metadata"]["generation"]
    live.cp.kubectl("delete", "secretsprovider", name, "-n", "lattice-system")
    wait(f"ClusterSecretStore {name} deleted", lambda: live.get(*store_api, None, name) is None, 15)
    assert live.sync_errors("lattice-system") == []
    assert live.metacontroller_errors(pattern=name) == []


def test_deleted_service_children_garbage_collected(lattice_loop: LatticeLoop,
                                                    record_property: Callable[[str, Any], None]) -> None:
    live = lattice_loop
    ns = live.namespace("gc")
    live.apply(docs(PLAIN, ns))
    svc = live.wait_phase("latticeservices", ns, "plain", "Ready")
    children = live.owned(svc, ns)
    assert ("Deployment", "plain") in children and ("CiliumNetworkPolicy", "policy-plain") in children
    t0 = time.monotonic()
    live.cp.kubectl("delete", "latticeservice", "plain", "-n", ns, "--wait=false")
    # kube-controller-manager's garbage collector deletes them (every CRD was installed before it
    # started, so it knows the owner kind at once).
    wait("children garbage-collected", lambda: not live.owned(svc, ns), 60, lambda: sorted(live.owned(svc, ns)))
    print(f"\ngarbage collection of {len(children)} children: {time.monotonic() - t0:.1f} s after the delete")
    record_property("gc_seconds", time.monotonic() - t0)
    # The namespace's last service is gone: its waypoint goes, and so do the labels Lattice set.
    gateways = "gateway.networking.k8s.io/v1", "gateways"
    wait("waypoint deleted", lambda: live.get(*gateways, ns, f"{ns}-waypoint") is None, 15)

    def mesh_labels() -> set[str]:
        labels = (live.get("v1", "namespaces", None, ns) or {})["metadata"].get("labels") or {}
        return set(labels) & {"istio.io/use-waypoint", "istio.io/dataplane-mode"}

    wait("mesh labels removed from the namespace", lambda: not mesh_labels(), 15, mesh_labels)
    _clean(live, ns)


def _refuse_images(live: LatticeLoop, ns: str, prefix: str) -> str:
    """A ValidatingAdmissionPolicy (and binding) refusing Deployments in ``ns`` whose images start
    with ``prefix``: the apiserver then rejects Metacontroller's apply of that child. Returns its
    name; waits until the apiserver enforces it."""
    name = f"refuse-{ns}"
    live.apply([
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
         "metadata": {"name": name},
         "spec": {"failurePolicy": "Fail",
                  "matchConstraints": {"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"],
                                                          "operations": ["CREATE", "UPDATE"],
                                                          "resources": ["deployments"]}]},
                  "validations": [{"expression": f"object.spec.template.spec.containers.all(c, "
                                                 f"!c.image.startsWith('{prefix}'))",
                                   "message": f"images from {prefix} are refused here"}]}},
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
         "metadata": {"name": name},
         "spec": {"policyName": name, "validationActions": ["Deny"],
                  "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}}},
    ])
    probe = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "probe", "namespace": ns},
             "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
                 "metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": f"{prefix}x"}]}}}}
    wait("the admission policy enforced", lambda: live.cp.kubectl(
        "apply", "--dry-run=server", "-f", "-", input=json.dumps(probe), check=False).returncode != 0, 30)
    return name


def test_a_child_the_apiserver_refuses_never_leaves_the_service_ready(lattice_loop: LatticeLoop) -> None:
    """Metacontroller writes the status even when applying a child failed; the hash each child
    carries keeps the service Pending (not Ready) until the apiserver has accepted every child."""
    live = lattice_loop
    ns = live.namespace("refuse")
    policy = _refuse_images(live, ns, "refused/")
    with live.expected_errors():
        try:
            live.apply(docs(PLAIN.replace("example/plain:1", "refused/plain:1"), ns))
            pending = live.wait_phase("latticeservices", ns, "plain", "Pending")
            wait("Metacontroller's refused apply", lambda: live.metacontroller_errors(pattern=ns), 30)
            time.sleep(2)  # retries: still not Ready
            pending = live.lattice("latticeservices", ns, "plain") or {}
            assert pending["status"]["phase"] == "Pending", pending["status"]
            assert pending["status"]["conditions"][0]["reason"] == "ApplyPending"
            assert "Deployment plain" in pending["status"]["message"], pending["status"]
            assert live.get("apps/v1", "deployments", ns, "plain") is None
            # An accepted image: Ready. Then an edit the apiserver refuses: Pending again, the
            # running Deployment untouched.
            live.patch("latticeservices", ns, "plain", {"spec": {"containers": {"main": {"image": "ok/plain:1"}}}})
            live.wait_phase("latticeservices", ns, "plain", "Ready")
            live.patch("latticeservices", ns, "plain", {"spec": {"containers": {"main": {"image": "refused/plain:2"}}}})
            again = live.wait_phase("latticeservices", ns, "plain", "Pending")
            assert again["status"]["observedGeneration"] == 3
            image = (live.get("apps/v1", "deployments", ns, "plain") or {})["spec"]["template"]["spec"]["containers"][0]
            assert image["image"] == "ok/plain:1"
        finally:
            live.cp.kubectl("delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", policy,
                            "--ignore-not-found")
        # The policy gone, the next retry goes through.
        live.wait_phase("latticeservices", ns, "plain", "Ready", timeout=90)


def _deployment_env(live: LatticeLoop, ns: str, name: str) -> dict[str, str]:
    deployment = live.get("apps/v1", "deployments", ns, name) or {}
    containers = deployment.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or [{}]
    return {e["name"]: e.get("value", "") for e in containers[0].get("env") or []}


def test_hook_server_down_or_hung_nothing_deleted_then_recovery(lattice_loop: LatticeLoop) -> None:
    """The hook server killed, then hung (SIGSTOP: connections accepted, never answered): each sync
    fails (connection refused; Metacontroller's 10 s webhook timeout), Metacontroller retries with
    backoff, applies nothing, deletes nothing, writes no status; once the server is back the edit
    made meanwhile goes through."""
    live = lattice_loop
    ns = live.namespace("down")
    live.apply(docs(PLAIN, ns))
    svc = live.wait_phase("latticeservices", ns, "plain", "Ready")
    before = live.owned(svc, ns)

    def unchanged(generation: int) -> None:
        now = live.lattice("latticeservices", ns, "plain") or {}
        assert now["status"]["phase"] == "Ready" and now["status"]["observedGeneration"] == generation - 1
        after = live.owned(svc, ns)
        assert {k: (o["metadata"]["uid"], o["metadata"]["resourceVersion"]) for k, o in after.items()} == \
            {k: (o["metadata"]["uid"], o["metadata"]["resourceVersion"]) for k, o in before.items()}

    for generation, (mode, outage) in enumerate((("down", live.hooks.kill), ("hung", live.hooks.pause)), start=2):
        since = len(live.metacontroller_log())
        with live.expected_errors():
            outage()
            try:
                live.patch("latticeservices", ns, "plain", {"spec": {"containers": {"main": {"variables": {
                    "MODE": mode}}}}})
                wait(f"Metacontroller's failed sync of {ns}/plain ({mode})",
                     lambda since=since: live.metacontroller_errors(since, pattern=f"{ns}.*plain|plain.*{ns}"),
                     30 if mode == "down" else 40)
                time.sleep(2)  # a few retries more
                unchanged(generation)
            finally:
                live.hooks.restart()
            t0 = time.monotonic()
            wait(f"{mode}: the edit applied once the hook server is back",
                 lambda mode=mode: _deployment_env(live, ns, "plain").get("MODE") == mode, 90,
                 lambda: _deployment_env(live, ns, "plain"))
            print(f"\nhook server {mode}: recovered {time.monotonic() - t0:.1f} s after the restart")
        wait(f"Ready at generation {generation}", lambda generation=generation: (
            (live.lattice("latticeservices", ns, "plain") or {}).get("status") or {}).get(
            "observedGeneration") == generation and live.phase("latticeservices", ns, "plain") == "Ready", 30)
        assert {k: o["metadata"]["uid"] for k, o in live.owned(svc, ns).items()} == \
            {k: o["metadata"]["uid"] for k, o in before.items()}
        before = live.owned(svc, ns)


def test_finalize_hook_on_the_real_metacontroller(lattice_loop: LatticeLoop) -> None:
    """No Lattice controller declares finalize (docs/hooks.md, "No finalizers"). Should one ever:
    the external-service controller with a finalize hook holds a finalizer on its parents, calls
    finalize on delete and lets the parent go once the hook says finalized; put back as shipped,
    Metacontroller removes the finalizer from every parent again."""
    live = lattice_loop
    ns = live.namespace("fin")
    name = "lattice-latticeexternalservice"
    finalizer = f"metacontroller.io/compositecontroller-{name}"
    shipped = live.cp.get_json("compositecontroller", name)
    ctrl = {"apiVersion": shipped["apiVersion"], "kind": shipped["kind"],
            "metadata": {"name": name, "labels": shipped["metadata"]["labels"]}, "spec": dict(shipped["spec"])}
    ctrl["spec"]["hooks"] = {**shipped["spec"]["hooks"], "finalize": {"version": "v2", "webhook": {
        "url": f"{live.hooks.url}/hooks/latticeexternalservice/finalize", "timeout": "10s"}}}
    live.apply(examples(ns, "stripe-api"))
    ext = live.wait_phase("latticeexternalservices", ns, "stripe-api", "Ready")
    live.cp.kubectl("replace", "-f", "-", input=json.dumps({**ctrl, "metadata": {
        **ctrl["metadata"], "resourceVersion": shipped["metadata"]["resourceVersion"]}}))
    try:
        wait("finalizer", lambda: (live.lattice("latticeexternalservices", ns, "stripe-api") or {})["metadata"]
             .get("finalizers") == [finalizer], 30)
        assert set(live.owned(ext, ns)) == {("ServiceEntry", "stripe-api")}
        # Metacontroller may still have a sync of the finalized parent queued; it then fails to remove the
        # finalizer of an object already gone (404) and logs it. Harmless upstream race: nothing is left
        # behind, which the waits here check.
        with live.expected_errors():
            live.cp.kubectl("delete", "latticeexternalservice", "stripe-api", "-n", ns, "--wait=false")
            wait("finalized and gone", lambda: live.lattice("latticeexternalservices", ns, "stripe-api") is None, 30)
            assert not live.owned(ext, ns)
            time.sleep(1)  # the queued sync runs at once; its error lands inside this window
        live.apply(examples(ns, "stripe-api"))
        wait("the finalizer on the new one", lambda: (live.lattice("latticeexternalservices", ns, "stripe-api")
                                                      or {})["metadata"].get("finalizers") == [finalizer], 30)
    finally:
        current = live.cp.get_json("compositecontroller", name)
        live.cp.kubectl("replace", "-f", "-", input=json.dumps({**shipped, "metadata": {
            **shipped["metadata"], "resourceVersion": current["metadata"]["resourceVersion"]}}))
    wait("the finalizer removed once the controller is as shipped",
         lambda: not (live.lattice("latticeexternalservices", ns, "stripe-api") or {})["metadata"].get("finalizers"),
         30)
    _clean(live, ns, upstream_race=r"can't remove finalizer for LatticeExternalService .*stripe-api.* not found")


SCORE_WORKLOAD = """
apiVersion: score.dev/v1b1
metadata:
  name: orders
  annotations:
    dapr.io/enabled: "true"
containers:
  main:
    image: .
    variables:
      DATABASE_URL: postgres://${resources.db.username}:${resources.db.password}@${resources.db.host}:${resources.db.port}/${resources.db.name}
      REDIS_HOST: ${resources.cache.host}
      REDIS_PASSWORD: ${resources.cache.password}
      PRICE: $$5
service:
  ports:
    http: {port: 8080}
resources:
  db: {type: postgres}
  cache: {type: redis}
"""


def test_score_workload_gets_its_data_services_as_children_and_is_ready(lattice_loop: LatticeLoop, tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A Score file as a user has it: `lattice import score` gives the LatticeService; on the control plane
    its postgres and redis become owned children (StatefulSet, Service, ESO Password + ExternalSecret
    making the Secret, and the policies opening them to the workload only), and it reaches Ready."""
    from cli.main import run as lattice

    env = lattice_loop
    ns = env.namespace("score")
    (tmp_path / "score.yaml").write_text(SCORE_WORKLOAD)
    capsys.readouterr()
    args = ["import", "score", "-f", str(tmp_path / "score.yaml"), "-n", ns, "--image", "ghcr.io/x/orders:1"]
    assert lattice(args) == 0
    (service,) = [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]
    env.cp.apply([service])
    ready = env.wait_phase("latticeservices", ns, "orders", "Ready", timeout=30)
    message = ready["status"]["message"]
    assert "resources.db (postgres) is a development-grade built-in" in message
    assert "resources.cache (redis) is a development-grade built-in" in message
    owned = env.owned(ready, ns)
    for res, port in (("db", 5432), ("cache", 6379)):
        name = f"orders-{res}"
        for kind in ("StatefulSet", "Service", "ExternalSecret", "Password", "CiliumNetworkPolicy"):
            key = kind, (f"policy-{name}" if kind == "CiliumNetworkPolicy" else name)
            assert key in owned, f"{key} not among the children: {sorted(owned)}"
        assert ("AuthorizationPolicy", f"allow-to-{name}") in owned
        external = owned[("ExternalSecret", name)]["spec"]
        assert external["refreshPolicy"] == "CreatedOnce"
        svc = owned[("Service", name)]["spec"]
        assert [p["port"] for p in svc["ports"]] == [port]
    deployment = owned[("Deployment", "orders")]["spec"]["template"]
    assert deployment["metadata"]["annotations"]["dapr.io/enabled"] == "true"
    env_vars = {e["name"]: e for e in deployment["spec"]["containers"][0]["env"]}
    assert env_vars["REDIS_PASSWORD"]["valueFrom"] == {"secretKeyRef": {"name": "orders-cache", "key": "password"}}
    assert env_vars["DATABASE_URL"]["value"] == "postgres://app:$(LATTICE_SECRET_0)@orders-db:5432/app"
    assert env_vars["PRICE"]["value"] == "$5"
    _clean(env, ns)


def test_platform_provisioner_serves_a_class(lattice_loop: LatticeLoop) -> None:
    """A Provisioner object on the cluster is read by the services that need it (a related object):
    `class: production` selects it, and a change to it re-syncs them."""
    env = lattice_loop
    ns = env.namespace("prov")
    prov = yaml.safe_load((ROOT / "examples" / "provisioners" / "postgres-production.yaml").read_text())
    prov["metadata"]["name"] = f"postgres-production-{ns}"
    prov["spec"]["class"] = f"prod-{ns[-5:]}"
    svc = {"apiVersion": API, "kind": "LatticeService", "metadata": {"name": "billing", "namespace": ns},
           "spec": {"containers": {"main": {"image": "example/billing:1",
                                            "variables": {"DB_HOST": "${resources.db.host}",
                                                          "DB_PASSWORD": "${resources.db.password}"}}},
                    "resources": {"db": {"type": "postgres", "class": prov["spec"]["class"],
                                         "params": {"host": "pg.internal.example"}}}}}
    env.cp.apply([svc])
    failed = env.wait_phase("latticeservices", ns, "billing", "Failed")
    assert "no provisioner for type 'postgres'" in failed["status"]["message"]
    env.cp.apply([prov])
    try:
        ready = env.wait_phase("latticeservices", ns, "billing", "Ready", timeout=30)
        owned = env.owned(ready, ns)
        assert ("ExternalSecret", "billing-db") in owned and ("StatefulSet", "billing-db") not in owned
        container = owned[("Deployment", "billing")]["spec"]["template"]["spec"]["containers"][0]
        assert {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]} == {
            "DB_HOST": "pg.internal.example",
            "DB_PASSWORD": {"secretKeyRef": {"name": "billing-db", "key": "password"}}}
    finally:
        env.cp.kubectl("delete", "provisioner", prov["metadata"]["name"], check=False)


def test_whole_run_clean(lattice_loop: LatticeLoop) -> None:
    """Last: Metacontroller logged no error outside the outages the tests caused, and the hook
    server never answered 5xx."""
    assert lattice_loop.metacontroller_errors() == []
    metrics = httpx.get(f"{lattice_loop.hooks.url}/metrics", timeout=10).text
    assert not re.search(r'lattice_hook_requests_total\\{[^}]*code="5', metrics), metrics
