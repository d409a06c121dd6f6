"""Every Python block in the README runs as written, in a folder holding the files it names, and
every field list the README gives is the one the code has (derived from fqe_onnx.records.COLUMNS)."""

import re
import shutil
from pathlib import Path

import pytest

from conftest import random_face, write_image

from fqe_onnx.records import COLUMNS
from fqe_onnx.table import ENGINE_NAMES

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"^```python\n(.*?)^```$", README, flags=re.S | re.M)
FIELDS = ", ".join(COLUMNS)


@pytest.fixture
def snippet_folder(tmp_path, monkeypatch, default_model):
    """What the Python API section says the folder holds: dataset/, a.jpg, b.png, crop.png, model.onnx."""
    for i, name in enumerate(["dataset/person_a/1.png", "dataset/person_a/2.png", "dataset/person_b/1.png",
                              "a.jpg", "b.png"]):
        write_image(tmp_path / name, random_face(i, (112, 112)))
    write_image(tmp_path / "crop.png", random_face(9, (250, 250)))
    shutil.copy(default_model, tmp_path / "model.onnx")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_readme_has_python_blocks():
    assert len(BLOCKS) >= 1 and all("import" in b for b in BLOCKS)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs_as_written(snippet_folder, index, capsys):
    namespace = {"__name__": "readme"}
    exec(compile(BLOCKS[index], f"README.md python block {index + 1}", "exec"), namespace)
    printed = capsys.readouterr().out
    assert printed.strip()
    if "df" in namespace:  # run(): the DataFrame has exactly the record's columns, in order
        assert tuple(namespace["df"].columns) == COLUMNS and len(namespace["df"]) == 3
    if "records" in namespace:
        assert [r.path for r in namespace["records"]] == ["a", "a mirrored"]


def test_no_snippet_asks_for_a_gpu():
    for block in BLOCKS:
        assert 'device="cuda' not in block  # runs on a CPU machine as written


def test_every_field_list_in_the_readme_is_the_records_columns():
    text = " ".join(README.split())  # line breaks inside sentences do not matter
    lists = re.findall(r"(?:columns|Record\(|CSV's `)\s*(path, identity(?:, [A-Za-z_]+)*)", text)
    assert len(lists) >= 3, lists
    assert all(found == FIELDS for found in lists), lists
    engine = ", ".join(ENGINE_NAMES[c] for c in COLUMNS)
    assert text.count(f"`{engine}`") >= 2  # the score section and the Ray section name the Parquet columns
