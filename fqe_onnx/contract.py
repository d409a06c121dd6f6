"""The model contract: how pixels become the model's input and how its norm becomes a score.

The contract travels inside the ONNX file as ``metadata_props`` under namespaced keys with JSON
values. A model that carries none gets the seed pipeline: BGR, resize 192x192 bilinear, centre
crop 112x112, divide by 255, NCHW float32, ``Q = round(100 * sigmoid(q))``. The key names live
here and nowhere else; the export tools write with the same functions the runtime reads with.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import ContractError

SCHEMA_VERSION = 1
KEY_PREFIX = "fqe_onnx."
KEY_SCHEMA = KEY_PREFIX + "schema_version"
KEY_PREPROCESS = KEY_PREFIX + "preprocess"
KEY_OUTPUT = KEY_PREFIX + "output"
KEY_CALIBRATION = KEY_PREFIX + "calibration"
KEY_CALIBRATION_INFO = KEY_PREFIX + "calibration_info"
KEY_SOURCE = KEY_PREFIX + "source"
KEY_LICENSE = KEY_PREFIX + "license"
ALL_KEYS = (KEY_SCHEMA, KEY_PREPROCESS, KEY_OUTPUT, KEY_CALIBRATION, KEY_CALIBRATION_INFO, KEY_SOURCE, KEY_LICENSE)

CHANNEL_ORDERS = ("BGR", "RGB", "GRAY")
LAYOUTS = ("NCHW", "NHWC")
INTERPOLATIONS = ("nearest", "linear", "area", "cubic", "lanczos")
OUTPUT_KINDS = ("embedding", "norm")


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ContractError(f"{what} must be a JSON object, got {value!r}")
    return value


def _pair(value: Any, what: str) -> tuple[int, int]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ContractError(f"{what} must be a pair of integers (h, w), got {value!r}")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
        raise ContractError(f"{what} must hold positive integers, got {value!r}")
    return (value[0], value[1])


@dataclass(frozen=True)
class Geometry:
    """Resize to ``resize`` (h, w), then crop ``crop_size`` (h, w) at ``crop_top_left``.

    ``crop_top_left`` None means centred: top = (H - h) // 2, left = (W - w) // 2.
    """

    resize: tuple[int, int] = (192, 192)
    crop_size: tuple[int, int] = (112, 112)
    crop_top_left: tuple[int, int] | None = None
    interpolation: str = "linear"

    def __post_init__(self) -> None:
        object.__setattr__(self, "resize", _pair(self.resize, "resize"))
        object.__setattr__(self, "crop_size", _pair(self.crop_size, "crop size"))
        if self.crop_top_left is not None:
            top_left = self.crop_top_left
            if (
                not isinstance(top_left, (list, tuple))
                or len(top_left) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in top_left)
            ):
                raise ContractError(f"crop top_left must be a pair of integers (top, left), got {top_left!r}")
            object.__setattr__(self, "crop_top_left", (top_left[0], top_left[1]))
        if self.interpolation not in INTERPOLATIONS:
            raise ContractError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}, got {self.interpolation!r}")
        top, left, h, w = self.crop_box()
        if top < 0 or left < 0 or top + h > self.resize[0] or left + w > self.resize[1]:
            raise ContractError(
                f"crop box (top={top}, left={left}, h={h}, w={w}) does not fit inside the "
                f"resized image {self.resize[0]}x{self.resize[1]}"
            )

    def crop_box(self) -> tuple[int, int, int, int]:
        """The crop as (top, left, h, w) in the resized image."""
        h, w = self.crop_size
        if self.crop_top_left is None:
            return ((self.resize[0] - h) // 2, (self.resize[1] - w) // 2, h, w)
        return (self.crop_top_left[0], self.crop_top_left[1], h, w)

    def to_json(self) -> dict[str, Any]:
        return {
            "resize": list(self.resize),
            "interpolation": self.interpolation,
            "crop": {
                "size": list(self.crop_size),
                "top_left": None if self.crop_top_left is None else list(self.crop_top_left),
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Geometry":
        crop = _mapping(data.get("crop", {}), "preprocess geometry crop")
        return cls(
            resize=data.get("resize", cls.resize),
            crop_size=crop.get("size", cls.crop_size),
            crop_top_left=crop.get("top_left"),
            interpolation=data.get("interpolation", cls.interpolation),
        )


#: Named geometries: how an image was aligned belongs to the data set, not to the model.
GEOMETRIES: dict[str, Geometry] = {
    # The seed: resize to 192x192, centre crop 112x112.
    "seed": Geometry(),
    # OFIQ's unified score: its 616x616 aligned image resized to 192, rows 33..145, cols 40..152.
    "ofiq": Geometry(crop_top_left=(33, 40)),
    # Faces already aligned to the 112x112 five-point template: resize only if needed.
    "aligned112": Geometry(resize=(112, 112)),
}


def _floats(value: Any, what: str) -> tuple[float, ...]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)) or len(value) not in (1, 3):
        raise ContractError(f"{what} must be one number or one per channel, got {value!r}")
    try:
        return tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise ContractError(f"{what} must hold numbers, got {value!r}") from None


#: The five face points, in this order, wherever a template lists them.
TEMPLATE_POINTS = ("left eye", "right eye", "nose tip", "left mouth corner", "right mouth corner")

#: The five-point template of the 112x112 aligned crop (insightface/ArcFace convention), the one
#: ``aligned112`` faces are aligned to; as (x, y) in ``TEMPLATE_POINTS`` order. Here, not in
#: ``align.template`` (which makes it an array), so that zoo contracts can name it without the aligner.
ARCFACE_POINTS_112 = (
    (38.2946, 51.6963),
    (73.5318, 51.5014),
    (56.0252, 71.7366),
    (41.5493, 92.3655),
    (70.7299, 92.2041),
)


def _template(value: Any, crop_size: tuple[int, int]) -> tuple[tuple[float, float], ...]:
    """Five finite (x, y) points inside the crop, in the model's input pixels."""
    if not isinstance(value, (list, tuple)) or len(value) != len(TEMPLATE_POINTS):
        raise ContractError(
            f"template must list {len(TEMPLATE_POINTS)} (x, y) points ({', '.join(TEMPLATE_POINTS)}), got {value!r}"
        )
    points = []
    for name, point in zip(TEMPLATE_POINTS, value):
        if (
            not isinstance(point, (list, tuple))
            or len(point) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in point)
        ):
            raise ContractError(f"template {name} must be a pair of finite numbers (x, y), got {point!r}")
        x, y = float(point[0]), float(point[1])
        height, width = crop_size
        if not (0 <= x <= width and 0 <= y <= height):
            raise ContractError(f"template {name} ({x:g}, {y:g}) lies outside the {height}x{width} model input")
        points.append((x, y))
    return tuple(points)


@dataclass(frozen=True)
class Preprocess:
    """Pixels to model input: ``x = (pixel - mean) / scale`` per channel, after the geometry.

    ``mean`` and ``scale`` are in the model's channel order; one value applies to every channel.
    ``template``: where the five face points (``TEMPLATE_POINTS``) land in the model's input, in
    input pixels; None means derived from the geometry (``fqe_onnx.align.template.model_template``).
    """

    channel_order: str = "BGR"
    geometry: Geometry = field(default_factory=Geometry)
    mean: tuple[float, ...] = (0.0,)
    scale: tuple[float, ...] = (255.0,)
    layout: str = "NCHW"
    template: tuple[tuple[float, float], ...] | None = None

    def __post_init__(self) -> None:
        if self.channel_order not in CHANNEL_ORDERS:
            raise ContractError(f"channel order must be one of {', '.join(CHANNEL_ORDERS)}, got {self.channel_order!r}")
        if self.layout not in LAYOUTS:
            raise ContractError(f"layout must be one of {', '.join(LAYOUTS)}, got {self.layout!r}")
        object.__setattr__(self, "mean", _floats(self.mean, "mean"))
        object.__setattr__(self, "scale", _floats(self.scale, "scale"))
        for name in ("mean", "scale"):
            if len(getattr(self, name)) not in (1, self.channels):
                raise ContractError(
                    f"{name} has {len(getattr(self, name))} values; a {self.channel_order} model "
                    f"takes {'1' if self.channels == 1 else '1 or 3'}"
                )
        for name in ("mean", "scale"):
            if not all(math.isfinite(v) for v in getattr(self, name)):
                raise ContractError(f"{name} must hold finite numbers, got {list(getattr(self, name))}")
        if any(s == 0.0 for s in self.scale):
            raise ContractError("scale must not be zero")
        if self.template is not None:
            object.__setattr__(self, "template", _template(self.template, self.geometry.crop_size))

    @property
    def channels(self) -> int:
        return 1 if self.channel_order == "GRAY" else 3

    def to_json(self) -> dict[str, Any]:
        return {
            "channel_order": self.channel_order,
            "geometry": self.geometry.to_json(),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "layout": self.layout,
            "template": None if self.template is None else [list(p) for p in self.template],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Preprocess":
        return cls(
            channel_order=data.get("channel_order", cls.channel_order),
            geometry=Geometry.from_json(_mapping(data.get("geometry", {}), "preprocess geometry")),
            mean=data.get("mean", cls.mean),
            scale=data.get("scale", cls.scale),
            layout=data.get("layout", cls.layout),
            template=data.get("template"),
        )


@dataclass(frozen=True)
class OutputSpec:
    """What the model's single output is: an embedding of ``dim`` values, or the norm itself."""

    kind: str = "embedding"
    dim: int = 512

    def __post_init__(self) -> None:
        if self.kind not in OUTPUT_KINDS:
            raise ContractError(f"output kind must be one of {', '.join(OUTPUT_KINDS)}, got {self.kind!r}")
        if not isinstance(self.dim, int) or isinstance(self.dim, bool) or self.dim < 1:
            raise ContractError(f"embedding dim must be a positive integer, got {self.dim!r}")

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "dim": self.dim} if self.kind == "embedding" else {"kind": self.kind}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "OutputSpec":
        return cls(kind=data.get("kind", cls.kind), dim=data.get("dim", cls.dim))


@dataclass(frozen=True)
class Calibration:
    """``Q = clip(round_half_away(h * (a + s * sigmoid((q - x0) / w))), 0, 100)`` (ISO/IEC 29794-5).

    The defaults give the seed mapping ``Q = round(100 * sigmoid(q))``.
    """

    h: float = 100.0
    a: float = 0.0
    s: float = 1.0
    x0: float = 0.0
    w: float = 1.0

    def __post_init__(self) -> None:
        for name in ("h", "a", "s", "x0", "w"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ContractError(f"calibration {name} must be a finite number, got {value!r}")
            object.__setattr__(self, name, float(value))
        if self.w == 0.0:
            raise ContractError("calibration w must not be zero")

    def to_json(self) -> dict[str, float]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Calibration":
        unknown = set(data) - {"h", "a", "s", "x0", "w"}
        if unknown:
            raise ContractError(f"unknown calibration fields: {', '.join(sorted(unknown))}")
        return cls(**data)


@dataclass(frozen=True)
class Contract:
    """Everything a model needs besides its weights: preprocessing, output kind, calibration.

    ``calibration_info`` says how the calibration was made (method, data size, and for the utility
    method the FMR, threshold and FR model); free-form JSON, shown, never interpreted."""

    preprocess: Preprocess = field(default_factory=Preprocess)
    output: OutputSpec = field(default_factory=OutputSpec)
    calibration: Calibration = field(default_factory=Calibration)
    source: str = ""
    license: str = ""
    calibration_info: Mapping[str, Any] = field(default_factory=dict)

    def to_metadata(self) -> dict[str, str]:
        """The contract as ONNX ``metadata_props`` entries (key -> JSON text)."""
        return {
            KEY_SCHEMA: json.dumps(SCHEMA_VERSION),
            KEY_PREPROCESS: json.dumps(self.preprocess.to_json()),
            KEY_OUTPUT: json.dumps(self.output.to_json()),
            KEY_CALIBRATION: json.dumps(self.calibration.to_json()),
            KEY_CALIBRATION_INFO: json.dumps(dict(self.calibration_info), allow_nan=False),
            KEY_SOURCE: json.dumps(self.source),
            KEY_LICENSE: json.dumps(self.license),
        }

    def to_json(self) -> dict[str, Any]:
        return {key[len(KEY_PREFIX) :]: json.loads(text) for key, text in self.to_metadata().items()}


SEED_CONTRACT = Contract()


def _load_json(metadata: Mapping[str, str], key: str) -> Any:
    try:
        return json.loads(metadata[key])
    except json.JSONDecodeError as exc:
        raise ContractError(f"metadata {key} is not valid JSON: {exc}") from exc


def contract_from_metadata(metadata: Mapping[str, str]) -> tuple[Contract, bool]:
    """Parse a model's metadata map; returns (contract, whether the model carried one).

    Fields the model does not carry keep the seed defaults.
    """
    present = [key for key in ALL_KEYS if key in metadata]
    if not present:
        return SEED_CONTRACT, False
    if KEY_SCHEMA not in metadata:
        raise ContractError(f"model carries {', '.join(present)} but no {KEY_SCHEMA}")
    version = _load_json(metadata, KEY_SCHEMA)
    if type(version) is not int or version != SCHEMA_VERSION:  # true == 1 and 1.0 == 1 in Python
        raise ContractError(
            f"contract schema version {version!r} is not supported (this fqe-onnx reads {SCHEMA_VERSION}); "
            "upgrade fqe-onnx"
        )
    sections: dict[str, Any] = {}
    for key, name, parser in (
        (KEY_PREPROCESS, "preprocess", Preprocess.from_json),
        (KEY_OUTPUT, "output", OutputSpec.from_json),
        (KEY_CALIBRATION, "calibration", Calibration.from_json),
    ):
        if key in metadata:
            data = _load_json(metadata, key)
            if not isinstance(data, dict):
                raise ContractError(f"metadata {key} must be a JSON object, got {data!r}")
            try:
                sections[name] = parser(data)
            except TypeError as exc:
                raise ContractError(f"metadata {key}: {exc}") from exc
    for key, name in ((KEY_SOURCE, "source"), (KEY_LICENSE, "license")):
        if key in metadata:
            sections[name] = str(_load_json(metadata, key))
    if KEY_CALIBRATION_INFO in metadata:
        sections["calibration_info"] = _mapping(
            _load_json(metadata, KEY_CALIBRATION_INFO), f"metadata {KEY_CALIBRATION_INFO}"
        )
    return Contract(**sections), True


def with_overrides(
    contract: Contract,
    *,
    geometry: str | Geometry | None = None,
    resize: tuple[int, int] | None = None,
    crop: tuple[int, ...] | None = None,
    interpolation: str | None = None,
    channel_order: str | None = None,
    mean: tuple[float, ...] | None = None,
    scale: tuple[float, ...] | None = None,
    layout: str | None = None,
    template: Any = None,
    output_kind: str | None = None,
    embedding_dim: int | None = None,
    calibration: Mapping[str, float] | None = None,
    source: str | None = None,
    license: str | None = None,
    calibration_info: Mapping[str, Any] | None = None,
) -> Contract:
    """A copy of ``contract`` with the given fields replaced; None leaves a field as it is.

    ``geometry`` (a name from GEOMETRIES or a Geometry) replaces the whole geometry first; ``resize``,
    ``crop`` ((h, w) centred, or (top, left, h, w)) and ``interpolation`` then adjust it.
    ``template`` (five (x, y) points, or ten numbers) replaces the face template.
    ``calibration`` replaces only the named fields (any of h, a, s, x0, w).
    """
    geo = contract.preprocess.geometry
    if geometry is not None:
        if isinstance(geometry, str):
            if geometry not in GEOMETRIES:
                raise ContractError(f"unknown geometry {geometry!r}; known: {', '.join(GEOMETRIES)}")
            geometry = GEOMETRIES[geometry]
        geo = geometry
    geo_changes: dict[str, Any] = {}
    if resize is not None:
        geo_changes["resize"] = tuple(resize)
    if crop is not None:
        crop = tuple(crop)
        if len(crop) == 2:
            geo_changes.update(crop_size=crop, crop_top_left=None)
        elif len(crop) == 4:
            geo_changes.update(crop_size=crop[2:], crop_top_left=crop[:2])
        else:
            raise ContractError(f"crop takes (h, w) or (top, left, h, w), got {crop!r}")
    if interpolation is not None:
        geo_changes["interpolation"] = interpolation
    geo = dataclasses.replace(geo, **geo_changes)

    pre_changes: dict[str, Any] = {"geometry": geo}
    if template is not None:  # ten numbers x1,y1,...,x5,y5 or five (x, y) pairs; lists or arrays
        flat = template.tolist() if hasattr(template, "tolist") else list(template)
        flat = [p.tolist() if hasattr(p, "tolist") else p for p in flat]
        template = [flat[i : i + 2] for i in range(0, len(flat), 2)] if len(flat) == 10 else flat
    for name, value in (
        ("channel_order", channel_order),
        ("mean", mean),
        ("scale", scale),
        ("layout", layout),
        ("template", template),
    ):
        if value is not None:
            pre_changes[name] = value
    preprocess = dataclasses.replace(contract.preprocess, **pre_changes)

    out_changes: dict[str, Any] = {k: v for k, v in (("kind", output_kind), ("dim", embedding_dim)) if v is not None}
    output = dataclasses.replace(contract.output, **out_changes)

    cal = contract.calibration
    if calibration and calibration_info is None:  # the old record no longer describes the numbers
        calibration_info = {"method": "set by hand", "fields": sorted(calibration)}
    if calibration:
        unknown = set(calibration) - {"h", "a", "s", "x0", "w"}
        if unknown:
            raise ContractError(f"unknown calibration fields: {', '.join(sorted(unknown))}")
        cal = dataclasses.replace(cal, **calibration)

    rest: dict[str, Any] = {
        k: v
        for k, v in (("source", source), ("license", license), ("calibration_info", calibration_info))
        if v is not None
    }
    return dataclasses.replace(contract, preprocess=preprocess, output=output, calibration=cal, **rest)


def write_contract(model: Any, contract: Contract) -> None:
    """Write ``contract`` into an ``onnx.ModelProto`` in place, replacing any earlier fqe_onnx keys."""
    kept = [(p.key, p.value) for p in model.metadata_props if not p.key.startswith(KEY_PREFIX)]
    del model.metadata_props[:]
    for key, value in kept + sorted(contract.to_metadata().items()):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value


def json_schema() -> dict[str, Any]:
    """The contract as a JSON Schema (``contract.schema.json`` in the package): the metadata map with
    each value parsed from its JSON text, for tools in other languages to validate against."""
    from importlib.resources import files

    return json.loads(files(__package__).joinpath("contract.schema.json").read_text(encoding="utf-8"))
