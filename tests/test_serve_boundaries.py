"""The service's boundaries from both sides, on a real ``fqe-onnx serve`` on 127.0.0.1: who may call
it (the API key in either header, and every near miss of it refused), and how big a body and how
many images may be (accepted at --max-body and --max-images, 413 one past them, whether the body
declares its length or streams in chunks).

What --max-body counts: the bytes of the request body as the application receives it, that is
after the chunked transfer coding is taken off (chunk sizes and their CRLFs are not counted), and
before anything is parsed (the whole JSON text or multipart envelope, base64 and boundaries
included). Headers are not counted."""

import base64
import json

import httpx
import pytest

from serving import Server
from test_serve import as_json, png, raw_request, refused
from tiny_models import fixed_matrix, pooled_linear

KEY = "k3y-7f2c9d"
LIMIT = 20_000  # --max-body
IMAGES = 3  # --max-images


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return pooled_linear(tmp_path_factory.mktemp("boundaries") / "tiny.onnx", weights=fixed_matrix(3, 512, seed=1))


@pytest.fixture(scope="module")
def guarded(tiny):
    """Tiny model, an API key from the environment, --max-body LIMIT and --max-images IMAGES."""
    running = Server(
        "-m",
        str(tiny),
        "--align",
        "never",
        "--max-body",
        str(LIMIT),
        "--max-images",
        str(IMAGES),
        "--body-timeout",
        "10",
        env={"FQE_ONNX_API_KEY": KEY},
    )
    yield running
    assert running.stop() == 0, running.output()


def small_images(count: int) -> dict:
    return {f"{i}.png": png(i, (32, 32)) for i in range(count)}


# -- the API key ----------------------------------------------------------------------------------------

ACCEPTED = {
    "x-api-key": {"X-API-Key": KEY},
    "bearer": {"Authorization": f"Bearer {KEY}"},
    "bearer-lower-case-scheme": {"Authorization": f"bearer {KEY}"},  # an auth scheme is case-insensitive
}

REFUSED = {
    "no-key": {},
    "x-api-key-prefix": {"X-API-Key": KEY[:-1]},
    "x-api-key-first-character": {"X-API-Key": KEY[:1]},
    "x-api-key-plus-a-character": {"X-API-Key": KEY + "x"},
    "x-api-key-a-character-before": {"X-API-Key": "x" + KEY},
    "x-api-key-other-case": {"X-API-Key": KEY.upper()},
    "x-api-key-empty": {"X-API-Key": ""},
    "bearer-prefix": {"Authorization": f"Bearer {KEY[:-1]}"},
    "bearer-plus-a-character": {"Authorization": f"Bearer {KEY}x"},
    "bearer-no-token": {"Authorization": "Bearer"},
    "bearer-glued-to-the-key": {"Authorization": f"Bearer{KEY}"},
    "authorization-empty": {"Authorization": ""},
    "authorization-key-without-scheme": {"Authorization": KEY},
    "basic-scheme-with-the-key": {"Authorization": f"Basic {KEY}"},
    "basic-scheme-user-and-key": {"Authorization": "Basic " + base64.b64encode(f"user:{KEY}".encode()).decode()},
    "token-scheme": {"Authorization": f"Token {KEY}"},
}


@pytest.mark.parametrize("headers", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_the_right_key_is_accepted_in_either_header(guarded, headers):
    assert guarded.client.get("/v1/model", headers=headers).status_code == 200
    response = guarded.client.post("/v1/score", json=as_json(small_images(1)), headers=headers)
    assert response.status_code == 200, response.text
    assert [r["error_kind"] for r in response.json()["rows"]] == [""]


@pytest.mark.parametrize("headers", REFUSED.values(), ids=REFUSED.keys())
def test_a_near_miss_of_the_key_is_401(guarded, headers):
    for response in (
        guarded.client.get("/v1/model", headers=headers),
        guarded.client.post("/v1/score", json=as_json(small_images(1)), headers=headers),
    ):
        refused(response, 401, "unauthorized")
        assert response.headers["www-authenticate"].startswith("Bearer")


EMPTY_LINES = {
    "bearer-space": b"Authorization: Bearer ",
    "bearer-blanks": b"Authorization: Bearer \t ",
    "x-api-key-space": b"X-API-Key: ",
    "x-api-key-bare": b"X-API-Key:",
}


@pytest.mark.parametrize("line", EMPTY_LINES.values(), ids=EMPTY_LINES.keys())
def test_an_empty_key_sent_as_is_is_401(guarded, line):
    """Header lines an HTTP client library will not send (trailing blanks), written on a socket."""
    for head in (b"GET /v1/model HTTP/1.1\r\n", b"POST /v1/score HTTP/1.1\r\nContent-Length: 0\r\n"):
        reply, _ = raw_request(guarded.port, head + b"Host: t\r\nConnection: close\r\n" + line + b"\r\n\r\n")
        status_line, _, rest = reply.partition(b"\r\n")
        assert b" 401 " in status_line, reply
        assert json.loads(rest.partition(b"\r\n\r\n")[2])["error"] == "unauthorized"


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/openapi.json"])
def test_the_probes_metrics_and_api_document_need_no_key(guarded, path):
    for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}):
        assert guarded.client.get(path, headers=headers).status_code == 200, path


def test_a_key_outside_ascii_is_compared_as_the_bytes_sent(tiny):
    """Header values reach the app decoded as Latin-1: the key is compared as the bytes on the wire
    (its UTF-8 encoding), not re-encoded from that Latin-1 reading."""
    key = "clé-ключ"
    running = Server("-m", str(tiny), "--align", "never", env={"FQE_ONNX_API_KEY": key})
    try:
        assert running.client.get("/v1/model", headers={b"X-API-Key": key.encode()}).status_code == 200
        bearer = b"Bearer " + key.encode()
        assert running.client.get("/v1/model", headers={b"Authorization": bearer}).status_code == 200
        for wrong in (key.encode("latin-1", "replace"), key.encode()[:-1], key.encode() + b"x"):
            refused(running.client.get("/v1/model", headers={b"X-API-Key": wrong}), 401, "unauthorized")
    finally:
        assert running.stop() == 0, running.output()


# -- --max-body and --max-images ------------------------------------------------------------------------


def json_body(images: dict, size: int) -> tuple[bytes, str]:
    """A JSON body of ``images`` that is exactly ``size`` bytes (blanks after the document)."""
    body = json.dumps(as_json(images)).encode()
    assert len(body) <= size
    return body + b" " * (size - len(body)), "application/json"


def multipart_body(images: dict, size: int) -> tuple[bytes, str]:
    """A multipart body of ``images`` and one text field that brings it to exactly ``size`` bytes."""
    boundary = b"fqe-boundary"
    parts = b"".join(
        b"--"
        + boundary
        + b'\r\nContent-Disposition: form-data; name="images"; filename="'
        + name.encode()
        + b'"\r\nContent-Type: image/png\r\n\r\n'
        + data
        + b"\r\n"
        for name, data in images.items()
    )
    note = b"--" + boundary + b'\r\nContent-Disposition: form-data; name="note"\r\n\r\n'
    end = b"\r\n--" + boundary + b"--\r\n"
    filler = size - len(parts + note + end)
    assert filler >= 0
    return parts + note + b"n" * filler + end, "multipart/form-data; boundary=" + boundary.decode()


BODIES = {"json": json_body, "multipart": multipart_body}


def post(server: Server, body: bytes, content_type: str, transport: str) -> httpx.Response:
    """POST ``body`` with its length declared (Content-Length) or streamed (chunked, in chunks of 997 bytes)."""
    headers = {"X-API-Key": KEY, "Content-Type": content_type}
    if transport == "declared":
        response = server.client.post("/v1/score", content=body, headers=headers)
        assert response.request.headers["content-length"] == str(len(body))
    else:

        def chunks():
            for start in range(0, len(body), 997):
                yield body[start : start + 997]

        response = server.client.post("/v1/score", content=chunks(), headers=headers)
        assert response.request.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in response.request.headers
    return response


@pytest.mark.parametrize("transport", ["declared", "chunked"])
@pytest.mark.parametrize("kind", BODIES)
def test_a_body_of_exactly_max_body_bytes_and_max_images_images_is_scored(guarded, kind, transport):
    images = small_images(IMAGES)
    body, content_type = BODIES[kind](images, LIMIT)
    assert len(body) == LIMIT
    response = post(guarded, body, content_type, transport)
    assert response.status_code == 200, response.text
    rows = response.json()["rows"]
    assert [r["name"] for r in rows] == list(images) and all(r["error_kind"] == "" for r in rows), rows


@pytest.mark.parametrize("transport", ["declared", "chunked"])
@pytest.mark.parametrize("kind", BODIES)
def test_one_byte_past_max_body_is_413(guarded, kind, transport):
    body, content_type = BODIES[kind](small_images(1), LIMIT + 1)
    refused(post(guarded, body, content_type, transport), 413, "body-too-large")


@pytest.mark.parametrize("transport", ["declared", "chunked"])
@pytest.mark.parametrize("kind", BODIES)
def test_one_image_past_max_images_is_413(guarded, kind, transport):
    body, content_type = BODIES[kind](small_images(IMAGES + 1), LIMIT)  # within --max-body
    refused(post(guarded, body, content_type, transport), 413, "too-many-images")


def test_a_declared_length_one_past_max_body_is_413_before_the_body_is_sent(guarded):
    """Refused on the Content-Length alone: no byte of the body is sent, and the answer is 413, not
    the 408 the service gives a body that does not arrive (--body-timeout 10)."""
    head = (
        f"POST /v1/score HTTP/1.1\r\nHost: t\r\nX-API-Key: {KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {LIMIT + 1}\r\n\r\n"
    ).encode()
    reply, _ = raw_request(guarded.port, head, read_timeout=30)
    status_line, _, rest = reply.partition(b"\r\n")
    assert b" 413 " in status_line, reply
    detail = json.loads(rest.partition(b"\r\n\r\n")[2])["detail"]
    assert f"the body is {LIMIT + 1} bytes" in detail
