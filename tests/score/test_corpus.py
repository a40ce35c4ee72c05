"""Every published Score workload of tests/score/corpus renders, or fails with an error a Score user can
act on (the table below says which and why); none renders silently wrong: the checks look at the
environment, the files, the volumes, the pod annotations and the provisioned children of each one."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from tests.score.support import IMAGE, Rendered, corpus_files, render, score_doc

NO_PROVISIONER = "no provisioner for type '{}' (class 'default')"
# Files that must fail, and a piece of the message that tells the user what to do.
FAILS = {
    "community-provisioners__dapr-pubsub__score.yaml": NO_PROVISIONER.format("dapr-pubsub"),
    "community-provisioners__dapr-state-store__score.yaml": NO_PROVISIONER.format("dapr-state-store"),
    "community-provisioners__dapr-subscription__score.yaml": NO_PROVISIONER.format("dapr-subscription"),
    "community-provisioners__endpoint__score.yaml": NO_PROVISIONER.format("endpoint"),
    "community-provisioners__examples__hpa__score.yaml": "Lattice scales with spec.replicas",
    "community-provisioners__horizontal-pod-autoscaler__score.yaml": "Lattice scales with spec.replicas",
    "community-provisioners__examples__redis-dapr-state-store__score.yaml": NO_PROVISIONER.format("dapr-state-store"),
    "community-provisioners__examples__tofu-test__score.yaml": NO_PROVISIONER.format("tofu"),
    "community-provisioners__gcp-pubsub-emulator__score.yaml": NO_PROVISIONER.format("gcp-pubsub-emulator"),
    "docs__gen__external-content__resource-provisioners__community__llm-model__score.yaml":
        NO_PROVISIONER.format("llm-model"),
    "docs__gen__external-content__score__resources__community-provisioners__azure-blob__score.yaml":
        NO_PROVISIONER.format("azure-blob"),
    "examples__samples__aks-store-demo__ai__score.yaml": NO_PROVISIONER.format("llm-model"),
    "score-helm__examples__score-full.yaml": NO_PROVISIONER.format("something"),
    # The sample's own file is not published with it: the error names the field and where it looked.
    "docs__gen__external-content__score__specification__files__score.yaml":
        "containers.my-container.files./fileA.txt.source: cannot read 'fileA.txt' next to the Score file (looked for ",
    "score-go__schema__files__samples__score-full.yaml": "containers.container-one1.files./my/file.source: cannot read",
    "spec__samples__score-full.yaml": "containers.container-one1.files./my/file.source: cannot read 'file.txt'",
    "spec__samples__score-full@d5ecde84.yaml": "containers.container-one1.files./my/file.source: cannot read",
    # Invalid against the Score schema itself.
    "invalid/spec__samples__score-minimal.yaml": "containers: required (at least one container)",
    "invalid/spec__samples__score-with-extensions.yaml": "x-my-extension: unknown field (a Score v1b1 workload has",
    # An old output name: the message lists the outputs that exist.
    "score-compose__examples__03-dependencies__service-a.yaml":
        "resource 'db' (type postgres) has no output 'user' (available: database, host, name, password, port, "
        "username)",
    # score-compose's plain-name volume source for a volume nobody declared.
    "spec__samples__score-deprecated-files-and-volumes.yaml":
        "'some-volume' is not a declared volume resource: declare spec.resources.some-volume (type volume) and write "
        "'${resources.some-volume}'",
}
# Files that, rendered alone, wait for a workload they name (rendered with it they compile: see below).
WAITS = {
    "score-compose__examples__08-service-port-resource__scoreB.yaml":
        "LatticeService default/workload-b: waiting for LatticeService default/workload-a (needed by "
        "spec.containers.example.variables.DEPENDENCY_URL)",
}
DATA_TYPES = ("postgres", "postgres-instance", "redis", "mysql", "mongodb", "amqp", "mssql", "s3", "kafka-topic",
              "elasticsearch")
SECRET_OUTPUTS = ("password", "connection", "secret_key", "aws_secret_key")
_LEFT = re.compile(r"\$\{(metadata|resources)\.")


def test_the_table_names_only_corpus_files() -> None:
    assert set(FAILS) <= set(corpus_files())
    assert len(corpus_files()) == 104


@pytest.mark.parametrize("name", corpus_files())
def test_corpus_file(name: str) -> None:
    r = render([name])
    if name in FAILS:
        assert r.errors, "expected a failure"
        assert any(FAILS[name] in e for e in r.errors), r.errors
        return
    assert r.errors == []
    if name in WAITS:
        assert r.waiting == [WAITS[name]]
        return
    # Alone, a caller waits for the services it names (Compiling, every child already produced).
    assert all(": waiting for LatticeService default/" in w for w in r.waiting), r.waiting
    (service,) = r.services
    _check_workload(score_doc(name), service, r)


def _check_workload(doc: dict[str, Any], service: dict[str, Any], r: Rendered) -> None:
    """What must hold for any rendered Score workload (the 'not silently wrong' invariants)."""
    name = doc["metadata"]["name"]
    pod = r.one("Deployment", name)["spec"]["template"]
    annotations = pod["metadata"].get("annotations", {})
    for k, v in (doc["metadata"].get("annotations") or {}).items():
        assert annotations.get(k) == v, f"workload annotation {k} must reach the pod"
    resources = doc.get("resources") or {}
    for cname, c in doc["containers"].items():
        container = r.container(name, cname)
        assert container["image"] == (IMAGE if c["image"] == "." else c["image"])
        assert container.get("args") == c.get("args"), "args are passed verbatim"
        assert container.get("command") == c.get("command"), "command is passed verbatim"
        env = r.env(name, cname)
        for var, text in (c.get("variables") or {}).items():
            assert var in env
            value = env[var]
            if isinstance(value, str) and "$${" not in str(text):
                assert not _LEFT.search(value), f"{var}: unresolved placeholder in {value!r}"
            if any(f".{o}}}" in str(text) for o in SECRET_OUTPUTS) and _provisioned(resources, str(text)):
                assert not isinstance(value, str) or "$(LATTICE_SECRET_" in value, f"{var}: secret inlined"
        mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
        files = c.get("files") or {}
        targets = [f["target"] for f in files] if isinstance(files, list) else list(files)
        for target in targets:
            assert target in mounts, f"file {target} is not mounted"
        volumes = c.get("volumes") or {}
        vol_targets = [v["target"] for v in volumes] if isinstance(volumes, list) else list(volumes)
        pod_volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
        for target in vol_targets:
            assert target in mounts, f"volume {target} is not mounted"
            backing = pod_volumes[mounts[target]["name"]]
            assert "emptyDir" in backing or "persistentVolumeClaim" in backing
    for rname, res in resources.items():
        if res["type"] in DATA_TYPES and not res.get("id"):
            assert r.one("StatefulSet", f"{name}-{rname}")["spec"]["replicas"] == 1
            assert r.one("Service", f"{name}-{rname}")
            assert r.one("CiliumNetworkPolicy", f"policy-{name}-{rname}")
        if res["type"] == "volume" and not res.get("params"):
            assert all("persistentVolumeClaim" not in v for v in pod["spec"].get("volumes", [])), \
                "a Score volume without params is an emptyDir (score-k8s), not an unmanaged claim"


def _provisioned(resources: dict[str, Any], text: str) -> bool:
    return any(f"resources.{n}." in text for n, res in resources.items() if res["type"] in DATA_TYPES)


# ---- what specific samples must produce ---------------------------------------------------------


def test_files_source_is_read_next_to_the_workload_and_content_is_expanded() -> None:
    r = render(["score-compose__examples__03-files/score.yaml"])
    assert r.errors == []
    data = r.one("ConfigMap", "hello-world-files")
    assert data["data"] == {"hello.fileA.txt": "This is fileA.\n", "hello.fileB.txt": "I am hello-world\n"}
    assert base64.b64decode(data["binaryData"]["hello.fileC.bin"]) == b"hello world"


def test_dollar_dollar_in_args_reaches_kubernetes_verbatim() -> None:
    r = render(["score-compose__examples__02-environment__score.yaml"])
    assert r.env("hello-world", "hello") == {"FRIEND": "World"}
    # Score leaves args alone; Kubernetes reduces $$ to $, so the shell sees ${FRIEND}.
    assert r.container("hello-world", "hello")["args"] == ["-c", "while true; do echo Hello $${FRIEND}!; sleep 5; done"]


def test_environment_without_a_value_says_where_to_put_it() -> None:
    r = render(["score-compose__examples__02-environment__score.yaml"], environ={})
    assert any("set spec.resources.env.params.NAME" in e for e in r.errors), r.errors


def test_workload_annotations_reach_the_pod() -> None:
    r = render(["examples__specification__annotations__score.yaml"])
    meta = r.one("Deployment", "my-workload")["spec"]["template"]["metadata"]
    assert meta["annotations"] == {"podscoreannotationkey": "podscoreannotationvalue"}


def test_volume_without_params_is_an_empty_dir_list_form_normalised() -> None:
    r = render(["examples__specification__volumes__score.yaml"])
    pod = r.one("Deployment", "my-workload")["spec"]["template"]["spec"]
    assert pod["volumes"] == [{"name": "vol-data", "emptyDir": {}}]
    assert pod["containers"][0]["volumeMounts"] == [{"name": "vol-data", "mountPath": "/data"}]
    assert r.kinds("PersistentVolumeClaim") == []


def test_redis_connection_string_mixes_text_and_the_secret() -> None:
    r = render(["examples__samples__onlineboutique__cart__score.yaml"])
    env = r.env("cart", "cart")
    assert env["LATTICE_SECRET_0"] == {"secretKeyRef": {"name": "cart-redis-cart", "key": "password"}}
    assert env["REDIS_ADDR"] == "cart-redis-cart:6379,user=default,password=$(LATTICE_SECRET_0)"
    external = r.one("ExternalSecret", "cart-redis-cart")["spec"]
    assert external["refreshPolicy"] == "CreatedOnce"
    assert "requirepass {{ .password }}" in external["target"]["template"]["data"]["redis.conf"]
    assert r.one("Password", "cart-redis-cart")["spec"]["secretKeys"] == ["password"]


def test_service_name_output_and_inbound_declarations_for_a_whole_app() -> None:
    names = [n for n in corpus_files() if "onlineboutique" in n]
    r = render(names)
    assert r.errors == []
    env = r.env("checkout", "checkout")
    assert env["CART_SERVICE_ADDR"] == "cart:7070"
    assert env["SHIPPING_SERVICE_ADDR"] == "shipping:50051"
    # Score declares no callers: the import added them, so cart's policy admits checkout.
    assert any("added resources.checkout {type: service, direction: inbound} to cart" in n for n in r.notes)
    cart = next(s for s in r.services if s["metadata"]["name"] == "cart")
    assert cart["spec"]["resources"]["checkout"] == {"type": "service", "direction": "inbound"}
    ingress = r.one("CiliumNetworkPolicy", "policy-cart")["spec"]["ingress"][0]["fromEndpoints"]
    assert {"k8s:io.kubernetes.pod.namespace": "default", "k8s:app.kubernetes.io/name": "checkout"} in [
        e["matchLabels"] for e in ingress]


def test_a_lone_caller_is_told_what_its_callee_must_declare() -> None:
    r = render(["examples__samples__onlineboutique__recommendation__score.yaml"])
    assert r.notes == ["note: LatticeService recommendation calls productcatalog (resources.productcatalog); "
                       "productcatalog must accept it: add resources.recommendation {type: service, "
                       "direction: inbound} to productcatalog"]


def test_shared_resource_by_id_has_one_instance_owned_by_the_first_declarer() -> None:
    r = render(["score-compose__examples__06-resource-provisioning__score.yaml",
                "score-compose__examples__06-resource-provisioning__score2.yaml"])
    assert r.errors == []
    owners = [o for o in r.kinds("StatefulSet") if o["metadata"]["name"] == "redis-main-cache"]
    assert len(owners) == 1
    policy = r.one("CiliumNetworkPolicy", "policy-redis-main-cache")["spec"]["ingress"][0]["fromEndpoints"]
    callers = sorted(e["matchLabels"]["k8s:app.kubernetes.io/name"] for e in policy)
    assert callers == sorted(s["metadata"]["name"] for s in r.services)


def test_service_port_resolves_the_other_workloads_port() -> None:
    r = render(["score-compose__examples__08-service-port-resource__scoreA.yaml",
                "score-compose__examples__08-service-port-resource__scoreB.yaml"])
    assert r.errors == []
    assert r.env("workload-b", "example")["DEPENDENCY_URL"] == "http://workload-a:8080"
    assert any("to workload-a so that workload-b may call it" in n for n in r.notes)


def test_dns_and_route_make_an_http_route_on_the_named_port() -> None:
    r = render(["score-compose__examples__09-dns-and-route__score.yaml"])
    route = r.one("HTTPRoute", "hello-world-route-route")["spec"]
    (host,) = route["hostnames"]
    assert host.startswith("hello-world-") and host.endswith(".localhost")
    assert route["rules"][0]["matches"] == [{"path": {"type": "PathPrefix", "value": "/subpath"}}]
    assert route["rules"][0]["backendRefs"][0]["port"] == 8080  # `web` resolved to the Service port
    gateway = r.one("Gateway", "hello-world-gateway")["spec"]
    assert [listener["hostname"] for listener in gateway["listeners"]] == [host]


def test_mongodb_connection_keeps_the_password_a_secret() -> None:
    r = render(["score-compose__examples__11-mongodb-document-database__score.yaml"])
    env = r.env("hello-world", "first")
    assert any(v == {"secretKeyRef": {"name": "hello-world-db", "key": "password"}} for v in env.values())
    (conn,) = [v for v in env.values() if isinstance(v, str) and v.startswith("mongodb://")]
    assert conn == "mongodb://app:$(LATTICE_SECRET_0)@hello-world-db:27017/"


def test_args_with_shell_and_kubernetes_variables_stay_verbatim() -> None:
    r = render(["score-radius__examples__score__score-podinfo-with-redis.yaml"])
    args = r.container("podinfo", "podinfo")["args"]
    assert any("$(REDIS_HOST)" in a for a in args)


def test_score_full_with_its_file_renders_except_types_nobody_provisions(tmp_path: Any) -> None:
    from tests.score.support import CORPUS

    (tmp_path / "score.yaml").write_text((CORPUS / "spec__samples__score-full.yaml").read_text())
    (tmp_path / "file.txt").write_text("from ${metadata.name}\n")
    r = render([tmp_path / "score.yaml"])
    assert any("spec.resources.resource-one1: " + NO_PROVISIONER.format("Resource-One") in e for e in r.errors)
    doc = dict(r.services[0])
    assert doc["spec"]["workloadMetadata"] == {"extra-key": "extra-value"}
    assert doc["spec"]["containers"]["container-one1"]["files"]["/my/file"] == {"content": "from ${metadata.name}\n",
                                                                               "mode": "0600"}
