"""A small stand-in for the apiserver plus Metacontroller, to drive the hooks like a cluster would.

``FakeMetacontroller`` keeps objects (with uid, resourceVersion and generation as the apiserver
sets them), and ``sync(kind, ns, name)`` does what Metacontroller does for one parent: call the
customize hook, select the related objects from what it holds, send a v2 sync request with the
observed children, then record the answer (children as the informer would see them, the status
with ``observedGeneration`` injected). ``send`` is the transport: in-process (unit tests) or HTTP
(integration tests). Uids are random, as the apiserver's are: the hooks memoise by
(uid, resourceVersion), so two fakes must never hand out the same pair for different objects.
"""

from __future__ import annotations

import copy
import itertools
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import orjson
import yaml

from crds import KubeObject
from hooks import simulator, wire
from hooks.controllers import CONTROLLERS, by_name
from hooks.controllers.definition import Answer, Composite, HookConfig
from hooks.controllers_manifest import composite_object

Ident = tuple[str, str, str]  # kind, namespace, name
# (controller, hook, body) -> (HTTP status, decoded JSON answer)
Send = Callable[[str, str, bytes], tuple[int, Any]]


def docs(text: str) -> list[KubeObject]:
    return [d for d in yaml.safe_load_all(text) if d]


def in_process(cfg: HookConfig | None = None, answers: list[Answer[Any]] | None = None) -> Send:
    """Call the hooks in this process; ``answers`` (when given) collects every ``Answer``, with
    the Events and audit notes the shell would act on."""
    cfg = cfg or HookConfig()

    def send(controller: str, hook: str, body: bytes) -> tuple[int, Any]:
        answer = by_name(controller).run(hook, body, cfg)  # type: ignore[arg-type]
        if answers is not None:
            answers.append(answer)
        return 200, orjson.loads(orjson.dumps(answer.response.to_json()))

    return send


def ident(obj: KubeObject) -> Ident:
    meta = obj.get("metadata") or {}
    return (str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))


def _controller_for(kind: str) -> Composite:
    for c in CONTROLLERS:
        if isinstance(c, Composite) and c.parent.kind == kind:
            return c
    raise KeyError(kind)


class FakeMetacontroller:
    def __init__(self, send: Send) -> None:
        self.send = send
        self.objects: dict[Ident, KubeObject] = {}
        self.children: dict[Ident, dict[str, dict[str, KubeObject]]] = {}
        self._rv = itertools.count(100)

    # ---- the apiserver side ----------------------------------------------------------------

    def apply(self, *objs: KubeObject) -> None:
        """Create or update objects (``kubectl apply``): spec changes bump the generation."""
        for obj in simulator.normalise(objs):
            key = ident(obj)
            old = self.objects.get(key)
            meta = obj["metadata"]
            if old is None:
                meta.update(uid=str(uuid.uuid4()), generation=1)
            else:
                same = old.get("spec") == obj.get("spec")
                meta.update(uid=old["metadata"]["uid"],
                            generation=old["metadata"]["generation"] + (0 if same else 1))
                if "status" in old:
                    obj["status"] = old["status"]
            meta["resourceVersion"] = str(next(self._rv))
            self.objects[key] = obj

    def apply_yaml(self, text: str) -> None:
        self.apply(*docs(text))

    def delete(self, kind: str, namespace: str, name: str) -> None:
        self.objects.pop((kind, namespace, name), None)

    def get(self, kind: str, namespace: str, name: str) -> KubeObject:
        return self.objects[(kind, namespace, name)]

    # ---- the Metacontroller side -----------------------------------------------------------

    def customize(self, parent: KubeObject) -> Any:
        controller = _controller_for(str(parent["kind"]))
        code, answer = self.send(controller.name, "customize", orjson.dumps({"parent": parent}))
        assert code == 200, answer
        return answer

    def request(self, kind: str, namespace: str, name: str) -> KubeObject:
        """The v2 sync request Metacontroller would send for this parent now."""
        parent = self.get(kind, namespace, name)
        controller = _controller_for(kind)
        rules = [wire.RelatedRule.from_json(r) for r in self.customize(parent)["relatedResources"]] \
            if controller.customize else []
        related = simulator.related_objects(rules, parent, list(self.objects.values()))
        children = self.children.get(ident(parent), {})
        for rule in controller.children:
            children.setdefault(rule.kind.group_key, {})
        return {"controller": composite_object(controller, "http://hooks"), "parent": parent,
                "children": children, "related": related, "finalizing": False}

    def sync(self, kind: str, namespace: str, name: str, hook: str = "sync", *, follow: bool = True) -> Any:
        """One sync (or finalize): send it, apply the answer, return the answer. A sync that
        created or changed a child is followed by another, as Metacontroller's child watch does
        (``follow=False``: not; for a test of what one answer says); the last answer is returned."""
        for _ in range(3 if follow else 1):
            body = self.request(kind, namespace, name)
            body["finalizing"] = hook == "finalize"
            controller = _controller_for(kind)
            code, answer = self.send(controller.name, hook, orjson.dumps(body))
            assert code == 200, answer
            parent = self.get(kind, namespace, name)
            changed = self._record(parent, answer.get("children") or [])
            status = copy.deepcopy(answer.get("status")) or {}
            status["observedGeneration"] = parent["metadata"]["generation"]
            if status != parent.get("status"):
                parent["status"] = status
                parent["metadata"]["resourceVersion"] = str(next(self._rv))
            if not changed or hook != "sync":
                break
        return answer

    def _record(self, parent: KubeObject, desired: Iterable[KubeObject]) -> bool:
        """Store the desired children as observed ones; whether any was created or changed."""
        observed: dict[str, dict[str, KubeObject]] = {}
        previous = self.children.get(ident(parent), {})
        changed = False
        for child in desired:
            child = copy.deepcopy(child)
            meta = child.setdefault("metadata", {})
            meta.setdefault("namespace", parent["metadata"].get("namespace"))
            group, key = wire.group_key(child["apiVersion"], child["kind"]), wire.object_key(child)
            old = previous.get(group, {}).get(key)
            last = orjson.dumps(child).decode()
            changed = changed or old is None or old["metadata"]["annotations"].get(wire.LAST_APPLIED) != last
            meta["annotations"] = {**meta.get("annotations", {}), wire.LAST_APPLIED: last}
            meta["uid"] = old["metadata"]["uid"] if old else str(uuid.uuid4())
            if old is not None and "status" in old:  # a child's status is its controller's, never the parent's
                child["status"] = old["status"]
            meta["resourceVersion"] = str(next(self._rv))
            meta["ownerReferences"] = [{"apiVersion": parent["apiVersion"], "kind": parent["kind"],
                                        "name": parent["metadata"]["name"], "uid": parent["metadata"]["uid"],
                                        "controller": True, "blockOwnerDeletion": True}]
            observed.setdefault(group, {})[key] = child
        self.children[ident(parent)] = observed
        return changed

    def child(self, parent: Ident, kind: str, name: str) -> KubeObject | None:
        for group, objs in self.children.get(parent, {}).items():
            if group.startswith(kind + "."):
                for obj in objs.values():
                    if obj["metadata"]["name"] == name:
                        return obj
        return None

    def child_names(self, parent: Ident) -> list[str]:
        return sorted(f"{o['kind']}/{o['metadata']['name']}"
                      for objs in self.children.get(parent, {}).values() for o in objs.values())
