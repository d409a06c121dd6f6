"""Resuming (a header-only output, error rows already written) and finding images (symlinked
folders, list files written with ./ or absolute paths)."""

import os

import pytest
from click.testing import CliRunner

from conftest import random_face, write_image

from fqe_onnx.cli import main
from fqe_onnx.records import COLUMNS
from fqe_onnx.sources import find_images, list_identity, read_list


def score(*args):
    return CliRunner().invoke(main, ["score", *map(str, args)], catch_exceptions=False)


def test_resuming_an_output_holding_only_its_header_writes_no_second_header(dataset, model_path, tmp_path):
    out = tmp_path / "out.csv"
    args = [dataset, "-m", model_path, "--align", "never", "-o", out, "--no-progress"]
    assert score(*args).exit_code == 0
    full = out.read_text()
    header = full.splitlines(keepends=True)[0]
    assert header == ",".join(COLUMNS) + "\n"
    out.write_text(header)  # killed after the header, before the first row
    resumed = score(*args, "--resume")
    assert resumed.exit_code == 0, resumed.stderr
    assert out.read_text() == full and out.read_text().count("path,identity") == 1


def test_resuming_over_error_rows_keeps_them_errors_and_the_exit_status(dataset, model_path, tmp_path):
    (dataset / "person_a" / "bad.jpg").write_bytes(b"not an image")
    out = tmp_path / "out.jsonl"
    args = [dataset, "-m", model_path, "--align", "never", "-o", out, "--format", "jsonl", "--no-progress"]
    first = score(*args)
    assert first.exit_code == 1 and "5 images, 1 errors" in first.stderr
    full = out.read_text()
    again = score(*args, "--resume")  # nothing left to score: the error is still there
    assert again.exit_code == 1, again.stderr
    assert "5 inputs were already in the output (1 of them errors)" in again.stderr
    assert out.read_text() == full
    lines = full.splitlines(keepends=True)
    out.write_text("".join(line for line in lines if "bad.jpg" in line))  # only the error row is in
    partial = score(*args, "--resume")
    assert partial.exit_code == 1 and "4 images, 0 errors" in partial.stderr
    assert "1 inputs were already in the output (1 of them errors)" in partial.stderr


def test_a_symlinked_folder_is_listed_under_its_link_name(tmp_path):
    elsewhere = tmp_path / "storage" / "photos_0042"
    write_image(elsewhere / "1.png", random_face(0))
    root = tmp_path / "root"
    write_image(root / "bob" / "1.png", random_face(1))
    os.symlink(elsewhere, root / "alice")
    sources = find_images(root)
    assert [(s.name, s.identity) for s in sources] == [("alice/1.png", "alice"), ("bob/1.png", "bob")]
    assert sources[0].path == root / "alice" / "1.png"


def test_list_entries_keep_their_spelling_and_get_the_identity_of_the_path_they_mean(tmp_path):
    listing = tmp_path / "list.txt"
    absolute = tmp_path / "carol" / "1.png"
    outside = tmp_path.parent / "dave" / "2.png"
    listing.write_text(f"./alice/1.png\nbob//2.png\n{absolute}\n{outside}\n./top.png\n../eve/3.png\n")
    sources = read_list(listing)
    assert [s.name for s in sources] == ["./alice/1.png", "bob//2.png", str(absolute), str(outside), "./top.png",
                                         "../eve/3.png"]
    assert [s.identity for s in sources] == ["alice", "bob", "carol", "dave", "", "eve"]
    assert sources[0].path == tmp_path / "./alice/1.png"


@pytest.mark.parametrize("entry, identity", [("a/b/c.png", "a"), ("c.png", ""), ("./a/./c.png", "a"),
                                             ("a/../c.png", ""), ("/x/y/z.png", "y")])
def test_list_identity(entry, identity, tmp_path):
    assert list_identity(entry, tmp_path) == identity


def test_from_list_in_the_cli_names_rows_as_written(dataset, model_path, tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text("./person_a/1.png\n")
    result = score(dataset, "--from-list", listing, "-m", model_path, "--align", "never")
    assert result.exit_code == 0, result.stderr
    row = result.stdout.splitlines()[1].split(",")
    assert row[:2] == ["./person_a/1.png", "person_a"]
