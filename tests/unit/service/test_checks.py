"""hooks.service.checks: names and combinations the compiler rejects, every one with its path."""

from __future__ import annotations

from typing import Any

import pytest

from hooks.service.checks import check_service

from .support import main, make_ctx


def _errors(spec: dict[str, Any], name: str = "api") -> list[str]:
    return [str(e) for e in check_service(make_ctx(spec, name=name))]


def test_valid_spec_has_no_errors() -> None:
    assert _errors(main()) == []


@pytest.mark.parametrize(("spec", "name", "errors"), [
    pytest.param(main(), "a.b", ["metadata.name: 'a.b' must be a DNS label (lowercase letters, digits and '-', at "
                                 "most 63) because it names the Deployment and labels the pods"], id="dotted-name"),
    pytest.param(main({"service": {"ports": {"http": {"port": 80}}}}), "1api",
                 ["metadata.name: '1api' must start with a letter because it names a Service"], id="service-digit"),
    pytest.param(main({"resources": {"My_Vol": {"type": "volume"}}}), "api",
                 ["spec.resources.My_Vol: invalid name 'My_Vol': a volume resource name becomes part of object names "
                  "(expected a DNS label of at most 59 characters)"], id="volume-name"),
    pytest.param(main({"resources": {"files": {"type": "secret", "id": "x", "params": {"provider": "v"}}}}), "api",
                 ["spec.resources.files: the name 'files' is reserved: the Secret 'api-files' holds the container "
                  "files"], id="reserved-secret"),
    pytest.param(main({"resources": {"v": {"type": "volume", "id": "Media.Library"}}}), "api",
                 ["spec.resources.v.id: invalid volume id 'Media.Library' (expected a DNS label of at most 50 "
                  "characters)"], id="volume-id"),
    pytest.param(main({"resources": {"cache": {"type": "volume", "params": {"size": "1Gi"}}}}), "a" * 60,
                 [f"spec.resources.cache: generated name '{'a' * 60}-cache' is longer than 63 characters (object "
                  "names are also label values); shorten the service or resource name"], id="long-claim"),
    pytest.param(main(files={"/etc/x": {"content": "x"}}), "b" * 60,
                 [f"metadata.name: generated name '{'b' * 60}-files' is longer than 63 characters; shorten the "
                  "service name"], id="long-files"),
    pytest.param(main(image="."), "api",
                 ["spec.containers.main.image: image '.' stands for an image supplied at deploy time; replace it "
                  "with a real image reference before applying"], id="dot-image"),
    pytest.param(main(variables={"LATTICE_SECRET_0": "x"}), "api",
                 ["spec.containers.main.variables.LATTICE_SECRET_0: the prefix 'LATTICE_SECRET_' is reserved for "
                  "Lattice"], id="reserved-env"),
    pytest.param(main(files={"/data": {"content": "x"}}, volumes={"/data": {"source": "${resources.v}"}}), "api",
                 ["spec.containers.main.files./data: the path is also a volume mount path"], id="path-clash"),
    pytest.param(main(security={"privileged": True, "allowPrivilegeEscalation": False,
                                "capabilities": ["CAP_SYS_ADMIN"]}), "api",
                 ["spec.containers.main.security.allowPrivilegeEscalation: cannot be false when privileged is true",
                  "spec.containers.main.security.allowPrivilegeEscalation: cannot be false when adding CAP_SYS_ADMIN"],
                 id="escalation"),
])
def test_errors(spec: dict[str, Any], name: str, errors: list[str]) -> None:
    assert _errors(spec, name) == errors


def test_generated_names_are_not_checked_without_a_valid_name() -> None:
    spec = main(files={"/etc/x": {"content": "x"}})
    assert _errors(spec, "A" * 70) == [f"metadata.name: '{'A' * 70}' must be a DNS label (lowercase letters, digits "
                                       "and '-', at most 63) because it names the Deployment and labels the pods"]


def test_sidecars_are_checked_too() -> None:
    spec = main({"sidecars": {"proxy": {"image": "."}}})
    assert [e.path for e in check_service(make_ctx(spec))] == ["spec.sidecars.proxy.image"]
