"""Dynamic batching: the images of every request go into one bounded queue; worker threads each take
up to ``batch_size`` images, waiting at most ``max_wait_s`` after the oldest image arrived for the
batch to fill, and score the batch in their own thread (decoding, framing, inference).

A full queue refuses a request at once (``QueueFull``: the caller answers 503) instead of growing a
backlog. A request whose client went away has its images taken out of the queue (``drop``); an image
already in a batch finishes and its result is discarded. ``close`` stops taking new requests and,
with ``drain``, scores everything already queued before the workers end.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence, Union

log = logging.getLogger(__name__)

#: (name, identity, loader[, measures]) as ``Scorer.embed_items`` takes it; the loader decodes in a
#: worker thread, and the flag, when given, asks for that image's measures.
Item = Union[tuple[str, str, Callable[[], Any]], tuple[str, str, Callable[[], Any], bool]]


class QueueFull(Exception):
    """The queue has no room for the request's images: answer 503 with Retry-After."""


class Closed(Exception):
    """The batcher is shutting down and takes no new images."""


@dataclass(eq=False)
class Job:
    """One image waiting to be scored; ``future`` gets its ``Scored`` (or the batch's exception)."""

    item: Item
    future: Future = field(default_factory=Future)
    queued_at: float = field(default_factory=time.monotonic)


class Batcher:
    """Score ``Job``s in batches with ``score(items) -> results`` (one result per item, in order) on
    ``workers`` threads. ``on_batch(size)`` and ``on_depth(depth)`` report to the metrics."""

    def __init__(
        self,
        score: Callable[[list[Item]], list[Any]],
        *,
        batch_size: int,
        max_wait_s: float,
        max_queue: int,
        workers: int,
        on_batch: Callable[[int], None] = lambda size: None,
        on_depth: Callable[[int], None] = lambda depth: None,
    ) -> None:
        if batch_size < 1 or max_queue < 1 or workers < 1 or max_wait_s < 0:
            raise ValueError("batch_size, max_queue and workers must be at least 1, max_wait_s 0 or more")
        self.batch_size, self.max_wait_s, self.max_queue = batch_size, max_wait_s, max_queue
        self._score, self._on_batch, self._on_depth = score, on_batch, on_depth
        self._queue: deque[Job] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._flush = False  # when set, workers take what is queued without waiting for a batch to fill
        self._threads = [
            threading.Thread(target=self._work, name=f"fqe-serve-worker-{i}", daemon=True) for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def depth(self) -> int:
        """Images waiting in the queue (not yet in a batch)."""
        return len(self._queue)

    def submit(self, items: Sequence[Item]) -> list[Job]:
        """Queue all of a request's images, or none of them (QueueFull, Closed)."""
        jobs = [Job(item) for item in items]
        with self._cond:
            if self._closed:
                raise Closed("shutting down")
            if len(self._queue) + len(jobs) > self.max_queue:
                raise QueueFull(f"the queue holds {len(self._queue)} of {self.max_queue} images")
            self._queue.extend(jobs)
            self._on_depth(len(self._queue))
            self._cond.notify_all()
        return jobs

    def drop(self, jobs: list[Job]) -> int:
        """Take a gone client's jobs out of the queue and cancel them; how many were still queued."""
        doomed = set(map(id, jobs))
        with self._cond:
            before = len(self._queue)
            self._queue = deque(job for job in self._queue if id(job) not in doomed)
            dropped = before - len(self._queue)
            self._on_depth(len(self._queue))
        for job in jobs:
            job.future.cancel()  # a job already in a batch runs on; its result goes nowhere
        return dropped

    def flush(self) -> None:
        """From now on, batches do not wait to fill (shutting down: answer what is queued at once)."""
        with self._cond:
            self._flush = True
            self._cond.notify_all()

    def close(self, drain: bool = True, timeout: Optional[float] = None) -> None:
        """Refuse new images; with ``drain`` score what is queued, else cancel it; wait for the workers."""
        with self._cond:
            self._closed = self._flush = True
            left = [] if drain else list(self._queue)
            if not drain:
                self._queue.clear()
            self._cond.notify_all()
        for job in left:
            job.future.cancel()
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def _take(self) -> Optional[list[Job]]:
        """The next batch (possibly empty when others took the images first), or None once closed and empty."""
        with self._cond:
            while not self._queue:
                if self._closed:
                    return None
                self._cond.wait()
            # fill up to batch_size, bounded by the oldest queued image's wait
            while self._queue and len(self._queue) < self.batch_size and not self._flush:
                left = self._queue[0].queued_at + self.max_wait_s - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
            self._on_depth(len(self._queue))
            return batch

    def _work(self) -> None:
        while (batch := self._take()) is not None:
            live = [job for job in batch if job.future.set_running_or_notify_cancel()]
            if not live:
                continue
            self._on_batch(len(live))
            try:
                results = self._score([job.item for job in live])
            except Exception as exc:  # a bug or a model failure: these requests fail, the service goes on
                log.exception("scoring a batch of %d failed", len(live))
                for job in live:
                    job.future.set_exception(exc)
                continue
            for job, result in zip(live, results):
                job.future.set_result(result)
