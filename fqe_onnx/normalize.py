"""Torch-free graph edits that turn a downloaded model into a zoo model: dynamic batch, no denormals,
a contract written in, and a check that batched outputs equal one-at-a-time outputs."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from .align.template import ARCFACE_TEMPLATE_112
from .contract import GEOMETRIES, Calibration, Contract, OutputSpec, Preprocess
from .errors import ModelError

BATCH_AXIS_NAME = "N"

#: The shipped calibration: Q/100 estimates the probability that the face, compared with a good
#: reference image of the same person, is accepted at the threshold of FMR 1e-3 (the utility method).
#: Fitted by benchmarks/evaluation.py on half of the LFW development identities (originals as
#: references; originals and degraded copies as probes), ECE 0.037 on the other half. models.md
#: records the recipe and the reliability table.
FACEPLUGIN_CALIBRATION = Calibration(x0=2.5551, w=0.2061)
FACEPLUGIN_CALIBRATION_INFO = {
    "method": "utility", "fmr": 0.001, "threshold": 0.3740, "fr_model": "this model (faceplugin-mobilefacenet)",
    "identities": 132, "probes": 3138, "comparisons": 218022, "held_out_identities": 132, "held_out_ece": 0.0374,
    "data": "LFW deep-funneled development faces, --align auto: originals as references, originals plus 2 seeded "
            "degraded copies each as probes (benchmarks/evaluation.py, seed 0)",
}
#: The rank calibration (the 5th and 95th percentiles of q over the 2,010 aligned LFW development
#: faces score 10 and 90), kept as the zoo model faceplugin-mobilefacenet-quantile.
FACEPLUGIN_QUANTILE_CALIBRATION = Calibration(x0=3.588, w=0.3008)
FACEPLUGIN_QUANTILE_INFO = {"method": "quantile", "quantiles": [0.05, 0.95], "scores": [10, 90], "images": 2010,
                            "data": "LFW deep-funneled development faces (264 people), --align auto"}

FACEPLUGIN_CONTRACT = Contract(
    preprocess=Preprocess(channel_order="RGB", geometry=GEOMETRIES["aligned112"], mean=(127.0,), scale=(128.0,),
                          template=tuple(map(tuple, ARCFACE_TEMPLATE_112.tolist()))),
    output=OutputSpec("embedding", 512),
    calibration=FACEPLUGIN_CALIBRATION,
    calibration_info=FACEPLUGIN_CALIBRATION_INFO,
    source="npm faceplugin-face-recognition-js@0.0.1, package/model/fr_feature.onnx "
    "(sha256 87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581); MobileFaceNet; "
    "batch axis made dynamic and denormal weights flushed to zero by fqe-onnx",
    license="MIT (faceplugin-face-recognition-js, Copyright (c) 2021 gitguanqi)",
)
FACEPLUGIN_QUANTILE_CONTRACT = dataclasses.replace(
    FACEPLUGIN_CONTRACT, calibration=FACEPLUGIN_QUANTILE_CALIBRATION, calibration_info=FACEPLUGIN_QUANTILE_INFO)


def make_batch_dynamic(model: Any) -> None:
    """Name axis 0 of every graph input and output, and turn a final Reshape to [1, -1] into [0, -1]
    (0 copies the batch axis). Intermediate shape annotations are dropped so nothing pins batch 1."""
    from onnx import numpy_helper

    for value in list(model.graph.input) + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].ClearField("dim_value")
            dims[0].dim_param = BATCH_AXIS_NAME
    del model.graph.value_info[:]
    initializers = {init.name: init for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Reshape" and node.input[1] in initializers:
            init = initializers[node.input[1]]
            shape = numpy_helper.to_array(init)
            if shape.ndim == 1 and len(shape) >= 1 and shape[0] == 1:
                fixed = shape.copy()
                fixed[0] = 0
                init.CopyFrom(numpy_helper.from_array(fixed, init.name))
        elif node.op_type in ("Shape", "Expand", "ConstantOfShape", "Tile"):
            raise ModelError(f"cannot safely make the batch dynamic: the graph has a {node.op_type} node")


def denormal_mask(array: np.ndarray) -> np.ndarray:
    """True where a float32 array holds a denormal (zero exponent bits, non-zero mantissa).

    Read from the bits, not by comparing values: a thread with denormals-are-zero set (ONNX Runtime
    can set it) sees every denormal as equal to 0."""
    bits = np.ascontiguousarray(array, dtype=np.float32).view(np.uint32)
    return ((bits & 0x7F800000) == 0) & ((bits & 0x007FFFFF) != 0)


def flush_denormals(model: Any) -> int:
    """Set denormal float32 weights to zero; returns how many changed.

    Denormal arithmetic is many times slower on some x86 processors; values this small
    (below 1.2e-38) change no output digit."""
    from onnx import numpy_helper

    changed = 0
    for init in model.graph.initializer:
        array = numpy_helper.to_array(init)
        if array.dtype != np.float32:
            continue
        mask = denormal_mask(array)
        if mask.any():
            array = array.copy()
            array[mask] = 0.0
            init.CopyFrom(numpy_helper.from_array(array, init.name))
            changed += int(mask.sum())
    return changed


def check_batch_equivalence(reference: Any, candidate: Any, input_shape: tuple[int, ...], n: int = 5) -> float:
    """Run ``n`` random inputs one at a time through ``reference`` and as one batch through
    ``candidate`` (models as bytes or paths); returns the largest absolute difference."""
    from .session import create_session

    rng = np.random.default_rng(12345)
    batch = rng.uniform(-1, 1, size=(n,) + tuple(input_shape)).astype(np.float32)
    ref_session, _ = create_session(reference, "cpu")
    cand_session, _ = create_session(candidate, "cpu")
    ref_name, cand_name = ref_session.get_inputs()[0].name, cand_session.get_inputs()[0].name
    one_by_one = np.concatenate([ref_session.run(None, {ref_name: batch[i : i + 1]})[0] for i in range(n)])
    batched = cand_session.run(None, {cand_name: batch})[0]
    if batched.shape != one_by_one.shape:
        raise ModelError(f"batched output shape {batched.shape} differs from one-at-a-time {one_by_one.shape}")
    return float(np.abs(batched - one_by_one).max())


def normalize_faceplugin_mobilefacenet(raw: Path, out: Path, contract: Contract = FACEPLUGIN_CONTRACT) -> None:
    """fr_feature.onnx (fixed batch 1, no contract) -> dynamic batch, flushed, contract-carrying model."""
    import onnx

    from .contract import write_contract

    model = onnx.load(str(raw))
    make_batch_dynamic(model)
    flush_denormals(model)
    write_contract(model, contract)
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    difference = check_batch_equivalence(str(raw), data, (3, 112, 112))
    if difference > 1e-5:
        raise ModelError(f"the normalised model's batched outputs differ from the original's by {difference}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
