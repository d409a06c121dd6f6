import numpy as np
import pytest
from onnx import TensorProto, helper

from conftest import DIM, random_face, write_image
from reference import pooled_linear_q, round_half_up, seed_preprocess, seed_score
from tiny_models import custom_graph, fixed_matrix, pooled_linear

from fqe_onnx import Scorer
from fqe_onnx.contract import SEED_CONTRACT, with_overrides
from fqe_onnx.errors import DeviceError, FqeError, ModelError
from fqe_onnx.session import EmbeddingModel
from fqe_onnx.sources import find_images, read_list


def striped(shape, channel_values) -> np.ndarray:
    """Each row r holds (b, g, r) = channel_values[c](r): crops at different rows differ in mean."""
    h, w = shape
    rows = np.arange(h)
    image = np.zeros((h, w, 3), np.uint8)
    for c, f in enumerate(channel_values):
        image[:, :, c] = (f(rows) % 256).astype(np.uint8)[:, None]
    return image


STRIPES = (lambda r: np.where(r < 40, 255, r // 2), lambda r: 3 * r + 7, lambda r: 255 - r)
REL = 1e-5  # float32 inference (12,544-pixel average pools) against the float64 closed form


def expected_q(image, weights, top, left, rgb=False, mean=0.0, scale=255.0):
    """Closed form: the crop's per-channel mean, normalised, times W (image already at resize size)."""
    crop = image[top : top + 112, left : left + 112].astype(np.float64)
    if rgb:
        crop = crop[:, :, ::-1]
    means = (crop.mean(axis=(0, 1)) - mean) / scale
    return float(np.linalg.norm(means @ weights.astype(np.float64)))


@pytest.mark.parametrize(
    "geometry, size, top_left",
    [
        ("seed", (192, 192), (40, 40)),
        ("ofiq", (192, 192), (33, 40)),
        ("aligned112", (112, 112), (0, 0)),
    ],
)
@pytest.mark.parametrize("channel_order", ["BGR", "RGB"])
def test_exact_q_and_Q_under_each_geometry_and_channel_order(
    tmp_path, weights, geometry, size, top_left, channel_order
):
    image = striped(size, STRIPES)
    path = write_image(tmp_path / "img.png", image)
    model = pooled_linear(tmp_path / "m.onnx", weights=weights)
    mean, scale = (127.0, 128.0) if channel_order == "RGB" else (0.0, 255.0)
    with Scorer(
        model,
        device="cpu",
        align="never",
        geometry=geometry,
        channel_order=channel_order,
        mean=(mean,),
        scale=(scale,),
        calibration={"x0": 1.0, "w": 0.5},
    ) as scorer:
        (record,) = scorer.score_paths([path])
    q = expected_q(image, weights, *top_left, rgb=channel_order == "RGB", mean=mean, scale=scale)
    assert record.error == ""
    assert record.q == pytest.approx(q, rel=REL)
    assert record.Q == seed_score(q, x0=1.0, w=0.5) == round_half_up(100 / (1 + np.exp(-(q - 1.0) / 0.5)))
    assert 0 < record.Q < 100


def test_geometries_really_differ(tmp_path, weights):
    image = striped((192, 192), STRIPES)
    q_seed = expected_q(image, weights, 40, 40)
    q_ofiq = expected_q(image, weights, 33, 40)
    assert abs(q_seed - q_ofiq) > 0.01 * q_seed  # otherwise the test above proves nothing


def test_seed_pipeline_end_to_end_against_reference(dataset, model_path, weights):
    with Scorer(model_path, device="cpu", align="never") as scorer:
        records = list(scorer.score_folder(dataset))
    assert [r.path for r in records] == ["loose.png", "person_a/1.png", "person_a/2.png", "person_b/x.PNG"]
    assert [r.identity for r in records] == ["", "person_a", "person_a", "person_b"]
    for i, record in zip([3, 0, 1, 2], records):
        q = pooled_linear_q(seed_preprocess(random_face(i)), weights)
        assert record.q == pytest.approx(q, rel=REL)
        assert record.Q == seed_score(record.q)


def test_fixed_and_dynamic_batch_give_identical_results(tmp_path, dataset, weights):
    fixed = pooled_linear(tmp_path / "fixed.onnx", weights=weights, batch=1)
    fixed3 = pooled_linear(tmp_path / "fixed3.onnx", weights=weights, batch=3)
    dynamic = pooled_linear(tmp_path / "dyn.onnx", weights=weights, batch="N")
    paths = sorted(dataset.rglob("*.png")) + sorted(dataset.rglob("*.PNG"))
    results = []
    for model, batch_size in [(fixed, 1), (fixed, 32), (fixed3, 2), (dynamic, 1), (dynamic, 3), (dynamic, 64)]:
        with Scorer(model, device="cpu", align="never", batch_size=batch_size) as scorer:
            results.append([(r.q, r.Q) for r in scorer.score_paths(paths)])
    assert all(r == results[0] for r in results)
    assert EmbeddingModel(fixed, device="cpu").fixed_batch == 1
    assert EmbeddingModel(dynamic, device="cpu").fixed_batch is None


def test_scalar_norm_output_model(tmp_path, weights):
    image = striped((192, 192), STRIPES)
    path = write_image(tmp_path / "img.png", image)
    model = pooled_linear(tmp_path / "norm.onnx", weights=weights, output_norm=True)
    with Scorer(model, device="cpu", align="never", output_kind="norm") as scorer:
        record = scorer.score_array(image)
        (from_file,) = scorer.score_paths([path])
    assert record.q == pytest.approx(expected_q(image, weights, 40, 40), rel=REL)
    assert from_file.q == record.q


def test_nhwc_and_gray_models(tmp_path):
    image = striped((112, 112), STRIPES)
    w3, w1 = fixed_matrix(3, DIM, 4), fixed_matrix(1, DIM, 5)
    nhwc = pooled_linear(tmp_path / "nhwc.onnx", weights=w3, layout="NHWC")
    with Scorer(nhwc, device="cpu", align="never", layout="NHWC", geometry="aligned112") as scorer:
        assert scorer.score_array(image).q == pytest.approx(expected_q(image, w3, 0, 0), rel=REL)
    gray = pooled_linear(tmp_path / "gray.onnx", weights=w1)
    with Scorer(gray, device="cpu", align="never", channel_order="GRAY", geometry="aligned112") as scorer:
        import cv2

        g = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float64) / 255.0
        assert scorer.score_array(image).q == pytest.approx(float(np.linalg.norm(g.mean() * w1[0])), rel=REL)


def test_contract_in_the_file_is_used(tmp_path, weights):
    contract = with_overrides(SEED_CONTRACT, geometry="ofiq", calibration={"x0": 1.0, "w": 0.5})
    model = pooled_linear(tmp_path / "c.onnx", weights=weights, metadata=contract.to_metadata())
    image = striped((192, 192), STRIPES)
    with Scorer(model, device="cpu", align="never") as scorer:
        assert scorer.contract == contract
        record = scorer.score_array(image)
    assert record.q == pytest.approx(expected_q(image, weights, 33, 40), rel=REL)
    with Scorer(model, device="cpu", align="never", geometry="seed") as scorer:  # the data set's geometry wins
        assert scorer.score_array(image).q == pytest.approx(expected_q(image, weights, 40, 40), rel=REL)


def test_bad_images_are_error_rows_and_the_batch_goes_on(tmp_path, dataset, model_path):
    (dataset / "person_a" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    (dataset / "person_b" / "empty.png").write_bytes(b"")
    with Scorer(model_path, device="cpu", align="never", batch_size=2) as scorer:
        records = list(scorer.score_folder(dataset))
    by_path = {r.path: r for r in records}
    assert len(records) == 6
    assert "truncated JPEG" in by_path["person_a/broken.jpg"].error
    assert by_path["person_a/broken.jpg"].error_kind == "truncated"
    assert (
        by_path["person_b/empty.png"].error == "empty file" and by_path["person_b/empty.png"].error_kind == "empty-file"
    )
    assert by_path["person_b/empty.png"].q is None and by_path["person_b/empty.png"].Q is None
    assert sum(r.ok for r in records) == 4


def test_arrays_in_input_order_with_bad_ones(model_path, weights):
    images = [random_face(i, (192, 192)) for i in range(5)]
    inputs = images[:2] + [np.zeros((3, 3, 3), np.float32)] + images[2:]
    with Scorer(model_path, device="cpu", align="never", batch_size=2, threads=0) as scorer:
        records = list(scorer.score_arrays(inputs, names=list("abcdef")))
    assert [r.path for r in records] == list("abcdef")
    assert records[2].error == "expected dtype uint8, got float32" and records[2].error_kind == "bad-array"
    good = [r for r in records if r.ok]
    for image, record in zip(images, good):
        assert record.q == pytest.approx(pooled_linear_q(seed_preprocess(image), weights), rel=REL)


def test_non_finite_output_is_an_error_row(tmp_path):
    weights = fixed_matrix(3, DIM)
    weights[0, 0] = np.inf
    model = pooled_linear(tmp_path / "inf.onnx", weights=weights)
    with Scorer(model, device="cpu", align="never") as scorer:
        record = scorer.score_array(random_face(0))
    assert record.error.startswith("non-finite model output") and record.Q is None
    assert record.error_kind == "bad-output"


def io(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda p: pooled_linear(p, weights=fixed_matrix(3, DIM), extra_input=True),
            "exactly one image input, the model has 2: image, other",
        ),
        (
            lambda p: pooled_linear(p, weights=fixed_matrix(3, DIM), extra_output=True),
            "exactly one output, the model has 2",
        ),
        (
            lambda p: pooled_linear(p, weights=fixed_matrix(3, DIM), size=(96, 96)),
            r"expects 96x96 images .* crops 112x112",
        ),
        (lambda p: pooled_linear(p, weights=fixed_matrix(1, DIM)), "has 1 channels .* BGR gives 3"),
        (
            lambda p: pooled_linear(p, weights=fixed_matrix(3, 128)),
            r"declares \['N', 128\]; the contract expects a 512-D",
        ),
        (
            lambda p: custom_graph(
                p, [io("x", [1, 3, 112])], [io("y", [1, 3, 112])], [helper.make_node("Identity", ["x"], ["y"])]
            ),
            "must have rank 4",
        ),
        (
            lambda p: custom_graph(
                p,
                [io("x", [1, 3, 112, 112], TensorProto.INT64)],
                [io("y", [1, 3, 112, 112], TensorProto.INT64)],
                [helper.make_node("Identity", ["x"], ["y"])],
            ),
            "must be float32 or float16, the model declares tensor\\(int64\\)",
        ),
    ],
)
def test_unusable_models_fail_before_any_image_is_read(tmp_path, build, message):
    path = build(tmp_path / "bad.onnx")
    with pytest.raises(ModelError, match=message):
        Scorer(path, device="cpu", align="never")


def test_output_shape_is_checked_on_the_first_real_run(tmp_path):
    # spatial axes dynamic, so the output width is unknown until run: 3*112*112, caught on the first batch
    nodes = [helper.make_node("Flatten", ["x"], ["y"], axis=1)]
    path = custom_graph(tmp_path / "m.onnx", [io("x", ["N", 3, "H", "W"])], [io("y", ["N", "D"])], nodes)
    with Scorer(path, device="cpu", align="never") as scorer:
        with pytest.raises(
            ModelError, match=r"has shape \[1, 37632\] for a batch of 1; the contract \(embedding\) expects \(1, 512\)"
        ):
            scorer.score_array(random_face(0))


def test_missing_and_corrupt_model_files(tmp_path):
    with pytest.raises(ModelError, match="model file not found"):
        Scorer(tmp_path / "none.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    with pytest.raises(ModelError, match="ONNX Runtime cannot load the model"):
        Scorer(tmp_path / "junk.onnx", device="cpu")
    with pytest.raises(ModelError, match="cannot load the model"):  # whichever backend auto picks
        Scorer(tmp_path / "junk.onnx")


def test_model_from_bytes(model_path):
    with Scorer(model_path.read_bytes(), device="cpu", align="never") as scorer:
        assert scorer.score_array(random_face(0)).ok


def test_devices(model_path):
    import onnxruntime

    with Scorer(model_path, device="auto") as scorer:
        if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            assert scorer.provider in ("CUDAExecutionProvider", "CPUExecutionProvider")
        else:  # never OpenVINO, even with its extra installed (tests/test_openvino.py)
            assert scorer.provider == "CPUExecutionProvider"
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        with pytest.raises(DeviceError, match="CUDA was requested but this ONNX Runtime has no CUDA provider"):
            Scorer(model_path, device="cuda:0")
    with pytest.raises(DeviceError, match="unknown device 'gpu': use auto, cpu, cuda, cuda:N or openvino"):
        Scorer(model_path, device="gpu")
    with pytest.raises(FqeError, match="batch size must be at least 1"):
        Scorer(model_path, batch_size=0)


def test_find_images_is_recursive_sorted_and_case_insensitive(tmp_path):
    root = tmp_path / "r"
    for rel in ["b/2.JPG", "b/1.jpeg", "a/x/deep.png", "top.Png", "notes.txt", "a/skip.gif"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"")
    sources = find_images(root)
    assert [s.name for s in sources] == ["a/x/deep.png", "b/1.jpeg", "b/2.JPG", "top.Png"]
    assert [s.identity for s in sources] == ["a", "b", "b", ""]
    single = find_images(root / "b" / "1.jpeg")
    assert [(s.name, s.identity) for s in single] == [("1.jpeg", "")]
    with pytest.raises(FqeError, match="no such file or folder"):
        find_images(root / "missing")


def test_read_list(tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text("# comment\nperson/a.jpg\n\n  other.png  \n")
    sources = read_list(listing)
    assert [(s.name, s.identity) for s in sources] == [("person/a.jpg", "person"), ("other.png", "")]
    assert sources[0].path == tmp_path / "person" / "a.jpg"
    assert read_list(listing, tmp_path / "base")[1].path == tmp_path / "base" / "other.png"


class FakeCudaRuntime:
    """onnxruntime that claims a CUDA provider but, like a broken CUDA install, runs on the CPU."""

    def __init__(self):
        import onnxruntime

        self.real = onnxruntime

    def __getattr__(self, name):
        return getattr(self.real, name)

    def get_available_providers(self):
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]


def test_silent_cuda_fallback_is_caught(model_path, monkeypatch, caplog):
    import logging

    from fqe_onnx import session

    monkeypatch.setattr(session, "import_onnxruntime", FakeCudaRuntime)
    with pytest.raises(DeviceError, match="CUDA was requested but ONNX Runtime fell back to the CPU"):
        Scorer(model_path, device="cuda")
    with caplog.at_level(logging.WARNING, logger="fqe_onnx.session"):
        with Scorer(model_path, device="auto", align="never") as scorer:
            assert scorer.provider == "CPUExecutionProvider"
            assert scorer.score_array(random_face(0)).ok
    assert "CUDA is installed but not usable; running on the CPU" in caplog.text


def test_missing_runtime_and_pandas_give_install_hints(model_path, dataset, monkeypatch):
    import sys

    from fqe_onnx import run
    from fqe_onnx.errors import RuntimeMissingError

    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas -> ImportError
    with pytest.raises(FqeError, match="pip install pandas"):
        run(dataset, model=model_path)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(
        RuntimeMissingError, match=r"pip install onnxruntime \(CPU\) or onnxruntime-gpu \(CUDA\), never both"
    ):
        Scorer(model_path)


def test_scoring_streams_an_endless_input(model_path):
    import itertools

    def endless():
        for i in itertools.count():
            yield random_face(i % 3, (64, 64))

    with Scorer(model_path, device="cpu", align="never", batch_size=4) as scorer:
        first = list(itertools.islice(scorer.score_arrays(endless()), 6))  # returns: records come per batch
    assert [r.path for r in first] == ["0", "1", "2", "3", "4", "5"] and all(r.ok for r in first)
