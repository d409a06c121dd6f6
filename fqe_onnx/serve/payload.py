"""Request bodies to uploads: a JSON ``{"images": [{"name": ..., "data": base64}]}`` or a
``multipart/form-data`` body of files, each to an ``Upload``; anything malformed is a ``Refusal``
(the status and a JSON body that says what was wrong). Images are not decoded here: that happens in
the batcher's worker threads, exactly as ``score`` decodes files (``load_upload``)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, AsyncGenerator, Mapping, Optional

import numpy as np

from ..decode import Limits, decode_image
from ..errors import ImageError


@dataclass(frozen=True)
class Upload:
    """One image of a request: its name (the file name, or the JSON ``name``), identity and bytes."""

    name: str
    identity: str
    data: bytes


class Refusal(Exception):
    """A request the service will not score: HTTP ``status``, a stable ``code`` and a message."""

    def __init__(self, status: int, code: str, message: str, headers: Optional[Mapping[str, str]] = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "status": self.status, "detail": self.message}


def load_upload(data: bytes, limits: Limits) -> tuple[np.ndarray, str]:
    """Decode an uploaded image with ``score``'s limits: its byte limit (as ``read_bytes`` applies it
    to files), then ``decode_image``, so rows and error kinds equal those of the same file scored."""
    if len(data) > limits.max_bytes:
        raise ImageError(
            f"file is {len(data) / 2**20:.1f} MiB, over the limit of {limits.max_bytes / 2**20:g} MiB", "too-large"
        )
    return decode_image(data, limits)


def _count_images(count: int, max_images: int) -> None:
    if count == 0:
        raise Refusal(400, "no-images", "the request has no images")
    if count > max_images:
        raise Refusal(
            413, "too-many-images", f"the request has {count} images; at most {max_images} per request (--max-images)"
        )


def parse_json(body: bytes, max_images: int) -> list[Upload]:
    """``{"images": [{"name": str, "data": base64 str, "identity": str (optional)}, ...]}`` to uploads."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise Refusal(400, "bad-json", f"the body is not JSON: {exc}") from None
    images = document.get("images") if isinstance(document, dict) else None
    if not isinstance(images, list):
        raise Refusal(400, "bad-json", 'expected an object {"images": [{"name": ..., "data": base64}, ...]}')
    _count_images(len(images), max_images)
    uploads = []
    for index, image in enumerate(images):
        where = f"images[{index}]"
        if not isinstance(image, dict) or not isinstance(image.get("data"), str):
            raise Refusal(400, "bad-json", f'{where}: expected an object with a base64 string "data"')
        name, identity = image.get("name", str(index)), image.get("identity", "")
        if not isinstance(name, str) or not isinstance(identity, str):
            raise Refusal(400, "bad-json", f'{where}: "name" and "identity" must be strings')
        try:
            data = base64.b64decode(image["data"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise Refusal(400, "bad-base64", f"{where} ({name!r}): data is not valid base64: {exc}") from None
        uploads.append(Upload(name, identity, data))
    return uploads


async def parse_multipart(headers: Mapping[str, str], body: bytes, max_images: int) -> list[Upload]:
    """The file parts of a ``multipart/form-data`` body, in order (any field name; ``images`` in the
    API document); text fields are ignored. Parsed by Starlette's parser (python-multipart)."""
    from starlette.datastructures import Headers, UploadFile
    from starlette.formparsers import MultiPartException, MultiPartParser

    async def stream() -> AsyncGenerator[bytes, None]:
        yield body
        yield b""

    parser = MultiPartParser(
        Headers(headers=dict(headers)), stream(), max_files=max_images + 1, max_fields=1000, max_part_size=len(body) + 1
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        if exc.message.startswith("Too many files"):
            raise Refusal(
                413, "too-many-images", f"more than {max_images} images in the request (--max-images)"
            ) from None
        raise Refusal(400, "bad-multipart", f"malformed multipart body: {exc.message}") from None
    try:
        files = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
        _count_images(len(files), max_images)
        return [Upload(upload.filename or str(index), "", await upload.read()) for index, upload in enumerate(files)]
    finally:
        await form.close()
