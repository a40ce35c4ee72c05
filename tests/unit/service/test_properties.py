"""Properties of the whole compiler over generated valid specs.

- any valid spec compiles without an exception, into built-in objects Kubernetes accepts;
- no unresolved ``${`` and no secret key outside a secretKeyRef reaches the Deployment or ConfigMap;
- compiling is deterministic: the same input gives byte-identical YAML, also across processes
  with different hash seeds.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from typing import Any

import yaml
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

import crds
from crds.service import LatticeService
from hooks.context import ServiceContext
from hooks.service.compile import ServiceResult, compile_service

from .support import ROOT, FixedAuthorizer, assert_valid_k8s, parse_external
from .test_compile import FakeMesh

BUILT_IN = {"v1", "apps/v1", "autoscaling/v2"}
names = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)
literal = st.text(alphabet="ab $(){}:/=\n", max_size=8).filter(lambda s: "${" not in s and not s.endswith("$"))

EXTERNAL = {"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeExternalService",
            "metadata": {"name": "ext", "namespace": "shop"},
            "spec": {"endpoints": {"default": "https://api.example.com"}, "allowedRequesters": ["*"]}}


@st.composite
def resources(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in draw(st.lists(names, max_size=5, unique=True)):
        kind = draw(st.sampled_from(["service", "external-service", "volume", "secret", "postgres"]))
        res: dict[str, Any] = {"type": kind}
        if kind == "external-service":
            res["id"] = draw(st.sampled_from(["ext", "ext", "gone"]))
        elif kind == "volume":
            if draw(st.booleans()):
                res["id"] = draw(names)
            params: dict[str, Any] = {}
            if draw(st.booleans()):
                params["size"] = "1Gi"
            if draw(st.booleans()):
                params["accessMode"] = draw(st.sampled_from(["ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany"]))
            res["params"] = params
        elif kind == "secret":
            res["id"] = f"path/{name}"
            res["params"] = {"provider": draw(st.sampled_from(["vault", "aws"]))}
            if draw(st.booleans()):
                res["params"]["keys"] = draw(st.lists(names, min_size=1, max_size=3, unique=True))
            if draw(st.booleans()):
                res["params"]["refreshInterval"] = draw(st.sampled_from(["1h", "30m", "90s"]))
        out[name] = res
    return out


def references(res: dict[str, Any]) -> list[str]:
    out = ["${metadata.name}", "${metadata.namespace}"]
    for name, r in res.items():
        if r["type"] in ("service", "external-service"):
            out += [f"${{resources.{name}.{o}}}" for o in ("host", "port", "url")]
        elif r["type"] == "volume":
            out.append(f"${{resources.{name}.claim_name}}")
        elif r["type"] == "secret":
            out += [f"${{resources.{name}.{k}}}" for k in r["params"].get("keys", ["anykey"])]
    return out


@st.composite
def template(draw: st.DrawFn, refs: list[str]) -> str:
    pieces = draw(st.lists(st.one_of(literal, st.sampled_from(refs)), max_size=4))
    return "".join(pieces)


@st.composite
def container(draw: st.DrawFn, res: dict[str, Any], sidecar: bool = False) -> dict[str, Any]:
    refs = references(res)
    c: dict[str, Any] = {"image": draw(st.sampled_from(["nginx:1.27", "ghcr.io/x/y@sha256:" + "a" * 64]))}
    c["variables"] = draw(st.dictionaries(st.from_regex(r"[A-Z][A-Z_]{0,5}", fullmatch=True), template(refs),
                                          max_size=4))
    files: dict[str, Any] = {}
    for path in draw(st.lists(st.sampled_from(["/etc/a.conf", "/etc/a/conf", "/x y", "/bin/t"]), max_size=3,
                              unique=True)):
        kind = draw(st.sampled_from(["content", "source", "binaryContent", "noExpand"]))
        if kind == "binaryContent":
            files[path] = {"binaryContent": "AAEC"}
        elif kind == "noExpand":
            files[path] = {"content": "$HOME {x} $y", "noExpand": True}
        else:
            files[path] = {kind: draw(template(refs))}
        if draw(st.booleans()):
            files[path]["mode"] = draw(st.sampled_from(["0644", "600", "0755"]))
    c["files"] = files
    volumes = [n for n, r in res.items() if r["type"] == "volume"]
    if volumes:
        c["volumes"] = {f"/mnt/{v}": {"source": f"${{resources.{v}}}", "readOnly": draw(st.booleans())}
                        for v in draw(st.lists(st.sampled_from(volumes), max_size=2, unique=True))}
    if draw(st.booleans()):
        c["security"] = {"capabilities": draw(st.lists(st.sampled_from(["NET_ADMIN", "SYS_TIME"]), unique=True)),
                         "runAsNonRoot": draw(st.booleans())}
    if draw(st.booleans()):
        c["readinessProbe"] = {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 5}
    if sidecar:
        c["init"] = draw(st.booleans())
    return c


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    res = draw(resources())
    spec: dict[str, Any] = {
        "resources": res,
        "containers": {n: draw(container(res)) for n in draw(st.lists(names, min_size=1, max_size=2, unique=True))},
        "sidecars": {f"side-{n}": draw(container(res, sidecar=True))
                     for n in draw(st.lists(names, max_size=2, unique=True))},
        "replicas": draw(st.sampled_from([{"min": 1}, {"min": 2, "max": 4}, {"min": 0}])),
        "deploy": draw(st.sampled_from([{"strategy": "rolling"}, {"strategy": "canary"},
                                        {"strategy": "canary", "canary": {"interval": "2m", "stepWeight": 25}}])),
    }
    if draw(st.booleans()):
        spec["service"] = {"ports": {"http": {"port": 8080}, "grpc": {"port": 9090, "targetPort": 9091}}}
    if draw(st.booleans()):
        spec["sysctls"] = {"net.core.somaxconn": "1024"}
    return spec


def _compile(spec: dict[str, Any], denied: dict[str, str]) -> tuple[ServiceContext, ServiceResult]:
    doc = {"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeService",
           "metadata": {"name": "api", "namespace": "shop", "generation": 1}, "spec": spec}
    svc, errors = crds.parse_as(LatticeService, doc)
    assume(svc is not None and not errors)
    assert svc is not None
    ctx = ServiceContext(service=svc, external_services={("shop", "ext"): parse_external(EXTERNAL)},
                         authorizer=FixedAuthorizer(denied))
    return ctx, compile_service(ctx, mesh=FakeMesh(children=[]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs(), deny=st.booleans())
def test_any_valid_spec_compiles_safely(spec: dict[str, Any], deny: bool) -> None:
    secrets = sorted(n for n, r in spec["resources"].items() if r["type"] == "secret")
    denied = {secrets[0]: "no permit policy for this service and secret path"} if deny and secrets else {}
    _, result = _compile(spec, denied)
    status = result.status
    event(f"{status.phase.value}{' (kept observed)' if result.keep_observed else ''}")
    if result.keep_observed:
        assert result.children == []
        assert status.phase.value in ("Failed", "Compiling")
        return
    for child in result.children:
        if child["apiVersion"] in BUILT_IN:
            assert_valid_k8s(child)
    (deployment,) = [c for c in result.children if c["kind"] == "Deployment"]
    plain = [c for c in result.children if c["kind"] in ("Deployment", "ConfigMap")]
    assert "${" not in json.dumps(plain)
    containers = deployment["spec"]["template"]["spec"]["containers"]
    containers += deployment["spec"]["template"]["spec"].get("initContainers", [])
    for c in containers:
        source = {**spec["containers"], **spec["sidecars"]}[c["name"]]
        for env in c.get("env", []):
            if env["name"].startswith("LATTICE_SECRET_"):
                assert set(env) == {"name", "valueFrom"}
                continue
            text = source["variables"][env["name"]]
            uses_secret = any(f"${{resources.{s}." in text for s in secrets)
            if uses_secret:  # a secret key only ever travels as a reference
                assert "valueFrom" in env or "$(LATTICE_SECRET_" in env["value"]
    if denied:
        assert status.phase.value == "Failed"
        assert not [c for c in result.children
                    if c["kind"] == "ExternalSecret" and c["metadata"]["name"] == f"api-{secrets[0]}"]


@settings(max_examples=50, deadline=None)
@given(spec=specs())
def test_compile_is_deterministic(spec: dict[str, Any]) -> None:
    _, a = _compile(copy.deepcopy(spec), {})
    _, b = _compile(copy.deepcopy(spec), {})
    def dump(r: ServiceResult) -> str:
        return yaml.safe_dump_all([json.loads(json.dumps(crds.dump(r.status))), *r.children])

    assert dump(a) == dump(b)


_SCRIPT = """
import json, sys
sys.path.insert(0, {root!r})
from tests.unit.service.support import gateway_ctx, FixedAuthorizer
from tests.unit.service.test_compile import FakeMesh
from hooks.service.compile import compile_service
r = compile_service(gateway_ctx(authorizer=FixedAuthorizer()), mesh=FakeMesh())
print(json.dumps(r.children))
"""


def test_deterministic_across_hash_seeds() -> None:
    outputs = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", _SCRIPT.format(root=str(ROOT))], env=env, cwd=ROOT,
                             capture_output=True, text=True, check=True)
        outputs.add(out.stdout)
    assert len(outputs) == 1
    assert json.loads(outputs.pop())  # the script compiled something
