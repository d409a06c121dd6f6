"""The service's Prometheus metrics, in one registry per app (so two apps in one process do not
clash), named the Prometheus way: a ``fqe_onnx_`` prefix, ``_total`` counters, base units."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

#: Request latency buckets in seconds, from a single small image to a large batch under load.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ServeMetrics:
    """Requests by route and status, images by mode and error kind, request latency, batch sizes,
    queue depth, requests in flight and images dropped because their client went away."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "fqe_onnx_requests", "HTTP requests answered, by route and status", ["route", "status"], registry=r
        )
        self.latency = Histogram(
            "fqe_onnx_request_duration_seconds",
            "Time from request to response, by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.images = Counter(
            "fqe_onnx_images",
            "Images scored, by framing mode and error kind ('none': scored)",
            ["mode", "error_kind"],
            registry=r,
        )
        self.batch_size = Histogram(
            "fqe_onnx_batch_size", "Images per batch given to the scorer", buckets=BATCH_BUCKETS, registry=r
        )
        self.queue_depth = Gauge("fqe_onnx_queue_depth", "Images waiting in the queue", registry=r)
        self.in_flight = Gauge("fqe_onnx_requests_in_flight", "Requests being served now", registry=r)
        self.dropped = Counter(
            "fqe_onnx_images_dropped", "Queued images dropped because their client went away", registry=r
        )

    def image(self, mode: str, error_kind: str) -> None:
        self.images.labels(mode or "none", error_kind or "none").inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
