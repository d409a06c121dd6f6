"""``fqe-onnx serve``: build the scorer, then run the app on uvicorn until SIGTERM or SIGINT, which
stop accepting, answer every request already accepted and exit 0 (within --drain-timeout)."""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
import threading
from typing import Any, Iterator, Optional

import click

from .options import align_option, contract_options, device_option, fail, model_option, precision_option
from ..errors import FqeError

#: The API key can come from the environment instead of the command line (where `ps` shows it).
API_KEY_ENV = "FQE_ONNX_API_KEY"


def run_server(app: Any, service: Any, host: str, port: int, drain_timeout: float) -> None:
    """Serve ``app`` until a signal; uvicorn's own signal handling re-raises the signal after its
    graceful shutdown (exit 143 or 130): this one ends normally so the command exits 0."""
    import uvicorn

    class DrainingServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {sig: signal.signal(sig, self.on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

        def on_signal(self, sig: int, frame: Any) -> None:
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True  # a second Ctrl-C: stop waiting for requests
            self.should_exit = True
            if service.loop is not None:
                service.loop.call_soon_threadsafe(service.begin_drain)

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,
        log_level="info",
        lifespan="on",
        timeout_graceful_shutdown=drain_timeout,  # type: ignore[arg-type]  # a float works: it is a timeout
        timeout_keep_alive=5,
    )
    server = DrainingServer(config)
    service.on_fatal = lambda message: setattr(server, "should_exit", True)
    server.run()


@click.command()
@model_option
@device_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (loopback by default; 0.0.0.0 for every interface).",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="TCP port.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Images per batch (default: 4 on the CPU, 32 on CUDA).")
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="Worker threads, each scoring whole batches (default: the cores this process may use).",
)
@precision_option
@click.option(
    "--max-pixels",
    type=click.IntRange(min=1),
    default=50_000_000,
    show_default=True,
    help="Refuse images whose header declares more pixels (an error row, as in score).",
)
@click.option(
    "--max-wait-ms",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    help="How long a batch waits to fill after its first image arrived.",
)
@click.option(
    "--max-queue",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    help="Images waiting at most; a request that does not fit is refused with 503 and Retry-After.",
)
@click.option(
    "--max-body",
    type=click.IntRange(min=1),
    default=10 * 2**20,
    show_default=True,
    help="Largest request body in bytes (413 beyond).",
)
@click.option(
    "--max-images",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Most images in one request (413 beyond).",
)
@click.option(
    "--max-in-flight",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    help="Scoring requests served at once (503 beyond); with --max-body it bounds memory.",
)
@click.option(
    "--body-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds a client may take to send its body (408 beyond).",
)
@click.option(
    "--drain-timeout",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="Seconds SIGTERM/SIGINT wait for accepted requests to be answered.",
)
@click.option(
    "--api-key",
    envvar=API_KEY_ENV,
    show_envvar=True,
    help="Require this key (X-API-Key or Authorization: Bearer) on /v1/ routes (401 otherwise).",
)
@click.option("--openapi", "print_openapi", is_flag=True, help="Print the OpenAPI document and exit.")
@align_option
@contract_options
def serve(
    model: Optional[str],
    device: str,
    host: str,
    port: int,
    batch_size: Optional[int],
    threads: Optional[int],
    precision: str,
    max_pixels: int,
    max_wait_ms: float,
    max_queue: int,
    max_body: int,
    max_images: int,
    max_in_flight: int,
    body_timeout: float,
    drain_timeout: float,
    api_key: Optional[str],
    print_openapi: bool,
    align: str,
    overrides: dict[str, Any],
) -> None:
    """Score images over HTTP: POST /v1/score (multipart files or JSON base64), GET /v1/model,
    /healthz, /readyz, /metrics, /openapi.json. Needs the serve extra."""
    try:
        from ..serve.rows import openapi_document
    except ImportError as exc:
        raise click.ClickException(
            f"fqe-onnx serve needs the serve extra: pip install 'fqe-onnx[serve]' ({exc})"
        ) from exc
    if print_openapi:
        click.echo(json.dumps(openapi_document(), indent=2))
        return
    if max_images > max_queue:
        raise click.UsageError(f"--max-images ({max_images}) must not be over --max-queue ({max_queue})")
    try:
        from ..serve.app import build_app
        from ..serve.service import ServeConfig, Service
    except ImportError as exc:
        raise click.ClickException(
            f"fqe-onnx serve needs the serve extra: pip install 'fqe-onnx[serve]' ({exc})"
        ) from exc
    from ..scorer import Scorer
    from ..session import available_cores

    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    try:
        # threads=0: the scorer works in the calling thread; the batcher's workers are the threads
        scorer = Scorer(
            model,
            device=device,
            batch_size=batch_size,
            threads=0,
            align=align,
            max_pixels=max_pixels,
            precision=precision,
            **overrides,
        )
        config = ServeConfig(
            max_wait_s=max_wait_ms / 1000,
            max_queue=max_queue,
            workers=threads or available_cores(),
            max_body=max_body,
            max_images=max_images,
            max_in_flight=max_in_flight,
            body_timeout_s=body_timeout,
            api_key=api_key or None,
        )
        service = Service(scorer, config)
    except FqeError as exc:
        raise fail(exc) from exc
    click.echo(
        f"serving {service.model_info['model'] or 'the model'} on {scorer.provider}, --align {align}, "
        f"batches of {scorer.batch_size} on {config.workers} threads, at http://{host}:{port}",
        err=True,
    )
    app = build_app(service)
    run_server(app, service, host, port, drain_timeout)
    if service.failure:
        click.echo(f"Error: {service.failure}", err=True)
        sys.exit(2)
