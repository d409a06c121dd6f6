"""The batcher alone, with a recording score function: batch sizes, the wait bound, all-or-nothing
admission, dropping, draining."""

import threading
import time

import pytest

from fqe_onnx.serve.batcher import Batcher, Closed, QueueFull


class Recorder:
    """A score function that records each batch and can be held until released."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, items):
        self.gate.wait(10)
        self.batches.append([name for name, _, _ in items])
        return [f"scored {name}" for name, _, _ in items]


def items(*names):
    return [(name, "", lambda: None) for name in names]


def test_batches_fill_up_to_the_batch_size_and_keep_order():
    score = Recorder()
    score.gate.clear()  # the first batch is held, so the rest queue up behind it
    batcher = Batcher(score, batch_size=3, max_wait_s=0.1, max_queue=100, workers=1)
    jobs = batcher.submit(items(*"abcdefgh"))
    score.gate.set()
    assert [job.future.result(10) for job in jobs] == [f"scored {c}" for c in "abcdefgh"]
    assert score.batches == [list("abc"), list("def"), list("gh")]
    batcher.close()


def test_a_lone_image_waits_at_most_the_wait_bound():
    score = Recorder()
    batcher = Batcher(score, batch_size=64, max_wait_s=0.2, max_queue=100, workers=1)
    start = time.monotonic()
    assert batcher.submit(items("a"))[0].future.result(10) == "scored a"
    assert 0.15 <= time.monotonic() - start < 5
    batcher.close()


def test_admission_is_all_or_nothing_and_drop_empties_the_queue():
    score = Recorder()
    score.gate.clear()
    depths = []
    batcher = Batcher(score, batch_size=1, max_wait_s=0, max_queue=3, workers=1, on_depth=depths.append)
    busy = batcher.submit(items("busy"))
    deadline = time.monotonic() + 5
    while batcher.depth and time.monotonic() < deadline:  # the worker took it and is held at the gate
        time.sleep(0.01)
    waiting = batcher.submit(items("a", "b"))
    with pytest.raises(QueueFull):
        batcher.submit(items("c", "d"))  # 2 + 2 > 3: none of them is queued
    assert batcher.depth == 2
    assert batcher.drop(waiting) == 2 and batcher.depth == 0 and depths[-1] == 0
    assert all(job.future.cancelled() for job in waiting)
    score.gate.set()
    assert busy[0].future.result(10) == "scored busy"
    batcher.close()
    assert score.batches == [["busy"]]


def test_close_drains_what_is_queued_then_refuses():
    score = Recorder()
    batcher = Batcher(score, batch_size=8, max_wait_s=60, max_queue=100, workers=2)
    jobs = batcher.submit(items("a", "b"))
    batcher.close(drain=True, timeout=10)  # does not wait the 60 s for the batch to fill
    assert [job.future.result(0) for job in jobs] == ["scored a", "scored b"]
    with pytest.raises(Closed):
        batcher.submit(items("c"))


def test_a_failing_batch_fails_its_own_requests_only():
    calls = []

    def score(batch):
        calls.append(len(batch))
        if any(name == "bad" for name, _, _ in batch):
            raise RuntimeError("boom")
        return ["ok"] * len(batch)

    batcher = Batcher(score, batch_size=1, max_wait_s=0, max_queue=10, workers=1)
    bad, good = batcher.submit(items("bad"))[0], batcher.submit(items("good"))[0]
    with pytest.raises(RuntimeError):
        bad.future.result(10)
    assert good.future.result(10) == "ok"
    batcher.close()
