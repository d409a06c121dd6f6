"""Ray Data (the ray extra; scripts/test.sh installs it): the same rows as one machine, resumable.

One local cluster (2 CPUs, loopback) serves every test of this file."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import random_face, write_image
from tiny_models import fixed_matrix, pooled_linear

from fqe_onnx import Scorer
from fqe_onnx.cli import main
from fqe_onnx.ray import ScoreImages, score_dataset
from fqe_onnx.records import COLUMNS
from fqe_onnx.table import ENGINE_NAMES


def test_the_extras_are_installed():
    import pyarrow  # noqa: F401  (only whether it is installed)
    import ray  # noqa: F401  (only whether it is installed)


@pytest.fixture(scope="module")
def cluster():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("ray")
    images = root / "images"
    for i in range(198):
        write_image(images / f"p{i % 9}" / f"{i:03d}.png", random_face(i, (64, 64)))
    (images / "p1" / "corrupt.png").write_bytes(b"not a png")
    (images / "p2" / "cut.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF")
    model = pooled_linear(root / "m.onnx", weights=fixed_matrix(3, 512, seed=5))
    with Scorer(model, device="cpu", align="never") as scorer:
        single = {r.path: r for r in scorer.score_folder(images)}
    return images, model, single


def read_rows(destination):
    import pyarrow.parquet as pq

    table = pq.read_table(destination)
    return table, {row["path"]: row for row in table.to_pylist()}


def check_equal_to_single(rows, single):
    assert set(rows) == set(single) and len(single) == 200
    for path, record in single.items():
        row = rows[path]
        assert row["error_kind"] == record.error_kind and row["quality_score"] == record.Q
        if record.q is None:
            assert row["quality_raw"] is None
        else:
            assert row["quality_raw"] == pytest.approx(record.q, rel=1e-6)


def test_same_rows_as_one_machine_with_error_rows(cluster, corpus, tmp_path):
    images, model, single = corpus
    out = tmp_path / "out.parquet"
    counts = score_dataset(str(images), str(out), model=str(model), align="never")
    assert counts == {"inputs": 200, "already": 0, "scored": 200}
    table, rows = read_rows(out)
    assert table.num_rows == 200
    check_equal_to_single(rows, single)
    assert sum(1 for r in rows.values() if r["error_kind"]) == 2
    assert b"fqe_onnx.contract_sha256" in table.schema.metadata
    again = score_dataset(str(images), str(out), model=str(model), align="never")
    assert again == {"inputs": 200, "already": 200, "scored": 0} and read_rows(out)[0].num_rows == 200


DRIVER = """
import sys
import ray
from fqe_onnx.ray import score_dataset
ray.init(address=sys.argv[3], log_to_driver=False)
score_dataset(sys.argv[1], sys.argv[2], model=sys.argv[4], align="never", batch_size=4, actors=1)
"""


def test_a_killed_driver_resumes_without_losing_or_doubling_rows(cluster, corpus, tmp_path):
    images, model, single = corpus
    out = tmp_path / "out.parquet"
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(images), str(out), cluster, str(model)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("*.parquet"))) < 3 and driver.poll() is None:
        time.sleep(0.05)
    driver.send_signal(signal.SIGKILL)
    driver.wait(30)
    written = len(list(out.glob("*.parquet")))
    assert written >= 1
    counts = score_dataset(str(images), str(out), model=str(model), align="never")
    assert counts["already"] + counts["scored"] == 200 and counts["already"] > 0
    table, rows = read_rows(out)
    assert table.num_rows == 200  # no row twice, none lost
    check_equal_to_single(rows, single)


class DiesOnce(ScoreImages):
    """Kills its own process the first time it is called (as `kill -9` on an actor would)."""

    marker = ""  # set by the test; the class travels to the actors by value, with it

    def __call__(self, batch):
        flag = Path(self.marker)
        if not flag.exists():
            flag.write_text("died")
            os._exit(1)
        return super().__call__(batch)


def test_a_killed_actor_is_recovered(cluster, corpus, tmp_path, monkeypatch):
    import ray

    images, model, single = corpus
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    flag = tmp_path / "died"
    monkeypatch.setattr(DiesOnce, "marker", str(flag))
    out = tmp_path / "out.parquet"
    score_dataset(str(images), str(out), model=str(model), align="never", udf=DiesOnce)
    assert flag.read_text() == "died"  # an actor really died
    table, rows = read_rows(out)
    assert table.num_rows == 200
    check_equal_to_single(rows, single)


def test_engine_column_names_are_unique_case_insensitively():
    names = [ENGINE_NAMES[c] for c in COLUMNS]
    assert len({n.lower() for n in names}) == len(names) == len(COLUMNS)
    assert "q" not in names and "Q" not in names


def test_cli_engine_ray_and_parquet_without_ray(cluster, corpus, tmp_path):
    images, model, single = corpus
    out = tmp_path / "cli.parquet"
    result = CliRunner().invoke(
        main,
        [
            "score",
            str(images),
            "-m",
            str(model),
            "--align",
            "never",
            "--engine",
            "ray",
            "--device",
            "cpu",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 1, result.output  # two error rows
    assert "200 inputs: 0 already" in result.stderr and "200 rows, 2 errors" in result.stderr
    check_equal_to_single(read_rows(out)[1], single)
    local = tmp_path / "local.parquet"
    result = CliRunner().invoke(
        main,
        [
            "score",
            str(images),
            "-m",
            str(model),
            "--align",
            "never",
            "--format",
            "parquet",
            "--device",
            "cpu",
            "-o",
            str(local),
        ],
    )
    assert result.exit_code == 1
    check_equal_to_single(read_rows(local)[1], single)
    refused = CliRunner().invoke(main, ["score", str(images), "-m", str(model), "--format", "parquet"])
    assert refused.exit_code == 2 and "give --output FILE" in refused.stderr
