"""cli.score: a Score workload -> the LatticeService it implies; the inbound declarations between workloads."""

from __future__ import annotations

from typing import Any

import pytest

from cli.score import convert, inline_sources, link

FILES = {"conf.txt": b"port=${metadata.port}\n", "logo.png": b"\x89PNG\x00\xff"}


def read(path: str) -> bytes:
    if path not in FILES:
        raise FileNotFoundError(2, "No such file or directory", f"/work/{path}")
    return FILES[path]


def workload(**extra: Any) -> dict[str, Any]:
    return {"apiVersion": "score.dev/v1b1", "metadata": {"name": "web", "annotations": {"dapr.io/enabled": "true"},
                                                         "port": 8080},
            "containers": {"main": {"image": "nginx", **extra}}}


def test_metadata_annotations_and_extra_keys() -> None:
    out = convert(workload(), read_file=read, namespace="shop")
    assert out.errors == []
    assert out.service == {
        "apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeService",
        "metadata": {"name": "web", "namespace": "shop", "annotations": {"dapr.io/enabled": "true"}},
        "spec": {"containers": {"main": {"image": "nginx"}}, "workloadMetadata": {"port": 8080}},
    }


def test_list_forms_sources_and_binary() -> None:
    files = [{"target": "/etc/conf", "source": "conf.txt", "mode": "0600"},
             {"target": "/img", "source": "logo.png", "noExpand": True},
             {"target": "/lines", "content": ["a", "b"]}]
    volumes = [{"target": "/data", "source": "${resources.data}", "read_only": True}]
    out = convert(workload(files=files, volumes=volumes), read_file=read)
    assert out.errors == []
    c = out.service["spec"]["containers"]["main"] if out.service else {}
    assert c["files"] == {"/etc/conf": {"content": "port=${metadata.port}\n", "mode": "0600"},
                          "/img": {"binaryContent": "iVBORwD/"}, "/lines": {"content": "a\nb"}}
    assert c["volumes"] == {"/data": {"source": "${resources.data}", "readOnly": True}}
    assert out.warnings == ["containers.main.files: the list form is deprecated in Score; converted to a map keyed "
                            "by target", "containers.main.volumes: the list form is deprecated in Score; converted "
                            "to a map keyed by target"]


@pytest.mark.parametrize(("doc", "errors"), [
    (workload(image="."),
     ["containers.main.image: '.' means the image is chosen at deploy time: give it with --image"]),
    (workload(files={"/x": {"source": "../secret"}}),
     ["containers.main.files./x.source: '../secret' must be a relative path within the Score file's folder"]),
    (workload(files={"/x": {"source": "nope.txt"}}),
     ["containers.main.files./x.source: cannot read 'nope.txt' next to the Score file (looked for /work/nope.txt): "
      "No such file or directory"]),
    (workload(files=[{"target": "/x", "content": "a"}, {"target": "/x", "content": "b"}]),
     ["containers.main.files[1].target: '/x' is also the target of item 0"]),
    (workload(before={"db": {"ready": "complete"}}),
     ["containers.main.before: container start ordering has no Kubernetes equivalent (a pod starts its containers "
      "together); run the earlier container as a sidecar with init: true instead"]),
    ({"apiVersion": "score.dev/v1b1", "metadata": {"name": "x"}, "x-ext": 1},
     ["x-ext: unknown field (a Score v1b1 workload has: apiVersion, metadata, service, containers, resources)",
      "containers: required (at least one container)"]),
])
def test_errors_name_the_field(doc: dict[str, Any], errors: list[str]) -> None:
    assert convert(doc, read_file=read).errors == errors


def test_image_dot_takes_the_given_image() -> None:
    out = convert(workload(image="."), read_file=read, image="ghcr.io/a/b:1")
    assert out.service and out.service["spec"]["containers"]["main"]["image"] == "ghcr.io/a/b:1"


def test_environment_params_come_from_the_environment_for_the_keys_read() -> None:
    doc = workload(variables={"A": "${resources.env.NAME}", "B": "${resources.env.MISSING}"})
    doc["resources"] = {"env": {"type": "environment"}}
    out = convert(doc, read_file=read, environ={"NAME": "World", "OTHER": "no"})
    assert out.service and out.service["spec"]["resources"]["env"] == {"type": "environment",
                                                                        "params": {"NAME": "World"}}


def test_inline_sources_of_a_lattice_service() -> None:
    doc = {"spec": {"containers": {"main": {"files": {"/c": {"source": "conf.txt"}}}}}}
    assert inline_sources(doc, read) == []
    assert doc["spec"]["containers"]["main"]["files"]["/c"] == {"content": "port=${metadata.port}\n"}


def _svc(name: str, **resources: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"containers": {}, "resources": resources}}


def test_link_adds_inbound_declarations_and_reports_the_rest() -> None:
    a = _svc("a", b={"type": "service"}, c={"type": "service"}, d={"type": "service-port",
                                                                   "params": {"workload": "d", "port": "web"}})
    b = _svc("b")
    d_given = _svc("d", a={"type": "service", "direction": "inbound"})
    notes = link([a, b], [d_given])
    assert b["spec"]["resources"] == {"a": {"type": "service", "direction": "inbound"}}
    assert notes == [
        "added resources.a {type: service, direction: inbound} to b so that a may call it (Score workloads declare "
        "no inbound callers)",
        "LatticeService a calls c (resources.c); c must accept it: add resources.a {type: service, direction: "
        "inbound} to c",
    ]
