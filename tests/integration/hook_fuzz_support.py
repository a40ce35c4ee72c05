"""What the hook fuzz suite sends and checks: a valid request for every controller (from
examples/, with observed children as Metacontroller has them), hypothesis strategies that mutate
them or replace them outright, and the checks every answer must pass."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import yaml
from hypothesis import strategies as st

from hooks import simulator, wire
from hooks.controllers import CONTROLLERS
from hooks.controllers.definition import Composite, Controller, Decorator, HookConfig
from hooks.controllers_manifest import composite_object

ROOT = Path(__file__).resolve().parents[2]
ENDPOINTS = [(c.name, hook) for c in CONTROLLERS for hook in ("sync", "customize", "finalize")]
_LAST_APPLIED = "metacontroller.k8s.io/last-applied-configuration"


def _examples() -> list[dict[str, Any]]:
    docs = [d for p in sorted((ROOT / "examples").rglob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]
    objects = simulator.normalise(docs)
    for i, obj in enumerate(objects):
        obj["metadata"].update(uid=f"uid-{i:04d}", resourceVersion=str(1000 + i), generation=1)
    return objects


def _observed(child: dict[str, Any], parent: dict[str, Any], i: int) -> dict[str, Any]:
    out: dict[str, Any] = orjson.loads(orjson.dumps(child))
    meta = out.setdefault("metadata", {})
    if parent["metadata"].get("namespace"):
        meta.setdefault("namespace", parent["metadata"]["namespace"])
    meta.setdefault("annotations", {})[_LAST_APPLIED] = orjson.dumps(child).decode()
    meta.update(uid=f"child-{i:04d}", resourceVersion=str(5000 + i), generation=1)
    return out


def _object_map(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for obj in objects:
        out.setdefault(wire.group_key(obj["apiVersion"], obj["kind"]), {})[wire.object_key(obj)] = obj
    return out


def _parent_for(controller: Controller, objects: list[dict[str, Any]]) -> dict[str, Any]:
    if isinstance(controller, Composite):
        return next(o for o in objects if o["kind"] == controller.parent.kind)
    name = "lattice-system" if controller.name == "secret-stores" else "platform"
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "uid": f"uid-ns-{name}", "resourceVersion": "7",
                         "labels": {simulator.NAMESPACE_NAME_LABEL: name}}}


def valid_requests() -> dict[tuple[str, str], dict[str, Any]]:
    """A valid request body (as JSON data) for every endpoint, with observed children."""
    cfg = HookConfig()
    objects = _examples()
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for controller in CONTROLLERS:
        parent = _parent_for(controller, objects)
        related = simulator.related_for(controller, parent, objects, cfg)
        out[(controller.name, "customize")] = {"controller": {}, "parent": parent}
        if isinstance(controller, Composite):
            first = controller.run_sync(wire.SyncRequest(parent=parent, related=related), cfg).response
            children = _object_map([_observed(c, parent, i) for i, c in enumerate(first.children)])
            body = {"controller": composite_object(controller, "http://127.0.0.1"), "parent": parent,
                    "children": children, "related": related, "finalizing": False}
        else:
            assert isinstance(controller, Decorator)
            request = wire.DecoratorSyncRequest(object=parent, related=related)
            first_d = controller.run_sync(request, cfg).response
            attachments = _object_map([_observed(c, parent, i) for i, c in enumerate(first_d.attachments)])
            body = {"controller": {}, "object": parent, "attachments": attachments, "related": related,
                    "finalizing": False}
        out[(controller.name, "sync")] = body
        out[(controller.name, "finalize")] = {**body, "finalizing": True}
    return out


# ---- strategies -------------------------------------------------------------------------------

def nested(depth: int) -> orjson.Fragment:
    """``depth`` levels of alternating lists and maps, as ready JSON (past what an encoder nests)."""
    opening = "".join('{"n":' if i % 2 else "[" for i in range(depth))
    closing = "".join("}" if i % 2 else "]" for i in reversed(range(depth)))
    return orjson.Fragment(f"{opening}1{closing}".encode())


big_numbers = st.sampled_from([b"18446744073709551616", b"-9223372036854775809", b"1e308", b"123456789" * 8]).map(
    orjson.Fragment)  # past 64 bits: sent as written
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), big_numbers,
                      st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40))
random_json = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=12), inner, max_size=5)), max_leaves=30)
huge_string = st.sampled_from([10, 4_096, 40_000, 300_000, 1_100_000]).map(lambda n: "${x}" * (n // 4) + "x")
deep = st.sampled_from([50, 200, 252, 253, 254, 255, 300, 1_000, 1_023, 1_030]).map(nested)
many_entries = st.sampled_from([100, 600, 5_000, 50_000]).map(lambda n: {f"K{i}": "v" for i in range(n)})
replacement = st.one_of(random_json, huge_string, deep, many_entries,
                        st.sampled_from([None, 0, -1, True, "", [], {}, "x" * 64, 1e308]))


def _paths(value: Any, prefix: tuple[Any, ...] = (), limit: int = 4_000) -> list[tuple[Any, ...]]:
    """Every path into a JSON value (dict keys and list indices), breadth first, capped."""
    out: list[tuple[Any, ...]] = []
    queue: list[tuple[tuple[Any, ...], Any]] = [(prefix, value)]
    while queue and len(out) < limit:
        path, node = queue.pop(0)
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in items:
            out.append((*path, key))
            queue.append(((*path, key), child))
    return out


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """``base`` with one to three places replaced by something hostile, or deleted."""
    body = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(body)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        holder = body
        for key in path[:-1]:
            holder = holder[key]
        if draw(st.integers(0, 5)) == 0 and isinstance(holder, dict):
            del holder[path[-1]]
        else:
            holder[path[-1]] = draw(replacement)
    return body


def encode(body: Any) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS) if not isinstance(body, bytes) else body


raw_bodies = st.one_of(st.binary(max_size=200), st.just(b""), st.just(b"\xff\xfe{"),
                       st.just(b'{"parent":' * 2000), random_json.map(encode))


# ---- checks -----------------------------------------------------------------------------------

def check_answer(controller: str, hook: str, sent: bytes, code: int, answer: Any) -> None:
    """What every answer must be, whatever was sent."""
    assert code < 500, f"{controller}/{hook} answered {code}: {answer!r:.300}"
    assert code in (200, 400, 413), f"{controller}/{hook} answered {code}"
    if code != 200:
        assert isinstance(answer, dict) and isinstance(answer.get("error"), str) and answer["error"]
        return
    assert isinstance(answer, dict)
    if hook == "customize":
        assert isinstance(answer.get("relatedResources"), list)
        return
    decorator = "attachments" in answer
    assert isinstance(answer.get("attachments" if decorator else "children"), list)
    status = answer.get("status")
    if decorator or not isinstance(status, dict):
        return
    failed = status.get("phase") in ("Failed", "Invalid")
    if failed:
        message = status.get("message")
        assert isinstance(message, str) and message.strip(), f"a Failed status without a message: {status!r:.300}"
        assert len(message) <= 9_000, f"status message of {len(message):,} characters"
    reason = next((c.get("reason") for c in status.get("conditions") or [] if isinstance(c, dict)), None)
    if failed and reason in ("ValidationFailed", "InvalidInput", "InternalError", "CompilationFailed"):
        request = wire.decode_sync(sent)
        assert answer["children"] == orjson.loads(orjson.dumps(wire.observed_unchanged(request.children))), \
            "a Failed parent must keep its observed children exactly"
