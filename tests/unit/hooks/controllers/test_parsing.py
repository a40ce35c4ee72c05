"""hooks.controllers.parsing: Lattice objects out of hook requests, memoised, status ignored."""

from __future__ import annotations

from crds import LatticeExternalService, LatticeService
from hooks.controllers.parsing import parse_cached, parse_object, valid_related

SERVICE = {"apiVersion": "lattice.dev/v1alpha1", "kind": "LatticeService",
           "metadata": {"name": "a", "namespace": "shop", "uid": "u1", "resourceVersion": "7", "generation": 1},
           "spec": {"containers": {"main": {"image": "a:1"}}}, "status": {"phase": 42}}


def test_a_status_that_does_not_fit_is_no_error_and_parses_are_memoised() -> None:
    service, errors = parse_object(SERVICE, LatticeService)
    assert service is not None and errors == [] and service.name == "a"
    assert parse_cached(SERVICE) is parse_cached(dict(SERVICE))  # same uid and resourceVersion


def test_another_kind_or_bad_fields_are_errors_with_paths() -> None:
    other, errors = parse_object(SERVICE, LatticeExternalService)
    assert other is None and errors == ["expected kind LatticeExternalService, got 'LatticeService'"]
    broken = {**SERVICE, "metadata": {"name": "b"}, "spec": {"containers": {"main": {"image": 5}}}}
    _, errors = parse_object(broken, LatticeService)
    assert any(e.startswith("spec.containers.main.image") for e in errors)


def test_invalid_related_objects_count_as_absent() -> None:
    broken = {**SERVICE, "metadata": {"name": "b", "namespace": "shop"}, "spec": {"containers": {}}}
    related = {"LatticeService.lattice.dev/v1alpha1": {"shop/a": SERVICE, "shop/b": broken}}
    assert [s.name for s in valid_related(related, LatticeService)] == ["a"]
