"""What ``fqe-onnx inspect`` reports about a model, as plain data."""

from __future__ import annotations

from typing import Any

from .align.template import model_template
from .errors import ModelError
from .modelfile import load_model_proto, opset_versions
from .session import EmbeddingModel, ModelSource, available_providers, create_session, describe
from .contract import contract_from_metadata


def inspect_model(model: ModelSource, device: str = "cpu") -> dict[str, Any]:
    """I/O names, shapes and types, opsets, batch mode, contract, whether it passes the I/O checks,
    and the execution providers this ONNX Runtime offers."""
    session, _ = create_session(model, device)
    contract, has_contract = contract_from_metadata(session.get_modelmeta().custom_metadata_map)
    inputs, outputs = describe(session.get_inputs()), describe(session.get_outputs())
    batch = inputs[0].shape[0] if inputs and inputs[0].shape else None
    try:
        EmbeddingModel(model, device=device)
        check = "ok"
    except ModelError as exc:
        check = f"failed: {exc}"
    proto = load_model_proto(model) if not isinstance(model, bytes) else None
    return {
        "model": str(model) if not isinstance(model, bytes) else "<bytes>",
        "inputs": [{"name": t.name, "type": t.type, "shape": list(t.shape)} for t in inputs],
        "outputs": [{"name": t.name, "type": t.type, "shape": list(t.shape)} for t in outputs],
        "opset": opset_versions(proto) if proto is not None else {},
        "batch": f"fixed {batch}" if isinstance(batch, int) and batch > 0 else "dynamic",
        "has_contract": has_contract,
        "contract": contract.to_json(),
        "template": template_report(contract),
        "check": check,
        "providers_available": available_providers(),
    }


def template_report(contract: Any) -> dict[str, Any]:
    """The face template the model's input expects, and whether the contract gives it or the
    geometry implies it."""
    points = model_template(contract.preprocess).round(4).tolist()
    source = "contract" if contract.preprocess.template is not None else "derived from the geometry"
    return {"points": points, "source": source}
