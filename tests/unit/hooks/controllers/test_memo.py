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


def test_lru_is_bounded_by_bytes_and_never_keeps_a_huge_entry() -> None:
    lru: LRU[str] = LRU(100, max_bytes=800, weigh=len)
    for key in "abcdefgh":
        lru.get_or_make((key,), lambda k=key: k * 100)  # type: ignore[misc]
    assert lru.bytes <= 800 and len(lru) == 8
    lru.get_or_make(("i",), lambda: "i" * 100)
    assert len(lru) == 8 and lru.bytes == 800  # the oldest went
    made: list[int] = []
    for _ in range(2):
        lru.get_or_make(("huge",), lambda: made.append(1) or "h" * 101)  # type: ignore[func-returns-value]
    assert made == [1, 1] and len(lru) == 8  # over an eighth of the budget: made each time, never kept
