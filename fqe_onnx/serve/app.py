"""The Starlette app: thin handlers over the batcher, the refusals of the API as JSON bodies, the
metrics middleware, and a lifespan that warms the model up before /readyz says ready and drains the
queue at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Optional

import anyio
import numpy as np
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from .batcher import Batcher, Closed, Job, QueueFull
from .metrics import ServeMetrics
from .payload import Refusal, Upload, load_upload, parse_json, parse_multipart
from .rows import openapi_document, row

log = logging.getLogger(__name__)

ROUTES = ("/v1/score", "/v1/model", "/healthz", "/readyz", "/metrics", "/openapi.json")
#: Not a standard status: nginx's "client closed request", counted in the metrics for a request
#: whose client went away before its rows were ready (nothing is sent to anyone).
CLIENT_GONE = 499


@dataclass(frozen=True)
class ServeConfig:
    """The service's limits (see the README's table of refusals)."""

    max_wait_s: float = 0.005
    max_queue: int = 256
    workers: int = 1
    max_body: int = 10 * 2**20
    max_images: int = 64
    max_in_flight: int = 256
    body_timeout_s: float = 30.0
    retry_after_s: int = 1
    api_key: Optional[str] = None


class Service:
    """What the handlers share: the scorer, its batcher, the metrics and the service's state."""

    def __init__(self, scorer: Any, config: ServeConfig, on_fatal: Callable[[str], None] = lambda message: None) -> None:
        if config.max_images > config.max_queue:
            raise ValueError(f"--max-images ({config.max_images}) must not be over --max-queue ({config.max_queue})")
        self.scorer, self.config, self.on_fatal = scorer, config, on_fatal
        self.metrics = ServeMetrics()
        self.batcher: Optional[Batcher] = None
        self.ready = self.draining = False
        self.in_flight = 0
        self.failure = ""  # why the warm-up failed, if it did
        self.answered = 0  # scoring requests answered with rows (logged at shutdown)
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.model_info = _model_info(scorer, config)

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.batcher = Batcher(self._score_batch, batch_size=self.scorer.batch_size, max_wait_s=self.config.max_wait_s,
                               max_queue=self.config.max_queue, workers=self.config.workers,
                               on_batch=self.metrics.batch_size.observe, on_depth=self.metrics.queue_depth.set)

    def _score_batch(self, items: list[Any]) -> list[Any]:
        return list(self.scorer.embed_items(items))

    def warm_up(self) -> None:
        """One batch through the model and one image through the framing (the detector when it
        aligns), so the first request does not pay for the runtime's first-call set-up."""
        from ..inspection import random_batch

        model = self.scorer.model
        model.run(random_batch(model, model.fixed_batch or 1))
        noise = np.random.default_rng(0).integers(0, 256, (250, 250, 3), dtype=np.uint8)
        list(self.scorer.score_arrays([noise], ["warm-up"]))

    def begin_drain(self) -> None:
        """Called on SIGTERM/SIGINT (from the signal handler, through the loop): not ready any more,
        and queued images go into batches at once."""
        self.draining = True
        if self.batcher is not None:
            self.batcher.flush()

    def stop(self) -> None:
        if self.batcher is not None:
            self.batcher.close(drain=True, timeout=60)
        self.scorer.close()

    def check_key(self, request: Request) -> None:
        key = self.config.api_key
        if not key:
            return
        given = request.headers.get("x-api-key")
        if given is None:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            given = token.strip() if scheme.lower() == "bearer" else None
        if given is None or not hmac.compare_digest(given.encode("utf-8", "replace"), key.encode("utf-8")):
            raise Refusal(401, "unauthorized", "missing or wrong API key (X-API-Key or Authorization: Bearer)",
                          {"WWW-Authenticate": 'Bearer realm="fqe-onnx"'})

    def unavailable(self, code: str, message: str) -> Refusal:
        return Refusal(503, code, message, {"Retry-After": str(self.config.retry_after_s)})


def _model_info(scorer: Any, config: ServeConfig) -> dict[str, Any]:
    from ..inspection import template_report
    from ..zoo import sha256_of

    source = scorer.model.source
    return {
        "model": Path(source).name if source else "",
        "sha256": sha256_of(Path(source)) if source else "",
        "provider": scorer.provider,
        "align": scorer.align,
        "precision": scorer.model.precision,
        "contract": scorer.contract.to_json(),
        "template": template_report(scorer.contract),
        "batch_size": scorer.batch_size,
        "limits": {"max_pixels": scorer.limits.max_pixels, "max_image_bytes": scorer.limits.max_bytes,
                   "max_body": config.max_body, "max_images": config.max_images, "max_queue": config.max_queue},
        "fqe_onnx_version": __version__,
    }


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
        raise Refusal(408, "body-timeout", f"the body did not arrive within {timeout_s:g} s (--body-timeout)",
                      {"Connection": "close"}) from None


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


def _want_embedding(request: Request) -> bool:
    value = request.query_params.get("embedding", "0").lower()
    if value not in ("0", "1", "false", "true"):
        raise Refusal(400, "bad-request", f"embedding must be 0 or 1, got {value!r}")
    return value in ("1", "true")


async def _uploads(request: Request, config: ServeConfig) -> list[Upload]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("application/json", "multipart/form-data"):
        raise Refusal(415, "unsupported-media-type",
                      f"expected application/json or multipart/form-data, got {kind or 'no Content-Type'!r}")
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
        with_embedding = _want_embedding(request)
        try:
            uploads = await _uploads(request, service.config)
        except ClientDisconnect:
            return Response(status_code=CLIENT_GONE)
        limits = service.scorer.limits
        items = [(u.name, u.identity, functools.partial(load_upload, u.data, limits)) for u in uploads]
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
        return JSONResponse({"rows": [row(s.record, s.embedding, with_embedding) for s in results]})
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

    routes = [Route("/v1/score", score, methods=["POST"]), Route("/v1/model", model, methods=["GET"]),
              Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"]),
              Route("/metrics", metrics, methods=["GET"]), Route("/openapi.json", openapi, methods=["GET"])]
    app = Starlette(routes=routes, lifespan=lifespan,
                    middleware=[Middleware(MetricsMiddleware, metrics=service.metrics)],
                    exception_handlers={Refusal: _refused, HTTPException: _http_error, Exception: _internal})
    app.state.service = service
    return app
