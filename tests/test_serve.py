"""``fqe-onnx serve`` as a real process on a loopback port, driven by a real HTTP client (httpx):
rows equal score's, every refusal of the serving guide's table, the hostile corpus as uploads, metrics,
client disconnects, SIGTERM/SIGINT draining, and a schemathesis run over the committed OpenAPI document."""

import base64
import csv
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import random_face
from serving import FQE, Server, free_port
from test_hostile import corpus, encoded, png_bomb, reshape_model  # noqa: F401  (corpus is a fixture)
from tiny_models import fixed_matrix, pooled_linear

from fqe_onnx.cli import main
from fqe_onnx.records import cell
from fqe_onnx.measure_catalog import MEASURE_COLUMNS
from fqe_onnx.records import COLUMNS

OPENAPI = Path(__file__).parent.parent / "fqe_onnx" / "serve" / "openapi.json"
KEY = "s3cret-key"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return pooled_linear(tmp_path_factory.mktemp("serve") / "tiny.onnx", weights=fixed_matrix(3, 512, seed=1))


@pytest.fixture(scope="module")
def server(tiny):
    """Tiny model, --align never, default limits, no API key."""
    running = Server("-m", str(tiny), "--align", "never", "--threads", "2")
    yield running
    assert running.stop() == 0, running.output()


@pytest.fixture(scope="module")
def strict(tiny):
    """Tiny model with small limits and an API key from the environment."""
    running = Server(
        "-m",
        str(tiny),
        "--align",
        "never",
        "--max-body",
        "300000",
        "--max-images",
        "3",
        "--body-timeout",
        "1",
        env={"FQE_ONNX_API_KEY": KEY},
    )
    yield running
    assert running.stop() == 0, running.output()


def png(seed: int, size=(250, 250)) -> bytes:
    return encoded(random_face(seed, size), ".png")


def as_json(named: dict) -> dict:
    return {"images": [{"name": name, "data": base64.b64encode(data).decode()} for name, data in named.items()]}


def as_files(named: dict) -> list:
    return [("images", (name, data, "application/octet-stream")) for name, data in named.items()]


def refused(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == code and body["status"] == status and body["detail"], body
    return body


# -- rows ---------------------------------------------------------------------------------------------


def test_rows_equal_score_for_the_same_files_multipart_and_json(default_model, tmp_path):
    from fqe_onnx.demo import astronaut_bgr

    root = tmp_path / "files"
    root.mkdir()
    face = astronaut_bgr()
    files = {
        "astronaut.png": encoded(face, ".png"),
        "astronaut_250.jpg": encoded(cv2.resize(face, (250, 250), interpolation=cv2.INTER_AREA), ".jpg"),
        "astronaut_112.png": encoded(
            cv2.resize(face[60:300, 120:360], (112, 112), interpolation=cv2.INTER_AREA), ".png"
        ),
        "noise.png": png(3),
        "cut.jpg": encoded(face, ".jpg")[:5000],
        "text.jpg": b"not a picture at all",
        "bomb.png": png_bomb(30000),
        "black.png": encoded(np.zeros((64, 64, 3), np.uint8), ".png"),
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    done = subprocess.run(
        FQE + ["score", str(root), "-m", str(default_model), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    expected = {r["path"]: r for r in csv.DictReader(io.StringIO(done.stdout))}
    assert set(expected) == set(files), done.stderr
    assert {r["mode"] for r in expected.values() if r["q"]} >= {"aligned", "as-is"}  # both framings are covered
    service = Server("-m", str(default_model), "--threads", "2")
    try:
        by_multipart = service.client.post("/v1/score", files=as_files(files)).json()["rows"]
        by_json = service.client.post("/v1/score?embedding=1", json=as_json(files)).json()["rows"]
        one_each = [
            service.client.post("/v1/score", files=as_files({n: d})).json()["rows"][0] for n, d in files.items()
        ]
    finally:
        assert service.stop() == 0, service.output()
    for rows in (by_multipart, by_json, one_each):
        assert [r["name"] for r in rows] == list(files)  # one row per image, in order
        for got in rows:
            want = expected[got["name"]]
            assert set(got) - {"embedding"} == {"name"} | set(COLUMNS) - {"path"}
            for column in COLUMNS:
                if column in ("path", "q"):
                    continue
                assert cell(got[column]) == want[column], (got, want)  # as the CSV writes a cell
            if want["q"]:
                assert got["q"] == pytest.approx(float(want["q"]), rel=1e-5)
            else:
                assert got["q"] is None
    for got in by_json:
        if got["q"] is None:
            assert got["embedding"] is None
        else:  # the embedding's norm is q
            assert len(got["embedding"]) == 512
            assert float(np.linalg.norm(got["embedding"])) == pytest.approx(got["q"], rel=1e-5)
    assert "embedding" not in by_multipart[0]


def test_hostile_corpus_as_uploads_gives_score_s_error_kinds(server, corpus):  # noqa: F811  (the corpus fixture, imported above)
    root, expected = corpus
    uploads = {name: (root / name).read_bytes() for name in expected if (root / name).is_file()}
    assert len(uploads) >= 20  # what cannot be uploaded: the FIFO, /dev/zero, a dangling link
    rows = []
    for start in range(0, len(uploads), 8):
        part = dict(list(uploads.items())[start : start + 8])
        response = server.client.post("/v1/score", files=as_files(part))
        assert response.status_code == 200, response.text
        rows += response.json()["rows"]
    by_json = server.client.post("/v1/score", json=as_json(dict(list(uploads.items())[:10]))).json()["rows"]
    assert by_json == rows[:10]
    assert [r["name"] for r in rows] == list(uploads)
    assert {r["name"]: r["error_kind"] for r in rows} == {name: expected[name] for name in uploads}
    for r in rows:
        assert (r["q"] is None) == bool(r["error_kind"]) and bool(r["error"]) == bool(r["error_kind"]), r
    bomb = next(r for r in rows if r["name"] == "bomb_60k.png")
    assert "60000x60000" in bomb["error"] and "--max-pixels" in bomb["error"] and bomb["format"] == "png"


# -- refusals -------------------------------------------------------------------------------------------


def test_api_key_missing_or_wrong_is_401_and_either_header_works(strict):
    body = as_json({"a.png": png(1)})
    refused(strict.client.post("/v1/score", json=body), 401, "unauthorized")
    refused(strict.client.post("/v1/score", json=body, headers={"X-API-Key": "wrong"}), 401, "unauthorized")
    refused(strict.client.get("/v1/model", headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
    assert strict.client.post("/v1/score", json=body, headers={"X-API-Key": KEY}).status_code == 200
    assert strict.client.post("/v1/score", json=body, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    assert strict.client.get("/healthz").status_code == 200  # probes need no key


def test_size_and_count_limits_are_413(strict):
    headers = {"X-API-Key": KEY}
    big = {"big.png": os.urandom(300_001)}
    refused(strict.client.post("/v1/score", files=as_files(big), headers=headers), 413, "body-too-large")

    def chunks():  # no Content-Length: the limit holds while the body streams in
        for _ in range(8):
            yield b"x" * 50_000

    refused(
        strict.client.post("/v1/score", content=chunks(), headers={**headers, "Content-Type": "application/json"}),
        413,
        "body-too-large",
    )
    four = {f"{i}.png": png(i, (32, 32)) for i in range(4)}
    refused(strict.client.post("/v1/score", json=as_json(four), headers=headers), 413, "too-many-images")
    refused(strict.client.post("/v1/score", files=as_files(four), headers=headers), 413, "too-many-images")
    three = dict(list(four.items())[:3])
    assert len(strict.client.post("/v1/score", files=as_files(three), headers=headers).json()["rows"]) == 3


@pytest.mark.parametrize(
    "content, content_type, code",
    [
        (b'{"images": [', "application/json", "bad-json"),
        (b"\xff\xfe not utf-8", "application/json", "bad-json"),
        (b'{"pictures": []}', "application/json", "bad-json"),
        (b'{"images": "a.png"}', "application/json", "bad-json"),
        (b'{"images": [{"name": "a"}]}', "application/json", "bad-json"),
        (b'{"images": [{"name": 3, "data": ""}]}', "application/json", "bad-json"),
        (b'{"images": [{"name": "a", "data": "not base64!"}]}', "application/json", "bad-base64"),
        (b'{"images": []}', "application/json", "no-images"),
        (
            b'--xyz\r\nContent-Disposition: form-data; name="images"; filename="a"\r\n\r\nabc',
            "multipart/form-data",
            "bad-multipart",
        ),
        (
            b'--b\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n--b--\r\n',
            "multipart/form-data; boundary=b",
            "no-images",
        ),
    ],
)
def test_malformed_bodies_are_400_saying_what_was_wrong(strict, content, content_type, code):
    body = refused(
        strict.client.post("/v1/score", content=content, headers={"X-API-Key": KEY, "Content-Type": content_type}),
        400,
        code,
    )
    if code == "bad-base64":
        assert "images[0]" in body["detail"]


def test_other_refusals_are_json(strict):
    headers = {"X-API-Key": KEY}
    refused(
        strict.client.post("/v1/score", content=b"hi", headers={**headers, "Content-Type": "text/plain"}),
        415,
        "unsupported-media-type",
    )
    refused(
        strict.client.post("/v1/score?embedding=yes", json=as_json({"a": png(1)}), headers=headers), 400, "bad-request"
    )
    refused(strict.client.get("/v1/nothing"), 404, "not-found")
    refused(strict.client.get("/v1/score"), 405, "method-not-allowed")


def raw_request(port: int, head: bytes, body: bytes = b"", read_timeout: float = 20) -> tuple[bytes, float]:
    """Send ``head`` and ``body`` on a plain socket and read until the server closes; (reply, seconds)."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head + body)
        sock.settimeout(read_timeout)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply, time.monotonic() - start


def test_a_client_too_slow_to_send_its_body_gets_408(strict):
    head = (
        b"POST /v1/score HTTP/1.1\r\nHost: t\r\nX-API-Key: "
        + KEY.encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    reply, seconds = raw_request(strict.port, head, b'{"images": [')  # and then nothing more
    status_line, _, rest = reply.partition(b"\r\n")
    assert b" 408 " in status_line, reply
    assert json.loads(rest.partition(b"\r\n\r\n")[2])["error"] == "body-timeout"
    assert 1 <= seconds < 15  # --body-timeout 1, then the connection is closed


def test_a_full_queue_is_503_with_retry_after_and_every_request_is_answered(tiny):
    # one worker, one image per batch, room for two: big images take long enough to decode that
    # twenty simultaneous requests cannot all fit
    service = Server(
        "-m",
        str(tiny),
        "--align",
        "never",
        "--threads",
        "1",
        "--batch-size",
        "1",
        "--max-queue",
        "2",
        "--max-images",
        "2",
        "--max-wait-ms",
        "0",
    )
    image = encoded(cv2.resize(random_face(5), (4000, 4000), interpolation=cv2.INTER_CUBIC), ".jpg")
    statuses, bodies = [], []

    def send() -> None:
        with httpx.Client(base_url=service.url, timeout=120) as client:
            response = client.post("/v1/score", files=as_files({"big.jpg": image}))
            statuses.append(response.status_code)
            bodies.append(response)

    threads = [threading.Thread(target=send) for _ in range(20)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        assert service.metric("fqe_onnx_queue_depth") == 0
    finally:
        assert service.stop() == 0, service.output()
    assert len(statuses) == 20 and set(statuses) <= {200, 503}, statuses
    assert 200 in statuses and 503 in statuses, statuses
    busy = next(r for r in bodies if r.status_code == 503)
    refused(busy, 503, "queue-full")
    assert busy.headers["retry-after"] == "1"


# -- metrics, disconnects, draining -------------------------------------------------------------------------


def test_metrics_move_as_requests_are_served(server):
    before = {
        "ok": server.metric("fqe_onnx_requests_total", route="/v1/score", status="200"),
        "bad": server.metric("fqe_onnx_requests_total", route="/v1/score", status="415"),
        "scored": server.metric("fqe_onnx_images_total", mode="geometry", error_kind="none"),
        "text": server.metric("fqe_onnx_images_total", mode="none", error_kind="not-an-image"),
        "batches": server.metric("fqe_onnx_batch_size_count"),
        "latency": server.metric("fqe_onnx_request_duration_seconds_count", route="/v1/score"),
    }
    images = {"a.png": png(1), "b.png": png(2), "c.jpg": b"not an image"}
    assert server.client.post("/v1/score", files=as_files(images)).status_code == 200
    assert server.client.post("/v1/score", content=b"x", headers={"Content-Type": "text/csv"}).status_code == 415
    assert server.metric("fqe_onnx_requests_total", route="/v1/score", status="200") == before["ok"] + 1
    assert server.metric("fqe_onnx_requests_total", route="/v1/score", status="415") == before["bad"] + 1
    assert server.metric("fqe_onnx_images_total", mode="geometry", error_kind="none") == before["scored"] + 2
    assert server.metric("fqe_onnx_images_total", mode="none", error_kind="not-an-image") == before["text"] + 1
    assert server.metric("fqe_onnx_batch_size_count") > before["batches"]
    assert server.metric("fqe_onnx_request_duration_seconds_count", route="/v1/score") == before["latency"] + 2
    assert server.metric("fqe_onnx_queue_depth") == 0 and server.metric("fqe_onnx_requests_in_flight") == 0


def test_model_endpoint_and_health(server, tiny):
    info = server.client.get("/v1/model").json()
    import hashlib

    assert info["sha256"] == hashlib.sha256(tiny.read_bytes()).hexdigest()
    assert info["provider"] == "CPUExecutionProvider" and info["align"] == "never"
    assert info["contract"]["preprocess"]["geometry"]["resize"] and len(info["template"]["points"]) == 5
    assert server.client.get("/healthz").json() == {"status": "live"}
    assert server.client.get("/readyz").json() == {"status": "ready"}


def slow_batches(tiny) -> Server:
    """A server whose batches wait 60 s to fill: images stay queued until something else happens."""
    return Server("-m", str(tiny), "--align", "never", "--threads", "1", "--batch-size", "64", "--max-wait-ms", "60000")


def multipart_request(port: int, name: str, data: bytes) -> tuple[bytes, bytes]:
    boundary = b"fqeboundary"
    body = (
        b"--"
        + boundary
        + b'\r\nContent-Disposition: form-data; name="images"; filename="'
        + name.encode()
        + b'"\r\nContent-Type: image/png\r\n\r\n'
        + data
        + b"\r\n--"
        + boundary
        + b"--\r\n"
    )
    head = (
        b"POST /v1/score HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary="
        + boundary
        + b"\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
    )
    return head, body


def test_a_client_that_disconnects_has_its_queued_work_dropped(tiny):
    service = slow_batches(tiny)
    try:
        head, body = multipart_request(service.port, "a.png", png(1))
        with socket.create_connection(("127.0.0.1", service.port)) as sock:
            sock.sendall(head + body)
            service.wait_metric("fqe_onnx_queue_depth", 1)
        service.wait_metric("fqe_onnx_images_dropped_total", 1)
        assert service.metric("fqe_onnx_queue_depth") == 0
        service.wait_metric("fqe_onnx_requests_in_flight", 0)
        assert service.metric("fqe_onnx_batch_size_count") == 0  # it never reached the scorer
    finally:
        assert service.stop() == 0, service.output()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_answers_every_accepted_request_then_exits_0(tiny, sig):
    service = slow_batches(tiny)
    replies: dict = {}

    def send(i: int) -> None:
        with httpx.Client(base_url=service.url, timeout=60) as client:
            replies[i] = client.post("/v1/score", files=as_files({f"{i}.png": png(i)}))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(5)]
    try:
        for t in threads:
            t.start()
        service.wait_metric("fqe_onnx_queue_depth", 5)  # accepted, waiting for a batch that would wait 60 s
        start = time.monotonic()
        service.process.send_signal(sig)
        for t in threads:
            t.join(30)
        status = service.process.wait(30)
        seconds = time.monotonic() - start
    finally:
        service.stop()
    assert status == 0, service.output()
    assert seconds < 20  # well before the 60 s the batch would have waited
    assert sorted(replies) == list(range(5))
    for i, reply in replies.items():
        assert reply.status_code == 200 and reply.json()["rows"][0]["name"] == f"{i}.png"
    with pytest.raises(httpx.TransportError):  # nothing listens any more
        httpx.get(service.url + "/healthz", timeout=5)


# -- the OpenAPI document -------------------------------------------------------------------------------------


def test_the_committed_openapi_document_is_what_the_app_serves(server):
    served = server.client.get("/openapi.json").json()
    assert json.loads(OPENAPI.read_text()) == served
    printed = CliRunner().invoke(main, ["serve", "--openapi"])
    assert printed.exit_code == 0 and json.loads(printed.stdout) == served
    row = served["components"]["schemas"]["Row"]["properties"]
    assert list(row) == ["name"] + [c for c in COLUMNS if c != "path"] + list(MEASURE_COLUMNS) + ["embedding"]


def test_schemathesis_finds_no_server_error_in_the_committed_document(server, tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            str(OPENAPI),
            "--url",
            server.url,
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "-n",
            "30",
            "--generation-deterministic",
            "--request-timeout",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", done.stdout)
    assert counts and counts[1] == counts[2] and int(counts[1]) >= 50, done.stdout[-4000:]
    assert server.metric("fqe_onnx_requests_total", route="/v1/score", status="200") > 0
    assert server.metric("fqe_onnx_requests_total", route="/v1/score", status="500") == 0


def test_usage_errors_exit_2(tiny):
    result = CliRunner().invoke(main, ["serve", "-m", str(tiny), "--max-images", "10", "--max-queue", "5"])
    assert result.exit_code == 2 and "--max-images" in result.stderr
    result = CliRunner().invoke(main, ["serve", "-m", str(tiny) + ".missing"])
    assert result.exit_code == 2


def test_a_model_that_cannot_score_ends_the_server_with_exit_2(tmp_path):
    model = reshape_model(tmp_path / "broken.onnx", [2, 256])  # any batch gives the wrong output shape
    port = str(free_port())
    done = subprocess.run(
        FQE + ["serve", "-m", str(model), "--port", port], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert "warm-up failed" in done.stderr and "Traceback" not in done.stderr


def test_more_requests_in_flight_than_allowed_are_503_busy(tiny):
    service = Server(
        "-m",
        str(tiny),
        "--align",
        "never",
        "--threads",
        "1",
        "--batch-size",
        "64",
        "--max-wait-ms",
        "60000",
        "--max-in-flight",
        "2",
    )
    replies: list = []

    def send() -> None:
        with httpx.Client(base_url=service.url, timeout=60) as client:
            replies.append(client.post("/v1/score", files=as_files({"a.png": png(1)})))

    threads = [threading.Thread(target=send) for _ in range(2)]
    try:
        for t in threads:
            t.start()
        service.wait_metric("fqe_onnx_requests_in_flight", 2)
        busy = service.client.post("/v1/score", files=as_files({"b.png": png(2)}))
        refused(busy, 503, "busy")
        assert busy.headers["retry-after"] == "1"
        service.process.send_signal(signal.SIGTERM)  # the two waiting requests are answered
        for t in threads:
            t.join(30)
    finally:
        assert service.stop() == 0, service.output()
    assert [r.status_code for r in replies] == [200, 200]


def test_readyz_is_503_until_the_warm_up_batch_is_done(tiny):
    """In process (the app over a Service whose warm-up waits for the test): live at once, not ready,
    and scoring refused with 503 not-ready, until the warm-up batch has run."""
    from starlette.testclient import TestClient

    from fqe_onnx.scorer import Scorer
    from fqe_onnx.serve.app import build_app
    from fqe_onnx.serve.service import ServeConfig, Service

    service = Service(Scorer(str(tiny), align="never", threads=1), ServeConfig())
    release, warmed = threading.Event(), service.warm_up
    service.warm_up = lambda: (release.wait(30), warmed())[-1]
    with TestClient(build_app(service)) as client:
        assert client.get("/healthz").status_code == 200
        response = client.get("/readyz")
        assert "warming up" in refused(response, 503, "not-ready")["detail"] and response.headers["Retry-After"]
        refused(client.post("/v1/score", files=as_files({"a.png": png(1)})), 503, "not-ready")
        release.set()
        deadline = time.monotonic() + 30
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "never became ready"
            time.sleep(0.05)
        assert client.post("/v1/score", files=as_files({"a.png": png(1)})).json()["rows"][0]["error_kind"] == ""
