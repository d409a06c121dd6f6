"""Files the tool writes follow the user's umask (not mkstemp's 0600) and appear whole or not at all."""

import os
import stat

import pytest

from fqe_onnx.fs import atomic_file, current_umask, new_file_mode, write_atomically
from fqe_onnx.modelfile import save_model_bytes
from fqe_onnx.output import write_side_file
from fqe_onnx.report.page import save_report


@pytest.fixture(params=[0o022, 0o002, 0o077])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_current_umask_is_read_without_changing_it(umask):
    assert current_umask() == umask
    assert os.umask(umask) == umask  # still what the test set
    assert new_file_mode() == 0o666 & ~umask


def test_every_writer_gives_the_umask_mode(tmp_path, umask):
    expected = 0o666 & ~umask
    write_atomically(tmp_path / "a.bin", b"x")
    save_model_bytes(b"onnx", tmp_path / "models" / "m.onnx")
    save_report("<html></html>", tmp_path / "report.html")
    write_side_file(tmp_path / "scores.csv", {"model": "m"})
    for name in ("a.bin", "models/m.onnx", "report.html", "scores.csv.fqe-run.json"):
        assert mode(tmp_path / name) == expected, name
    plain = tmp_path / "plain.txt"
    plain.write_text("x")  # what any ordinary program would give
    assert mode(plain) == expected


def test_a_writer_that_replaces_the_temporary_file_still_gets_the_mode(tmp_path, umask):
    with atomic_file(tmp_path / "model.onnx", suffix=".part") as part:
        part.unlink()
        part.write_bytes(b"rebuilt")  # like a library that removes and recreates its output
        os.chmod(part, 0o600)
    assert mode(tmp_path / "model.onnx") == 0o666 & ~umask


def test_a_failed_write_leaves_neither_file_nor_temporary(tmp_path):
    (tmp_path / "keep.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_file(tmp_path / "keep.txt") as temporary:
            temporary.write_text("half")
            raise RuntimeError("interrupted")
    assert (tmp_path / "keep.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
