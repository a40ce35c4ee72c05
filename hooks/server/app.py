"""The Starlette app serving every Lattice controller's hooks to Metacontroller.

Routes: ``POST /hooks/<controller>/{sync,customize,finalize}``, ``GET /healthz``, ``/readyz``,
``/metrics``. An endpoint only reads the body (bounded), hands it to the controller's pure hook
(``hooks.controllers``), and writes the JSON answer. Answers: 200 with the hook response (a
parent that fails validation or whose compiler raised is a 200 with a Failed status); 400 when
the body is not a hook request; 404 for an unknown controller or hook; 413 when the body is over
the limit. The app keeps no state between requests beyond metrics and parse memoisation, so any
number of replicas can serve behind one Service.

A body of ``INLINE_BYTES`` or more is decoded, compiled and encoded on a small thread pool, off
the event loop, so ``/healthz`` and small syncs keep answering while a large one compiles
(compilers are pure and the memos are locked; the GIL still serialises the work itself).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hooks import wire
from hooks.context import ClusterIdentity
from hooks.controllers import CONTROLLERS
from hooks.controllers.definition import HOOKS, Answer, Controller, HookConfig, UnknownHook
from hooks.server.events import EventRecorder, recorder_from_env
from hooks.server.metrics import CONTENT_TYPE, HookMetrics

log = logging.getLogger("hooks")

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
INLINE_BYTES = 64 * 1024  # smaller bodies compile in a few ms: on the loop, no thread hand-off
COMPILE_THREADS = 2
_JSON = "application/json"


class _TooLarge(Exception):
    pass


def cluster_from_env(env: Mapping[str, str] | None = None) -> ClusterIdentity:
    """The cluster identity from LATTICE_CLUSTER_NAME / LATTICE_PROVIDER (default/docker)."""
    env = os.environ if env is None else env
    return ClusterIdentity(name=env.get("LATTICE_CLUSTER_NAME") or "default",
                           provider=env.get("LATTICE_PROVIDER") or "docker")


def _error(code: int, message: str) -> Response:
    return Response(orjson.dumps({"error": message}), status_code=code, media_type=_JSON)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _encode(answer: Answer[object]) -> bytes:
    if answer.body is not None:
        return answer.body
    response = answer.response
    to_json = getattr(response, "to_json", None)
    if not callable(to_json):
        raise TypeError(f"hook answered {type(response).__name__}, not a wire response")
    return orjson.dumps(to_json())


def tune_gc() -> None:
    """Move the import-time heap out of the collector's way and collect young objects less often.

    Each sync allocates many short-lived dicts; with the default thresholds full collections
    over the memoised parses showed up as 100+ ms p99 spikes (bench/hook_http.py, changed syncs).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 100)


def create_app(
    controllers: Sequence[Controller] | None = None,
    cluster: ClusterIdentity | None = None,
    max_body_bytes: int | None = None,
    events: EventRecorder | bool | None = True,
) -> Starlette:
    """The hook app. Without arguments (the uvicorn factory) everything comes from the environment:
    LATTICE_CLUSTER_NAME, LATTICE_PROVIDER, LATTICE_HOOKS_MAX_BODY_BYTES, and for Events
    LATTICE_HOOKS_EVENTS / LATTICE_HOOKS_KUBECONFIG (``hooks.server.events.recorder_from_env``).
    ``events``: a recorder, ``True`` (from the environment) or ``None``/``False`` (no Events)."""
    by_name = {c.name: c for c in (CONTROLLERS if controllers is None else controllers)}
    cfg = HookConfig(cluster=cluster if cluster is not None else cluster_from_env())
    limit = max_body_bytes or int(os.environ.get("LATTICE_HOOKS_MAX_BODY_BYTES") or DEFAULT_MAX_BODY_BYTES)
    metrics = HookMetrics.create()
    if events is True:
        recorder = recorder_from_env(on_result=metrics.event)
    elif isinstance(events, EventRecorder):
        recorder = events
        recorder.on_result = metrics.event
    else:
        recorder = None
    pool = ThreadPoolExecutor(COMPILE_THREADS, thread_name_prefix="compile")
    tune_gc()

    async def run(controller: Controller, hook_name: str, body: bytes) -> tuple[Answer[object], bytes]:
        if len(body) < INLINE_BYTES:
            answer = controller.run(hook_name, body, cfg)  # type: ignore[arg-type]
            return answer, _encode(answer)

        def work() -> tuple[Answer[object], bytes]:
            answer = controller.run(hook_name, body, cfg)  # type: ignore[arg-type]
            return answer, _encode(answer)

        return await asyncio.get_running_loop().run_in_executor(pool, work)

    async def hook(request: Request) -> Response:
        name, hook_name = request.path_params["controller"], request.path_params["hook"]
        controller = by_name.get(name)
        if controller is None or hook_name not in HOOKS:
            return _error(404, f"no hook {hook_name!r} for controller {name!r}")
        started = time.perf_counter()
        code = 200
        try:
            body = await _read_body(request, limit)
            answer, payload = await run(controller, hook_name, body)
            if answer.failure is not None:
                metrics.failed(name, answer.failure)
            for note in answer.audit:
                metrics.audited(note.policy, note.action, note.would)
            if recorder is not None and answer.events:
                recorder.record(answer.events)
            return Response(payload, media_type=_JSON)
        except _TooLarge:
            code = 413
            return _error(413, f"request body larger than {limit} bytes")
        except wire.BadRequest as exc:
            code = 400
            return _error(400, str(exc))
        except UnknownHook:
            code = 404
            return _error(404, f"no hook {hook_name!r} for controller {name!r}")
        except Exception:
            # Only our own glue can get here (compilers are wrapped by the controllers).
            log.exception("%s %s: unexpected error", name, hook_name)
            code = 500
            metrics.failed(name, "InternalError")
            return _error(500, "internal error (see the hook server log)")
        finally:
            metrics.observe(name, hook_name, code, time.perf_counter() - started)

    async def healthz(_request: Request) -> Response:
        return Response(b'{"ok":true}', media_type=_JSON)

    async def readyz(_request: Request) -> Response:
        return Response(orjson.dumps({"ok": True, "controllers": sorted(by_name)}), media_type=_JSON)

    async def metrics_endpoint(_request: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    app = Starlette(routes=[
        Route("/hooks/{controller}/{hook}", hook, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ])
    app.state.metrics = metrics
    app.state.config = cfg
    app.state.events = recorder
    return app
