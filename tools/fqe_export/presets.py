"""Contract presets for known model families. Every field can still be overridden at export."""

from __future__ import annotations

import dataclasses

from fqe_onnx.align.template import model_template
from fqe_onnx.contract import SEED_CONTRACT, Contract, with_overrides


def with_template(contract: Contract) -> Contract:
    """The contract with its face template written out (derived from its geometry), so the exported
    file says where the model wants the five face points instead of leaving it to be inferred."""
    template = tuple(map(tuple, model_template(contract.preprocess).round(4).tolist()))
    return dataclasses.replace(contract, preprocess=dataclasses.replace(contract.preprocess, template=template))


#: Presets as their projects publish them; exports write them with ``with_template``, after any override.
PRESETS: dict[str, Contract] = {
    # No preset: the seed pipeline (BGR, 192 -> centre 112, /255, Q = round(100 * sigmoid(q))),
    # the same default the runtime assumes for a model without a contract.
    "seed": SEED_CONTRACT,
    # MagFace iResNet as OFIQ runs it: BGR, /255, OFIQ's crop of the 616x616 aligned image, x0 = 23, w = 2.6.
    "magface": with_overrides(
        SEED_CONTRACT, geometry="ofiq", calibration={"x0": 23.0, "w": 2.6}, source="MagFace iResNet (Meng et al. 2021)"
    ),
    # ArcFace / insightface models: RGB, (x - 127.5) / 127.5, faces aligned to the 112x112 template.
    "arcface": with_overrides(
        SEED_CONTRACT,
        geometry="aligned112",
        channel_order="RGB",
        mean=(127.5,),
        scale=(127.5,),
        source="ArcFace/insightface iResNet",
    ),
    # AdaFace: BGR, (x / 255 - 0.5) / 0.5 = (x - 127.5) / 127.5, 112x112 aligned.
    "adaface": with_overrides(
        SEED_CONTRACT,
        geometry="aligned112",
        channel_order="BGR",
        mean=(127.5,),
        scale=(127.5,),
        source="AdaFace iResNet (Kim et al. 2022)",
    ),
}
