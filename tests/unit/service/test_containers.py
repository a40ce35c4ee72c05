"""hooks.service.containers: env, ports, probes, resources and security context of one container."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crds.service import SecurityContext
from hooks.service.containers import container, container_ports, env_vars, escape_env, security_context
from hooks.service.expansion import expand_workload
from hooks.service.templates import Expanded, SecretKeyRef

from .support import main, make_ctx

USER = SecretKeyRef("db", "api-db", "username")
PASS = SecretKeyRef("db", "api-db", "password")
TOKEN = SecretKeyRef("api", "api-api", "token")
DB = {"db": {"type": "secret", "id": "shop/db", "params": {"provider": "vault", "keys": ["username", "password"]}}}


@pytest.mark.parametrize(("text", "expected"), [
    ("plain", "plain"),
    ("$(HOME)", "$$(HOME)"),
    ("a$$b", "a$$$b"),
    ("$PATH $1 cost $", "$PATH $1 cost $"),
    ("$$(", "$$$$("),
])
def test_escape_env(text: str, expected: str) -> None:
    assert escape_env(text) == expected


def kube_expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion of env values (third_party/forked/golang/expansion)."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = text.find(")", i + 2)
                if end >= 0:
                    name = text[i + 2 : end]
                    out.append(env.get(name, f"$({name})"))
                    i = end + 1
                    continue
                out.append("$(")
                i += 2
                continue
            out.append("$" + nxt)
            i += 2
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


@given(st.text(alphabet="$()ab", max_size=12))
def test_escaped_text_expands_back_to_itself(text: str) -> None:
    assert kube_expand(escape_env(text), {"a": "X", "b": "Y"}) == text


def test_env_sorted_plain_single_secret_and_mixed() -> None:
    env = {
        "Z_PLAIN": Expanded(("x $(y)",)),
        "DB_PASS": Expanded((PASS,)),
        "DSN": Expanded(("postgres://", USER, ":", PASS, "@db:5432")),
        "AUTH": Expanded(("Bearer ", TOKEN)),
        "EMPTY": Expanded(()),
    }
    assert env_vars(env) == [
        {"name": "LATTICE_SECRET_0", "valueFrom": {"secretKeyRef": {"name": "api-api", "key": "token"}}},
        {"name": "LATTICE_SECRET_1", "valueFrom": {"secretKeyRef": {"name": "api-db", "key": "password"}}},
        {"name": "LATTICE_SECRET_2", "valueFrom": {"secretKeyRef": {"name": "api-db", "key": "username"}}},
        {"name": "AUTH", "value": "Bearer $(LATTICE_SECRET_0)"},
        {"name": "DB_PASS", "valueFrom": {"secretKeyRef": {"name": "api-db", "key": "password"}}},
        {"name": "DSN", "value": "postgres://$(LATTICE_SECRET_2):$(LATTICE_SECRET_1)@db:5432"},
        {"name": "EMPTY", "value": ""},
        {"name": "Z_PLAIN", "value": "x $$(y)"},
    ]


def test_container_ports_names_only_when_kubernetes_accepts_them() -> None:
    ctx = make_ctx(main({"service": {"ports": {
        "http": {"port": 80, "targetPort": 8080}, "a-very-long-port-name": {"port": 81},
        "dns": {"port": 53, "protocol": "UDP"}, "9000": {"port": 9000}}}}))
    assert container_ports(ctx.service.spec.service) == [  # by name: "9000", "a-very-...", "dns", "http"
        {"containerPort": 9000, "protocol": "TCP"},
        {"containerPort": 81, "protocol": "TCP"},
        {"name": "dns", "containerPort": 53, "protocol": "UDP"},
        {"name": "http", "containerPort": 8080, "protocol": "TCP"},
    ]


@pytest.mark.parametrize(("sc", "expected"), [
    pytest.param(None, {"allowPrivilegeEscalation": False}, id="default"),
    pytest.param(SecurityContext(capabilities=["NET_ADMIN"]),
                 {"capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}, "allowPrivilegeEscalation": False},
                 id="add-drops-all"),
    pytest.param(SecurityContext(capabilities=["NET_ADMIN"], drop_capabilities=["MKNOD"]),
                 {"capabilities": {"add": ["NET_ADMIN"], "drop": ["MKNOD"]}, "allowPrivilegeEscalation": False},
                 id="explicit-drop"),
    pytest.param(SecurityContext(drop_capabilities=[]), {"capabilities": {"drop": []},
                                                          "allowPrivilegeEscalation": False}, id="drop-nothing"),
    pytest.param(SecurityContext(privileged=True), {"privileged": True}, id="privileged"),
    pytest.param(SecurityContext(capabilities=["SYS_ADMIN"]), {"capabilities": {"add": ["SYS_ADMIN"], "drop": ["ALL"]}},
                 id="sys-admin"),
    pytest.param(SecurityContext(allow_privilege_escalation=True, run_as_non_root=True, run_as_user=1000,
                                 run_as_group=1000, read_only_root_filesystem=True),
                 {"allowPrivilegeEscalation": True, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                  "runAsUser": 1000, "runAsGroup": 1000}, id="all-fields"),
])
def test_security_context(sc: SecurityContext | None, expected: dict[str, Any]) -> None:
    assert security_context(sc) == expected


def _container(**fields: Any) -> dict[str, Any]:
    rc = expand_workload(make_ctx(main(**fields))).containers[0]
    return container(rc, ports=[], mounts=[])


def test_probes_with_timing() -> None:
    c = _container(
        livenessProbe={"httpGet": {"path": "/live", "port": "http", "scheme": "https", "host": "localhost",
                                   "httpHeaders": [{"name": "X", "value": "1"}]},
                       "initialDelaySeconds": 5, "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 3,
                       "successThreshold": 1},
        readinessProbe={"exec": {"command": ["cat", "/ready"]}},
        startupProbe={"httpGet": {"port": 8080}},
    )
    assert c["livenessProbe"] == {
        "httpGet": {"path": "/live", "port": "http", "scheme": "HTTPS", "host": "localhost",
                    "httpHeaders": [{"name": "X", "value": "1"}]},
        "initialDelaySeconds": 5, "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 3,
        "successThreshold": 1,
    }
    assert c["readinessProbe"] == {"exec": {"command": ["cat", "/ready"]}}
    assert c["startupProbe"] == {"httpGet": {"path": "/", "port": 8080}}


def test_command_args_resources() -> None:
    c = _container(command=["/app"], args=["--port", "$(PORT)"],
                   resources={"requests": {"cpu": "100m"}, "limits": {"cpu": "1", "memory": "1Gi"}})
    assert c["command"] == ["/app"]
    assert c["args"] == ["--port", "$(PORT)"]  # verbatim: Kubernetes expansion stays available
    assert c["resources"] == {"requests": {"cpu": "100m"}, "limits": {"cpu": "1", "memory": "1Gi"}}


def test_init_sidecar_has_no_probes() -> None:
    probe = {"exec": {"command": ["x"]}}
    spec = main({"sidecars": {"setup": {"image": "busybox", "init": True, "readinessProbe": probe}}})
    rc = expand_workload(make_ctx(spec)).containers[1]
    assert "readinessProbe" not in container(rc, ports=[], mounts=[])


def test_secret_variables_become_secret_key_refs() -> None:
    spec = main({"resources": DB}, variables={"USER": "${resources.db.username}",
                                              "URL": "pg://${resources.db.username}:${resources.db.password}@h"})
    c = container(expand_workload(make_ctx(spec)).containers[0], ports=[], mounts=[])
    assert c["env"] == [
        {"name": "LATTICE_SECRET_0", "valueFrom": {"secretKeyRef": {"name": "api-db", "key": "password"}}},
        {"name": "LATTICE_SECRET_1", "valueFrom": {"secretKeyRef": {"name": "api-db", "key": "username"}}},
        {"name": "URL", "value": "pg://$(LATTICE_SECRET_1):$(LATTICE_SECRET_0)@h"},
        {"name": "USER", "valueFrom": {"secretKeyRef": {"name": "api-db", "key": "username"}}},
    ]


def test_a_probe_with_both_handlers_uses_exec_as_score_prefers() -> None:
    from crds import parse_as
    from crds.service import Probe
    from hooks.service.containers import probe

    p, errors = parse_as(Probe, {"httpGet": {"port": 8080, "path": "/livez"}, "exec": {"command": ["true"]}})
    assert errors == [] and p is not None
    assert probe(p) == {"exec": {"command": ["true"]}}
