"""hooks.service.files: ConfigMap for plain files, ESO-templated Secret for files with secrets."""

from __future__ import annotations

from typing import Any

import pytest

from hooks.service.expansion import expand_workload
from hooks.service.files import file_keys, go_template_text, plan_files

from .support import assert_valid_k8s, main, make_ctx

SECRETS = {
    "db": {"type": "secret", "id": "shop/db", "params": {"provider": "vault", "keys": ["username", "password"],
                                                         "refreshInterval": "1h"}},
    "api": {"type": "secret", "id": "shop/api", "params": {"provider": "vault-b", "refreshInterval": "15m"}},
    "pg": {"type": "service"},
}


def _plan(spec: dict[str, Any], denied: tuple[str, ...] = ()) -> Any:
    ctx = make_ctx(spec)
    return plan_files(ctx, expand_workload(ctx), denied=denied)


def test_plain_and_binary_files_go_to_a_configmap() -> None:
    plan = _plan(main(files={
        "/etc/app/app.conf": {"content": "name=${metadata.name}\n", "mode": "0640"},
        "/bin/tool": {"binaryContent": "AAEC"},
    }))
    (cm,) = plan.objects
    assert cm["kind"] == "ConfigMap"
    assert cm["metadata"]["name"] == "api-files"
    assert cm["data"] == {"main.etc.app.app.conf": "name=api\n"}
    assert cm["binaryData"] == {"main.bin.tool": "AAEC"}
    assert_valid_k8s(cm)
    assert plan.pod_volumes == [{"name": "files", "configMap": {"name": "api-files", "items": [
        {"key": "main.bin.tool", "path": "main.bin.tool"},
        {"key": "main.etc.app.app.conf", "path": "main.etc.app.app.conf", "mode": 0o640},
    ]}}]
    assert plan.mounts == {"main": [
        {"name": "files", "mountPath": "/bin/tool", "subPath": "main.bin.tool", "readOnly": True},
        {"name": "files", "mountPath": "/etc/app/app.conf", "subPath": "main.etc.app.app.conf", "readOnly": True},
    ]}
    assert plan.config_hash is not None and len(plan.config_hash) == 16


def test_files_with_secrets_are_rendered_by_external_secrets() -> None:
    content = "host=${resources.pg.host}\nuser=${resources.db.username}\npass={${resources.db.password}}\n{{x}}\n"
    plan = _plan(main({"resources": SECRETS}, files={
        "/etc/db.conf": {"content": content, "mode": "0600"},
        "/etc/api.token": {"content": "${resources.api.token}"},
    }))
    (es,) = plan.objects
    assert es["apiVersion"] == "external-secrets.io/v1"
    assert es["kind"] == "ExternalSecret"
    assert es["metadata"]["name"] == "api-files"
    assert es["metadata"]["labels"]["lattice.dev/service"] == "api"
    assert es["spec"] == {
        "secretStoreRef": {"name": "vault-b", "kind": "ClusterSecretStore"},
        "target": {"name": "api-files", "creationPolicy": "Owner", "template": {
            "engineVersion": "v2", "mergePolicy": "Replace", "data": {
                "main.etc.api.token": "{{ .ref0 }}",
                "main.etc.db.conf": 'host=pg.shop.svc.cluster.local\nuser={{ .ref2 }}\npass={{"{"}}{{ .ref1 }}}\n'
                                    '{{"{{"}}x}}\n',
            }}},
        "data": [
            {"secretKey": "ref0", "remoteRef": {"key": "shop/api", "property": "token"}},
            {"secretKey": "ref1", "remoteRef": {"key": "shop/db", "property": "password"},
             "sourceRef": {"storeRef": {"name": "vault", "kind": "ClusterSecretStore"}}},
            {"secretKey": "ref2", "remoteRef": {"key": "shop/db", "property": "username"},
             "sourceRef": {"storeRef": {"name": "vault", "kind": "ClusterSecretStore"}}},
        ],
        "refreshInterval": "15m",
    }
    assert plan.secret_resources == ("api", "db")
    assert plan.pod_volumes == [{"name": "secret-files", "secret": {"secretName": "api-files", "items": [
        {"key": "main.etc.api.token", "path": "main.etc.api.token"},
        {"key": "main.etc.db.conf", "path": "main.etc.db.conf", "mode": 0o600},
    ]}}]
    assert [m["name"] for m in plan.mounts["main"]] == ["secret-files", "secret-files"]


def test_denied_secret_leaves_out_the_files_external_secret() -> None:
    plan = _plan(main({"resources": SECRETS}, files={"/etc/t": {"content": "${resources.api.token}"}}),
                 denied=("api",))
    assert plan.objects == []
    assert plan.pod_volumes[0]["name"] == "secret-files"  # the pod still expects it: access is revoked


def test_no_files_no_objects() -> None:
    plan = _plan(main())
    assert (plan.objects, plan.pod_volumes, plan.mounts, plan.config_hash) == ([], [], {}, None)


def test_config_hash_follows_content() -> None:
    a = _plan(main(files={"/etc/a": {"content": "one"}})).config_hash
    b = _plan(main(files={"/etc/a": {"content": "two"}})).config_hash
    assert a != b
    assert a == _plan(main(files={"/etc/a": {"content": "one"}})).config_hash


def test_keys_are_readable_unique_and_deterministic() -> None:
    keys = file_keys([("main", "/etc/a.b"), ("main", "/etc/a/b"), ("main", "/etc/x y"), ("side", "/etc/a.b")])
    assert keys[("main", "/etc/x y")] == "main.etc.x-y"
    assert keys[("side", "/etc/a.b")] == "side.etc.a.b"
    assert keys[("main", "/etc/a.b")].startswith("main.etc.a.b-")
    assert keys[("main", "/etc/a/b")].startswith("main.etc.a.b-")
    assert len(set(keys.values())) == 4


@pytest.mark.parametrize(("text", "before_action", "expected"), [
    ("plain", False, "plain"),
    ("a {{b}} c", False, 'a {{"{{"}}b}} c'),
    ("{{{", False, '{{"{{{"}}'),
    ("x{", True, 'x{{"{"}}'),
    ("x{", False, "x{"),
    ("}}", False, "}}"),
])
def test_go_template_text(text: str, before_action: bool, expected: str) -> None:
    assert go_template_text(text, before_action) == expected


def test_a_file_that_is_one_provisioned_secret_is_mounted_from_that_secret() -> None:
    from hooks.service.files import check_files

    spec = main({"resources": {"cache": {"type": "redis"}}},
                files={"/run/pw": {"content": "${resources.cache.password}", "mode": "0400"},
                       "/etc/mixed": {"content": "pw=${resources.cache.password}"}})
    expansion = expand_workload(make_ctx(spec))
    assert [str(e) for e in check_files(expansion)] == [
        "spec.containers.main.files./etc/mixed.content: mixes text with a secret a provisioner made: such a file "
        "can only be exactly one secret placeholder (or put the value in an environment variable, where mixing "
        "works)"]
    spec["containers"]["main"]["files"].pop("/etc/mixed")
    ctx = make_ctx(spec)
    plan = plan_files(ctx, expand_workload(ctx))
    assert plan.objects == []
    assert plan.pod_volumes == [{"name": "secret-api-cache", "secret": {
        "secretName": "api-cache", "items": [{"key": "password", "path": "password", "mode": 0o400}]}}]
    assert plan.mounts == {"main": [{"name": "secret-api-cache", "mountPath": "/run/pw", "subPath": "password",
                                     "readOnly": True}]}
    assert plan.config_hash is not None
