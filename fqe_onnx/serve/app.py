"""The Starlette app: thin handlers over the service's batcher, the refusals of the API as JSON
bodies, the metrics middleware, and a lifespan that warms the model up before /readyz says ready
and drains the queue at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from typing import Any, AsyncIterator, Optional

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .batcher import Closed, Job, QueueFull
from .metrics import ServeMetrics
from .payload import Refusal, Upload, load_upload, parse_json, parse_multipart
from .rows import openapi_document, row
from .service import ServeConfig, Service

log = logging.getLogger(__name__)

ROUTES = ("/v1/score", "/v1/model", "/healthz", "/readyz", "/metrics", "/openapi.json")
#: Not a standard status: nginx's "client closed request", counted in the metrics for a request
#: whose client went away before its rows were ready (nothing is sent to anyone).
CLIENT_GONE = 499


async def _read_body(request: Request, max_body: int, timeout_s: float) -> bytes:
    """The body, refused (413) as soon as it is over ``max_body``, and (408) when it takes longer than
    ``timeout_s`` to arrive."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Refusal(400, "bad-request", f"Content-Length {declared!r} is not a number")
        if int(declared) > max_body:
            raise Refusal(413, "body-too-large", f"the body is {int(declared)} bytes, over --max-body ({max_body})")

    async def read() -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body:
                raise Refusal(413, "body-too-large", f"the body is over --max-body ({max_body} bytes)")
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        return await asyncio.wait_for(read(), timeout_s)
    except asyncio.TimeoutError:
        raise Refusal(
            408,
            "body-timeout",
            f"the body did not arrive within {timeout_s:g} s (--body-timeout)",
            {"Connection": "close"},
        ) from None


async def _disconnected(receive: Receive) -> None:
    """Returns when the client goes away (the ASGI server's http.disconnect)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _results(service: Service, jobs: list[Job], receive: Receive) -> Optional[list[Any]]:
    """The jobs' results, or None when the client went away first (its queued jobs are dropped)."""
    gathered = asyncio.ensure_future(asyncio.gather(*(asyncio.wrap_future(job.future) for job in jobs)))
    watcher = asyncio.ensure_future(_disconnected(receive))
    finished = False
    try:
        done, _ = await asyncio.wait({gathered, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if gathered in done:
            finished = True
            return gathered.result()
        return None
    finally:
        watcher.cancel()
        if not finished:
            gathered.cancel()
            assert service.batcher is not None
            service.metrics.dropped.inc(service.batcher.drop(jobs))


def _want(request: Request, flag: str) -> bool:
    """A 0/1 query flag (``embedding``, ``measures``); 400 for anything else."""
    value = request.query_params.get(flag, "0").lower()
    if value not in ("0", "1", "false", "true"):
        raise Refusal(400, "bad-request", f"{flag} must be 0 or 1, got {value!r}")
    return value in ("1", "true")


async def _uploads(request: Request, config: ServeConfig) -> list[Upload]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("application/json", "multipart/form-data"):
        raise Refusal(
            415,
            "unsupported-media-type",
            f"expected application/json or multipart/form-data, got {kind or 'no Content-Type'!r}",
        )
    body = await _read_body(request, config.max_body, config.body_timeout_s)
    if kind == "application/json":  # base64 decoding off the event loop
        return await anyio.to_thread.run_sync(parse_json, body, config.max_images)
    return await parse_multipart(request.headers, body, config.max_images)


async def score(request: Request) -> Response:
    """POST /v1/score: one row per image, in order."""
    service: Service = request.app.state.service
    service.check_key(request)
    if service.draining:
        raise service.unavailable("shutting-down", "the service is shutting down")
    if not service.ready:
        raise service.unavailable("not-ready", "the model is still warming up")
    if service.in_flight >= service.config.max_in_flight:
        raise service.unavailable("busy", f"{service.in_flight} requests in flight (--max-in-flight)")
    service.in_flight += 1
    service.metrics.in_flight.inc()
    try:
        with_embedding = _want(request, "embedding")
        with_measures = _want(request, "measures")
        try:
            uploads = await _uploads(request, service.config)
        except ClientDisconnect:
            return Response(status_code=CLIENT_GONE)
        limits = service.scorer.limits
        items = [(u.name, u.identity, functools.partial(load_upload, u.data, limits), with_measures) for u in uploads]
        assert service.batcher is not None
        try:
            jobs = service.batcher.submit(items)
        except QueueFull as exc:
            raise service.unavailable("queue-full", f"{exc}; retry later") from None
        except Closed:
            raise service.unavailable("shutting-down", "the service is shutting down") from None
        del uploads, items
        results = await _results(service, jobs, request.receive)
        if results is None:
            return Response(status_code=CLIENT_GONE)
        for scored in results:
            service.metrics.image(scored.record.mode, scored.record.error_kind)
        service.answered += 1
        return JSONResponse({"rows": [row(s.record, s.embedding, with_embedding, with_measures) for s in results]})
    finally:
        service.in_flight -= 1
        service.metrics.in_flight.dec()


async def model(request: Request) -> Response:
    """GET /v1/model: the contract, sha256, provider and template."""
    service: Service = request.app.state.service
    service.check_key(request)
    return JSONResponse(service.model_info)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "live"})


async def readyz(request: Request) -> Response:
    service: Service = request.app.state.service
    if service.draining:
        raise service.unavailable("shutting-down", "the service is shutting down")
    if not service.ready:
        raise service.unavailable("not-ready", "the model is still warming up")
    return JSONResponse({"status": "ready"})


async def metrics(request: Request) -> Response:
    body, content_type = request.app.state.service.metrics.render()
    return Response(body, media_type=content_type)


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document())


class MetricsMiddleware:
    """Counts every response by route and status and times it (pure ASGI, so streaming is untouched)."""

    def __init__(self, app: ASGIApp, metrics: ServeMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = scope["path"] if scope["path"] in ROUTES else "other"
        status = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.requests.labels(route, str(status[0])).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refusal)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not-found", 405: "method-not-allowed"}
    body = {"error": codes.get(exc.status_code, "http-error"), "status": exc.status_code, "detail": str(exc.detail)}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _internal(request: Request, exc: Exception) -> Response:
    log.error("internal error on %s", request.url.path, exc_info=exc)
    body = {"error": "internal", "status": 500, "detail": f"{type(exc).__name__}: {exc}"}
    return JSONResponse(body, status_code=500)


def build_app(service: Service) -> Starlette:
    """The ASGI app over ``service``; its lifespan starts the batcher, warms up in the background
    (/readyz is 503 until then) and at shutdown scores what is queued, then closes the scorer."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        service.start()

        async def warm_up() -> None:
            try:
                await anyio.to_thread.run_sync(service.warm_up)
            except Exception as exc:  # a model that cannot score: the command ends with exit status 2
                service.failure = f"warm-up failed: {type(exc).__name__}: {exc}"
                log.error(service.failure)
                service.on_fatal(service.failure)
                return
            service.ready = True
            log.info("ready")

        task = asyncio.create_task(warm_up())
        try:
            yield
        finally:
            task.cancel()
            await anyio.to_thread.run_sync(service.stop)
            log.info("stopped: %d scoring requests answered with rows", service.answered)

    routes = [
        Route("/v1/score", score, methods=["POST"]),
        Route("/v1/model", model, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(MetricsMiddleware, metrics=service.metrics)],
        exception_handlers={Refusal: _refused, HTTPException: _http_error, Exception: _internal},
    )
    app.state.service = service
    return app
