import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tiny_models import fixed_matrix, pooled_linear

DIM = 512


@pytest.fixture
def weights() -> np.ndarray:
    return fixed_matrix(3, DIM, seed=1)


@pytest.fixture
def model_path(tmp_path, weights) -> Path:
    """Dynamic-batch pooled-linear model with no contract (seed defaults: 512-D embedding)."""
    return pooled_linear(tmp_path / "tiny.onnx", weights=weights)


@pytest.fixture(scope="session")
def default_model() -> Path:
    """The default zoo model, pulled once (scripts/test.sh pulls it before the tests)."""
    from fqe_onnx import zoo

    return zoo.pull(zoo.DEFAULT_MODEL)


def write_image(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, encoded = cv2.imencode(path.suffix, image)
    assert ok
    path.write_bytes(encoded.tobytes())
    return path


def random_face(seed: int, size=(250, 250)) -> np.ndarray:
    """A smooth random colour image (PNG-safe, so decoding is lossless)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    return cv2.resize(small, (size[1], size[0]), interpolation=cv2.INTER_CUBIC)


@pytest.fixture
def dataset(tmp_path) -> Path:
    """root/person_a/{1,2}.png, root/person_b/x.PNG, root/loose.png: 4 lossless images."""
    root = tmp_path / "dataset"
    for i, rel in enumerate(["person_a/1.png", "person_a/2.png", "person_b/x.PNG", "loose.png"]):
        write_image(root / rel, random_face(i))
    return root


def pytest_terminal_summary(terminalreporter) -> None:
    """The docs' counts (tests/test_docs_commands.py): commands and Python blocks run, lines marked not run."""
    docs = sys.modules.get("test_docs_commands")
    if docs is not None:
        terminalreporter.write_line(docs.summary())
