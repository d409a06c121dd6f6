"""What the handlers share: the service's limits (``ServeConfig``) and its state (``Service``: the
scorer, the batcher, the metrics, readiness and draining, the API key check)."""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
from starlette.requests import Request

from .. import __version__
from .batcher import Batcher
from .metrics import ServeMetrics
from .payload import Refusal


@dataclass(frozen=True)
class ServeConfig:
    """The service's limits (see the table of refusals in docs/guides/serving.md)."""

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

    def __init__(
        self, scorer: Any, config: ServeConfig, on_fatal: Callable[[str], None] = lambda message: None
    ) -> None:
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
        self.batcher = Batcher(
            self._score_batch,
            batch_size=self.scorer.batch_size,
            max_wait_s=self.config.max_wait_s,
            max_queue=self.config.max_queue,
            workers=self.config.workers,
            on_batch=self.metrics.batch_size.observe,
            on_depth=self.metrics.queue_depth.set,
        )

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
        # header values reach us decoded as Latin-1: encoded back, they are the bytes sent, which
        # for a key outside ASCII are its UTF-8 bytes (as the key is written to the command line)
        if given is None or not hmac.compare_digest(
            given.encode("latin-1", "replace"), key.encode("utf-8", "surrogateescape")
        ):
            raise Refusal(
                401,
                "unauthorized",
                "missing or wrong API key (X-API-Key or Authorization: Bearer)",
                {"WWW-Authenticate": 'Bearer realm="fqe-onnx"'},
            )

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
        "limits": {
            "max_pixels": scorer.limits.max_pixels,
            "max_image_bytes": scorer.limits.max_bytes,
            "max_body": config.max_body,
            "max_images": config.max_images,
            "max_queue": config.max_queue,
        },
        "fqe_onnx_version": __version__,
    }
