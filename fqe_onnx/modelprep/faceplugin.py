"""The faceplugin MobileFaceNet as a zoo model: its contract, its calibrations, and its preparation
(dynamic batch, denormals flushed, PReLU rewritten, contract written in, batches checked); and the
package's face detector and landmark models with a dynamic batch, for the aligner."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..contract import ARCFACE_POINTS_112, GEOMETRIES, Calibration, Contract, OutputSpec, Preprocess
from ..errors import ModelError
from .graph import check_batch_equivalence, flush_denormals, make_batch_dynamic, name_batch_axis, rewrite_prelu

#: The shipped calibration: Q/100 estimates the probability that the face, compared with a good
#: reference image of the same person, is accepted at the threshold of FMR 1e-3 (the utility method).
#: Fitted by benchmarks/evaluation.py on half of the LFW development identities (originals as
#: references; originals and degraded copies as probes), ECE 0.037 on the other half. models.md
#: records the recipe and the reliability table.
FACEPLUGIN_CALIBRATION = Calibration(x0=2.5551, w=0.2061)
FACEPLUGIN_CALIBRATION_INFO = {
    "method": "utility",
    "fmr": 0.001,
    "threshold": 0.3740,
    "fr_model": "this model (faceplugin-mobilefacenet)",
    "identities": 132,
    "probes": 3138,
    "comparisons": 218022,
    "held_out_identities": 132,
    "held_out_ece": 0.0374,
    "data": "LFW deep-funneled development faces, --align auto: originals as references, originals plus 2 seeded "
    "degraded copies each as probes (benchmarks/evaluation.py, seed 0)",
}
#: The rank calibration (the 5th and 95th percentiles of q over the 2,010 aligned LFW development
#: faces score 10 and 90), kept as the zoo model faceplugin-mobilefacenet-quantile.
FACEPLUGIN_QUANTILE_CALIBRATION = Calibration(x0=3.588, w=0.3008)
FACEPLUGIN_QUANTILE_INFO = {
    "method": "quantile",
    "quantiles": [0.05, 0.95],
    "scores": [10, 90],
    "images": 2010,
    "data": "LFW deep-funneled development faces (264 people), --align auto",
}

FACEPLUGIN_CONTRACT = Contract(
    preprocess=Preprocess(
        channel_order="RGB",
        geometry=GEOMETRIES["aligned112"],
        mean=(127.0,),
        scale=(128.0,),
        template=ARCFACE_POINTS_112,
    ),
    output=OutputSpec("embedding", 512),
    calibration=FACEPLUGIN_CALIBRATION,
    calibration_info=FACEPLUGIN_CALIBRATION_INFO,
    source="npm faceplugin-face-recognition-js@0.0.1, package/model/fr_feature.onnx "
    "(sha256 87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581); MobileFaceNet; "
    "batch axis made dynamic and denormal weights flushed to zero by fqe-onnx",
    license="MIT (faceplugin-face-recognition-js, Copyright (c) 2021 gitguanqi)",
)
FACEPLUGIN_QUANTILE_CONTRACT = dataclasses.replace(
    FACEPLUGIN_CONTRACT, calibration=FACEPLUGIN_QUANTILE_CALIBRATION, calibration_info=FACEPLUGIN_QUANTILE_INFO
)


def prepare_faceplugin_mobilefacenet(raw: Path, out: Path, contract: Contract = FACEPLUGIN_CONTRACT) -> None:
    """fr_feature.onnx (fixed batch 1, no contract) -> dynamic batch, flushed, PReLU rewritten,
    contract-carrying model, checked against the original one image at a time."""
    import onnx

    from ..contract import write_contract

    model = onnx.load(str(raw))
    make_batch_dynamic(model)
    flush_denormals(model)
    rewrite_prelu(model)
    write_contract(model, contract)
    _check_and_write(model, raw, out, (3, 112, 112))


def prepare_faceplugin_batched(raw: Path, out: Path) -> None:
    """fr_detect.onnx or fr_landmark.onnx (fixed batch 1) -> the same graph with a dynamic batch
    axis, checked against the original one image at a time, so the aligner runs a chunk's images
    (and their faces) in one call each."""
    import onnx

    model = onnx.load(str(raw))
    input_shape = tuple(d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[1:])
    name_batch_axis(model)
    _check_and_write(model, raw, out, input_shape)


def _check_and_write(model: Any, raw: Path, out: Path, input_shape: tuple[int, ...]) -> None:
    """Write the prepared ``model`` to ``out`` once it passes the ONNX checker and computes, as one
    batch, what ``raw`` computes one input at a time (every output within 1e-5)."""
    import onnx

    onnx.checker.check_model(model)
    data = model.SerializeToString()
    difference = check_batch_equivalence(str(raw), data, input_shape)
    if difference > 1e-5:
        raise ModelError(
            f"the model prepared from {raw.name} gives batched outputs {difference} away from the original's"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
