"""What ``fqe-onnx inspect`` reports about a model, as plain data."""

from __future__ import annotations

from typing import Any

import numpy as np

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
    probes: list[str] = []
    try:
        probes = probe_batches(EmbeddingModel(model, device=device))
        check = (
            "ok"
            if all(line.endswith(": ok") for line in probes)
            else "failed: " + "; ".join(line for line in probes if not line.endswith(": ok"))
        )
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
        "probes": probes,
        "providers_available": available_providers(),
    }


def template_report(contract: Any) -> dict[str, Any]:
    """The face template the model's input expects, and whether the contract gives it or the
    geometry implies it."""
    points = model_template(contract.preprocess).round(4).tolist()
    source = "contract" if contract.preprocess.template is not None else "derived from the geometry"
    return {"points": points, "source": source}


def probe_batches(model: EmbeddingModel, sizes: tuple[int, ...] = (1, 3)) -> list[str]:
    """Run tiny batches of random inputs through the model and say what happened, one line per
    batch size ('batch of 3: ok' or 'batch of 3: failed: ...'). Raises ModelError when even one
    image at a time fails: such a model cannot score anything."""
    lines = []
    for size in (model.fixed_batch,) if model.fixed_batch else sizes:
        batch = random_batch(model, size)
        try:
            q = model.norms(batch)
            finite = bool(np.all(np.isfinite(q)))
            lines.append(f"batch of {size}: " + ("ok" if finite else f"failed: non-finite q {q.tolist()}"))
        except Exception as exc:  # onnxruntime's own error types: reported, not raised
            if size == (model.fixed_batch or sizes[0]):
                raise ModelError(f"the model fails on a batch of {size}: {type(exc).__name__}: {exc}") from exc
            lines.append(
                f"batch of {size}: failed: {type(exc).__name__}: {exc}".splitlines()[0]
                + " (the scorer then runs one image at a time)"
            )
    return lines


def random_batch(model: EmbeddingModel, size: int, seed: int = 0) -> np.ndarray:
    """``size`` uniform random inputs in [-1, 1] of the shape the model's contract feeds it."""
    pre = model.contract.preprocess
    height, width = pre.geometry.crop_size
    shape = (pre.channels, height, width) if pre.layout == "NCHW" else (height, width, pre.channels)
    return np.random.default_rng(seed).uniform(-1, 1, size=(size,) + shape).astype(np.float32)


def output_difference(reference: EmbeddingModel, candidate: EmbeddingModel, size: int = 3) -> float:
    """Largest absolute difference between the two models' embeddings of the same random batch
    (``contract --optimize`` checks that its edits changed no number)."""
    size = reference.fixed_batch or candidate.fixed_batch or size
    batch = random_batch(reference, size, seed=1)
    return float(np.abs(reference.run(batch) - candidate.run(batch)).max())
