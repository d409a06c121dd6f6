"""ONNX files on disk, read and written with the ``onnx`` package (no runtime needed)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .contract import Contract, contract_from_metadata, write_contract
from .errors import ModelError


def load_model_proto(model: str | os.PathLike[str] | bytes) -> Any:
    """Load an ONNX ModelProto from a file or the model's bytes, with a ModelError naming the file
    on failure."""
    import onnx

    try:
        return onnx.load_model_from_string(model) if isinstance(model, bytes) else onnx.load(str(model))
    except Exception as exc:  # onnx raises DecodeError, OSError and its own types
        where = "<bytes>" if isinstance(model, bytes) else model
        if not isinstance(exc, OSError):
            raise ModelError(f"cannot read ONNX model {where}: {not_onnx(model)}") from exc
        raise ModelError(f"cannot read ONNX model {where}: {exc}") from exc


def not_onnx(model: str | os.PathLike[str] | bytes) -> str:
    """One line for a file that does not parse as ONNX: what it looks like instead (an image is the
    usual mistake: ``--model photo.jpg``)."""
    from .decode import sniff

    try:
        head = model[:16] if isinstance(model, bytes) else Path(model).open("rb").read(16)
    except OSError:
        head = b""
    kind = sniff(head)
    looks = f"it is a {kind.upper()} image" if kind else "it does not parse as an ONNX protobuf"
    return f"not an ONNX model file ({looks}); --model takes an .onnx file or a zoo name"


def proto_contract(model: Any) -> tuple[Contract, bool]:
    """The contract a ModelProto carries (or the seed default) and whether it carries one."""
    return contract_from_metadata({p.key: p.value for p in model.metadata_props})


def opset_versions(model: Any) -> dict[str, int]:
    """Opset per domain, the default domain named 'ai.onnx'."""
    return {(o.domain or "ai.onnx"): o.version for o in model.opset_import}


def with_contract_bytes(model: Any, contract: Contract) -> bytes:
    """Write ``contract`` into ``model`` (in place) and return the serialised file."""
    write_contract(model, contract)
    return model.SerializeToString()


def save_model_bytes(data: bytes, out: str | os.PathLike[str]) -> Path:
    """Save a serialised model atomically (a unique temporary file renamed over ``out``; folders
    created as needed): a failed or interrupted write never leaves a half file at ``out``."""
    from .fs import write_atomically

    out_path = Path(out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out_path, data)
    return out_path


def save_with_contract(model: Any, contract: Contract, out: str | os.PathLike[str]) -> Path:
    """Write ``contract`` into ``model`` and save it to ``out`` atomically."""
    return save_model_bytes(with_contract_bytes(model, contract), out)
