"""hooks.controllers.memo: results kept per object version, never for unversioned objects."""

from __future__ import annotations

from hooks.controllers.memo import LRU, inputs_version, version


def obj(uid: str = "u", rv: str = "1", **meta: object) -> dict[str, object]:
    return {"kind": "LatticeService", "metadata": {"uid": uid, "resourceVersion": rv, "generation": 1, **meta}}


def test_versions() -> None:
    assert version(obj()) == ("LatticeService", "u", "1", 1)
    assert version({"kind": "X", "metadata": {"name": "hand-written"}}) is None
    assert version({"kind": "X", "metadata": {"uid": "u", "resourceVersion": "1", "generation": [1]}}) is None
    related = {"LatticeService.lattice.dev/v1alpha1": {"ns/a": obj("a"), "ns/b": obj("b")}}
    assert inputs_version(obj(), related) == (version(obj()), version(obj("a")), version(obj("b")))
    assert inputs_version(obj(), {"g": {"x": {"kind": "X", "metadata": {}}}}) is None


def test_lru_makes_once_per_key_and_evicts_the_oldest() -> None:
    made: list[str] = []
    lru: LRU[str] = LRU(2)

    def make(value: str) -> str:
        made.append(value)
        return value

    for key in ("a", "a", "b", "c", "a"):
        lru.get_or_make((key,), lambda k=key: make(k))  # type: ignore[misc]
    assert made == ["a", "b", "c", "a"] and len(lru) == 2
    lru.get_or_make(None, lambda: make("unversioned"))
    lru.get_or_make(None, lambda: make("unversioned"))
    assert made.count("unversioned") == 2
