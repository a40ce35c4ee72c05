"""Follow every object of one Lattice kind in one namespace (CedarPolicy, OIDCProvider): list, then
watch from the list's resourceVersion, and hand the whole current set to a callback after every
change — never a partial set, so a forbid cannot go missing for a moment while the watch catches up.

A kind that is not served yet (CRD missing) is retried; a 410 (history compacted) lists again;
a watch the server ends is resumed from the last resourceVersion seen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from crds import API_VERSION
from lattice_tunnel.kube_api import KubeApi, KubeApiError

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0  # first retry; doubles up to MAX_RETRY_SECONDS while the failure persists
MAX_RETRY_SECONDS = 30.0


class ObjectWatch:
    def __init__(self, kube: KubeApi, plural: str, namespace: str,
                 on_change: Callable[[list[dict[str, Any]]], Awaitable[None] | None],
                 group_version: str = API_VERSION) -> None:
        self.kube, self.plural, self.namespace = kube, plural, namespace
        self.group_version = group_version
        self.on_change = on_change
        self.objects: dict[str, dict[str, Any]] = {}
        self.synced = asyncio.Event()  # set once the first full list was handed over

    async def run(self) -> None:
        delay, last = RETRY_SECONDS, ""
        while True:
            try:
                await self._list_and_watch()
                delay, last = RETRY_SECONDS, ""  # a watch that ran and ended: resume at once
                continue
            except asyncio.CancelledError:
                raise
            except (KubeApiError, httpx.HTTPError, OSError, ValueError) as exc:
                text = str(exc)
                # Said once at warning level; the same failure again (a CRD not installed) only at debug.
                log.log(logging.DEBUG if text == last else logging.WARNING, "watch of %s in %s: %s; retrying",
                        self.plural, self.namespace, text)
                last = text
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_SECONDS)

    async def _list_and_watch(self) -> None:
        listed = await self.kube.list_with_version(self.group_version, self.plural, self.namespace)
        if listed is None:
            if not self.synced.is_set():  # no CRD: nothing of this kind exists (and nothing is allowed)
                await self._publish({})
            raise KubeApiError(404, f"{self.plural}.{self.group_version} is not served")
        items, version = listed
        await self._publish({o["metadata"]["name"]: o for o in items})
        while True:
            try:
                async for kind, obj in self.kube.watch(self.group_version, self.plural, self.namespace, version):
                    version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                    if kind == "BOOKMARK":
                        continue
                    objects = dict(self.objects)
                    name = obj["metadata"]["name"]
                    if kind == "DELETED":
                        objects.pop(name, None)
                    else:
                        objects[name] = obj
                    await self._publish(objects)
            except KubeApiError as exc:
                if exc.status == 410:
                    return  # list again
                raise

    async def _publish(self, objects: dict[str, dict[str, Any]]) -> None:
        self.objects = objects
        result = self.on_change(list(objects.values()))
        if result is not None:
            await result
        self.synced.set()
