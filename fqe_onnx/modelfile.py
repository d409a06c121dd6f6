"""ONNX files on disk, read and written with the ``onnx`` package (no runtime needed)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .contract import Contract, contract_from_metadata, write_contract
from .errors import ModelError


def load_model_proto(path: str | os.PathLike[str]) -> Any:
    """Load an ONNX ModelProto, with a ModelError naming the file on failure."""
    import onnx

    try:
        return onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError, OSError and its own types
        raise ModelError(f"cannot read ONNX model {path}: {exc}") from exc


def proto_contract(model: Any) -> tuple[Contract, bool]:
    """The contract a ModelProto carries (or the seed default) and whether it carries one."""
    return contract_from_metadata({p.key: p.value for p in model.metadata_props})


def opset_versions(model: Any) -> dict[str, int]:
    """Opset per domain, the default domain named 'ai.onnx'."""
    return {(o.domain or "ai.onnx"): o.version for o in model.opset_import}


def save_with_contract(model: Any, contract: Contract, out: str | os.PathLike[str]) -> Path:
    """Write ``contract`` into ``model`` and save it to ``out`` (folders created as needed)."""
    import onnx

    write_contract(model, contract)
    out_path = Path(out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out_path))
    return out_path
