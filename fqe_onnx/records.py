"""One row per input: the record every scorer yields and every writer writes."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Optional

#: Output columns, in order. ``mode``: how the image was framed (aligned, as-is, geometry);
#: ``format``: sniffed from the file's bytes (jpeg, png, bmp, webp; empty for arrays and unreadable
#: files); ``error_kind``: a stable word from ``fqe_onnx.errors.ERROR_KINDS``; ``error``: the message.
COLUMNS = ("path", "identity", "q", "Q", "mode", "format", "error_kind", "error")


@dataclass(frozen=True)
class Record:
    """One scored image: raw norm ``q`` and score ``Q``, or None for both with an error kind and text."""

    path: str
    identity: str
    q: Optional[float]
    Q: Optional[int]
    mode: str = ""
    format: str = ""
    error_kind: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error_kind

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
