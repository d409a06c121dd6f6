"""The whole pipeline as one ONNX model: pixels in; q, Q, status, box, points, face score and the
model-sized BGR crop the network saw out.

The detector, landmark and quality networks are inlined (converted to the bundle's opset, names
prefixed). The framing rule is ``align.framing.Framer``'s, decided inside the graph by an If: images
refused by ``too-small`` or ``flat`` and images taken as they are skip the detector entirely.
"""

from __future__ import annotations

import json
from typing import Any, Optional

import numpy as np

from ..align.framing import ALIGN_MODES, MODE_ALIGNED, MODE_AS_IS, MODE_GEOMETRY
from ..align.template import model_template
from ..contract import Contract, write_contract
from ..errors import ContractError
from . import detector, head, landmarks, pixels, shrink, tiles
from .builder import OPSET, Graph
from .resize import resize_linear_hwc, size_const
from .similarity import similarity
from .warp import warp

#: The ``status`` output's codes, in order (0 = aligned, ...).
STATUS_CODES = (MODE_ALIGNED, MODE_AS_IS, MODE_GEOMETRY, "no-face", "too-small", "flat")
KEY_BUNDLE = "fqe_onnx.bundle"
BUNDLE_VERSION = 2


def inline(g: Graph, model: Any, prefix: str, value: str) -> list[str]:
    """Add ``model``'s nodes to ``g`` with ``value`` as its single input; returns its output names.
    Its weights go into ``g`` itself, not the model's root: ONNX Runtime's CPU layout transform (NCHWc)
    only rewrites a Conv whose weights are initializers of its own (sub)graph, and without it the
    detector runs 2.5x slower inside an If. A network inlined in several branches is copied into each."""
    from onnx import compose, version_converter

    if any(o.domain not in ("", "ai.onnx") for o in model.opset_import):
        raise ContractError(f"{prefix}: only standard ONNX operators can go into a bundle")
    model = version_converter.convert_version(model, OPSET)
    model = compose.add_prefix(model, prefix + "/")
    initializers = {i.name for i in model.graph.initializer}
    (graph_input,) = [i.name for i in model.graph.input if i.name not in initializers]
    g.nodes.append(_identity(value, graph_input))
    g.nodes.extend(model.graph.node)
    g.initializers.extend(model.graph.initializer)
    return [o.name for o in model.graph.output]


def _identity(source: str, target: str) -> Any:
    from onnx import helper

    return helper.make_node("Identity", [source], [target], name=f"feed_{target}")


def _nan(g: Graph, shape: tuple[int, ...]) -> str:
    return g.const(np.full(shape, np.nan, np.float32), hint="nan")


def _align_branch(
    g: Graph,
    image: str,
    pixel_layout: str,
    detector_model: Any,
    landmark_model: Any,
    template: np.ndarray,
    size_hw: tuple[int, int],
) -> list[str]:
    """Detect, pick the main face, landmark, fit and warp: (crop in the image's layout, box, points,
    face score, found)."""
    box, face_score, found = _main_face(g, image, pixel_layout, detector_model)
    width_height = g.op("Gather", [g.cast(g.shape_dims(image, 0, 2), np.float64), g.const([1, 0], np.int64)])
    crop = landmarks.landmark_crop(g, box, width_height)
    (points68,) = inline(g, landmark_model, "landmarks", landmarks.landmark_input(g, image, crop, pixel_layout))
    points = landmarks.five_points(g, points68, crop)
    template_value = g.const(template, np.float64, "template")
    shrink_g, direct_g = g.branch(), g.branch()
    window, window_matrix = shrink.shrink_for_warp(shrink_g, image, points, template_value, *size_hw)
    shrunk = warp(shrink_g, window, window_matrix, *size_hw)
    direct = warp(direct_g, image, similarity(direct_g, points, template_value), *size_hw)
    aligned = g.op(
        "If",
        [shrink.needs_shrink(g, points, template_value)],
        then_branch=shrink_g.subgraph("pre_shrink", [shrunk]),
        else_branch=direct_g.subgraph("warp", [direct]),
    )
    return [aligned, g.cast(box, np.float32), g.cast(points, np.float32), face_score, found]


def _whole_image_face(g: Graph, image: str, pixel_layout: str, detector_model: Any) -> list[str]:
    """The detector on the whole image alone (no tiles): the main face's (box float64 [4], score, found)."""
    scores, boxes = inline(g, detector_model, "detector", detector.detector_input(g, image, pixels=pixel_layout))
    scale, offset = detector.whole_image_item(g, image)
    face_scores, pixel_boxes = detector.candidates(g, scores, boxes, scale, offset)
    kept_scores, kept_boxes = detector.confident_faces(g, face_scores, pixel_boxes)
    width_height = g.op("Gather", [g.cast(g.shape_dims(image, 0, 2), np.float64), g.const([1, 0], np.int64)])
    index, found = detector.main_face(g, kept_boxes, width_height)
    # One padded row (the whole image) keeps every step below defined when no face was found.
    whole = g.op(
        "Unsqueeze", [g.op("Concat", [g.const([0.0, 0.0], np.float64), width_height], axis=0), g.const([0], np.int64)]
    )
    box = g.op("Gather", [g.op("Concat", [kept_boxes, whole], axis=0), index], axis=0)
    face_score = g.op("Gather", [g.op("Concat", [kept_scores, g.const([np.nan])], axis=0), index], axis=0)
    return [box, face_score, found]


def _main_face(g: Graph, image: str, pixel_layout: str, detector_model: Any) -> list[str]:
    """(box float64 [4], face score float32 [], found bool []): an image with tiles (``tile_rects``
    gives more than the whole image) goes through ``tiles.tiled_main_face``; any other takes the
    whole-image path alone, as before tiling (the same nodes and cost)."""
    tiled_g, whole_g = g.branch(), g.branch()
    copies = iter(range(1, 3))

    def detect(body: Graph, image: str, window: tuple[str, str]) -> list[str]:
        net_input = detector.detector_input(body, image, window, pixel_layout)
        return inline(body, detector_model, f"detector{next(copies)}", net_input)

    whole_out = _whole_image_face(whole_g, image, pixel_layout, detector_model)
    tiled_out = tiles.tiled_main_face(
        tiled_g, image, detect, tiles.view_rects(tiled_g, tiled_g.shape_dims(image, 0, 2))
    )
    return g.op(
        "If",
        [tiles.has_tiles(g, g.shape_dims(image, 0, 2))],
        outputs=3,
        then_branch=tiled_g.subgraph("tiled", tiled_out),
        else_branch=whole_g.subgraph("whole_image", whole_out),
    )


def _geometry_crop(g: Graph, image: str, contract: Contract) -> str:
    """``preprocess.apply_geometry`` on levels in any channel layout (linear interpolation only)."""
    geometry = contract.preprocess.geometry
    if geometry.interpolation != "linear":
        raise ContractError(
            f"the bundle applies geometry with linear interpolation only, the contract says {geometry.interpolation!r}"
        )
    resized = resize_linear_hwc(g, image, size_const(g, *geometry.resize))
    top, left, height, width = geometry.crop_box()
    return g.op(
        "Slice",
        [
            resized,
            g.const([top, left], np.int64),
            g.const([top + height, left + width], np.int64),
            g.const([0, 1], np.int64),
        ],
    )


def build_bundle(
    model: Any,
    contract: Contract,
    detector_model: Any,
    landmark_model: Any,
    *,
    pixel_layout: str = "bgr",
    align: str = "auto",
    embedding: bool = False,
) -> Any:
    """The bundle as an ``onnx.ModelProto`` (checked), from three loaded ModelProtos and the contract."""
    from onnx import TensorProto, checker, helper

    if align not in ALIGN_MODES:
        raise ContractError(f"align must be one of {', '.join(ALIGN_MODES)}, got {align!r}")
    channels = 4 if pixel_layout == "rgba" else 3
    g = Graph()
    image = pixels.levels(g, "image")  # left in the app's layout (see pixels.levels)
    small, flat = pixels.too_small(g, image), pixels.flat(g, image, pixel_layout)
    refused = g.op("Or", [small, flat])
    size_hw = contract.preprocess.geometry.crop_size
    code = lambda name: g.const(STATUS_CODES.index(name), np.int32)  # noqa: E731  (a one-line graph shorthand)
    if align == "never":
        crop = _geometry_crop(g, image, contract)
        box, points, face_score = _nan(g, (4,)), _nan(g, (5, 2)), _nan(g, ())
        framed = code(MODE_GEOMETRY)
    else:
        at_size = g.op(
            "ReduceMin",
            [g.cast(g.op("Equal", [g.shape_dims(image, 0, 2), size_const(g, *size_hw)]), np.int64)],
            keepdims=0,
        )
        skip = g.op("Or", [refused, g.cast(at_size, np.bool_)]) if align == "auto" else refused
        then_g, else_g = g.branch(), g.branch()
        then_out = _align_branch(
            then_g, image, pixel_layout, detector_model, landmark_model, model_template(contract.preprocess), size_hw
        )
        as_is = resize_linear_hwc(else_g, image, size_const(else_g, *size_hw))  # the image itself at the model's size
        else_out = [as_is, _nan(else_g, (4,)), _nan(else_g, (5, 2)), _nan(else_g, ()), else_g.const(True, np.bool_)]
        crop, box, points, face_score, found = g.op(
            "If",
            [g.op("Not", [skip])],
            outputs=5,
            then_branch=then_g.subgraph("align", then_out),
            else_branch=else_g.subgraph("as_is", else_out),
        )
        # no face: no box, points or score (the padded row only kept the steps defined)
        box = g.op("Where", [found, box, _nan(g, (4,))])
        points = g.op("Where", [found, points, _nan(g, (5, 2))])
        face_score = g.op("Where", [found, face_score, _nan(g, ())])
        aligned = g.op("Where", [found, code(MODE_ALIGNED), code("no-face")])
        framed = g.op("Where", [skip, code(MODE_AS_IS), aligned])
    status = g.op("Where", [small, code("too-small"), g.op("Where", [flat, code("flat"), framed])])
    crop = pixels.to_bgr(g, crop, pixel_layout)  # the one channel pick: on the model-sized crop
    (output,) = inline(g, model, "quality", head.model_input(g, crop, contract.preprocess))
    q64 = head.norm(g, output, contract.output.kind)
    scored = g.op("Less", [status, code("no-face")])
    q = g.op("Where", [scored, g.cast(q64, np.float32), g.const(np.nan)])
    Q = g.op("Where", [scored, head.score(g, q64, contract.calibration), g.const(-1, np.int32)])
    named = {
        "q": q,
        "Q": Q,
        "status": status,
        "box": box,
        "points": points,
        "face_score": face_score,
        "crop": g.cast(crop, np.uint8),
    }
    shapes = {"q": [], "Q": [], "status": [], "box": [4], "points": [5, 2], "face_score": [], "crop": [*size_hw, 3]}
    types = {"Q": TensorProto.INT32, "status": TensorProto.INT32, "crop": TensorProto.UINT8}
    if embedding:
        named["embedding"] = g.op("Reshape", [output, g.const([-1], np.int64)])
        shapes["embedding"] = [contract.output.dim]
    for name, value in named.items():
        g.nodes.append(_identity(value, name))
    inputs = [helper.make_tensor_value_info("image", TensorProto.UINT8, ["H", "W", channels])]
    outputs = [helper.make_tensor_value_info(n, types.get(n, TensorProto.FLOAT), shapes[n]) for n in named]
    bundle = g.model(inputs, outputs)
    write_contract(bundle, contract)
    entry = bundle.metadata_props.add()
    entry.key, entry.value = KEY_BUNDLE, json.dumps(bundle_info(pixel_layout, align, embedding))
    checker.check_model(bundle)
    return bundle


def bundle_info(pixel_layout: str, align: str, embedding: bool) -> dict[str, Any]:
    """The ``fqe_onnx.bundle`` metadata: the I/O and its version."""
    outputs = ["q", "Q", "status", "box", "points", "face_score", "crop"] + (["embedding"] if embedding else [])
    return {
        "version": BUNDLE_VERSION,
        "pixels": pixel_layout,
        "align": align,
        "opset": OPSET,
        "input": {"name": "image", "dtype": "uint8", "shape": ["H", "W", 4 if pixel_layout == "rgba" else 3]},
        "outputs": outputs,
        "status_codes": list(STATUS_CODES),
    }


def read_bundle_info(metadata: dict[str, str]) -> Optional[dict[str, Any]]:
    """The ``fqe_onnx.bundle`` entry of a model's metadata map, or None."""
    return json.loads(metadata[KEY_BUNDLE]) if KEY_BUNDLE in metadata else None
