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
    assert [s.name for s in sources] == [
        "./alice/1.png",
        "bob//2.png",
        str(absolute),
        str(outside),
        "./top.png",
        "../eve/3.png",
    ]
    assert [s.identity for s in sources] == ["alice", "bob", "carol", "dave", "", "eve"]
    assert sources[0].path == tmp_path / "./alice/1.png"


@pytest.mark.parametrize(
    "entry, identity",
    [("a/b/c.png", "a"), ("c.png", ""), ("./a/./c.png", "a"), ("a/../c.png", ""), ("/x/y/z.png", "y")],
)
def test_list_identity(entry, identity, tmp_path):
    assert list_identity(entry, tmp_path) == identity


def test_from_list_in_the_cli_names_rows_as_written(dataset, model_path, tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text("./person_a/1.png\n")
    result = score(dataset, "--from-list", listing, "-m", model_path, "--align", "never")
    assert result.exit_code == 0, result.stderr
    row = result.stdout.splitlines()[1].split(",")
    assert row[:2] == ["./person_a/1.png", "person_a"]


def test_printable_names():
    from fqe_onnx.sources import printable

    assert printable("a\\b.png") == "a\\\\b.png"
    assert printable(os.fsdecode(b"caf\xe9.png")) == "caf\\xe9.png"
    assert printable("café.png") == "café.png"
    assert printable("a\0b.png") == "a\\x00b.png" != printable("a\\x00b.png") == "a\\\\x00b.png"


def test_a_folder_that_cannot_be_listed_is_an_error_source_and_the_walk_goes_on(tmp_path, monkeypatch):
    root = tmp_path / "root"
    for name in ("a/1.png", "b/x/2.png", "c/3.png"):
        write_image(root / name, random_face(0))
    real = os.scandir

    def scandir(path):
        if str(path).endswith("b/x"):
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    sources = find_images(root)
    assert [(s.name, s.identity) for s in sources] == [("a/1.png", "a"), ("b/x/", "b"), ("c/3.png", "c")]
    broken = sources[1]
    assert broken.path == root / "b" / "x" and broken.error.kind == "unreadable"
    assert str(broken.error) == "cannot read folder: Permission denied"


def test_a_link_loop_ends_and_each_file_is_listed_once(tmp_path):
    root = tmp_path / "root"
    write_image(root / "a" / "1.png", random_face(0))
    write_image(root / "b" / "2.png", random_face(1))
    os.symlink(root, root / "a" / "loop")
    os.symlink(root / "b", root / "c")  # the same folder under a second name, walked once
    names = [s.name for s in find_images(root)]
    assert len(names) == 2 and sorted(n.rsplit("/", 1)[1] for n in names) == ["1.png", "2.png"]


FSDECODED_LATIN_1 = os.fsdecode(b"caf\xe9")  # printed caf\xe9, which sorts before cafe


@pytest.mark.parametrize(
    "folder, link, listed",
    [
        ("zed", "alice", "alice"),  # the link's name sorts first: the link wins
        ("alice", "zed", "alice"),  # the folder's own name sorts first: it wins
        ("photos-2020", "photos/latest", "photos-2020"),  # '-' sorts before '/': photos-2020/1.png comes first
        ("a/deep/x", "a-b", "a-b"),
        ("cafe", FSDECODED_LATIN_1, "caf\\xe9"),  # the name as printed decides, as it does the rows' order
    ],
)
def test_a_folder_reachable_under_two_names_is_listed_under_the_one_that_sorts_first(
    tmp_path, monkeypatch, folder, link, listed
):
    root = tmp_path / "root"
    (root / folder).mkdir(parents=True)
    (root / folder / "1.png").write_bytes(b"x")
    (root / link).parent.mkdir(parents=True, exist_ok=True)
    os.symlink(root / folder, root / link)
    (root / "m.png").write_bytes(b"x")  # a file between them, so the two names are not neighbours
    expected = sorted([f"{listed}/1.png", "m.png"])
    assert [s.name for s in find_images(root)] == expected
    real = os.scandir

    class Backwards:  # the file system lists each folder in reverse order: the result is the same
        def __init__(self, path):
            with real(path) as listing:
                self.entries = sorted(listing, key=lambda e: e.name, reverse=True)

        def __enter__(self):
            return iter(self.entries)

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(os, "scandir", Backwards)
    assert [s.name for s in find_images(root)] == expected


def test_one_file_and_a_missing_root(tmp_path):
    from fqe_onnx.errors import FqeError

    path = write_image(tmp_path / "x" / "one.png", random_face(0))
    (single,) = find_images(path)
    assert (single.path, single.name, single.identity) == (path, "one.png", "")
    with pytest.raises(FqeError) as error:
        find_images(tmp_path / "caf\\e")
    assert str(error.value) == f"no such file or folder: {tmp_path}/caf\\\\e"


def test_a_list_file_in_latin_1_and_a_missing_one(tmp_path):
    from fqe_onnx.errors import FqeError

    listing = tmp_path / "list.txt"
    listing.write_bytes(b"a/caf\xe9.png\n")
    (source,) = read_list(listing)
    assert source.name == "a/caf\\xe9.png" and source.path == tmp_path / os.fsdecode(b"a/caf\xe9.png")
    with pytest.raises(FqeError) as error:
        read_list(tmp_path / "none.txt")
    assert str(error.value) == f"cannot read list file {tmp_path / 'none.txt'}: No such file or directory"


def test_the_files_left_out_are_counted_by_extension_with_their_reasons_most_first(tmp_path):
    from fqe_onnx.sources import discover, extension_of

    for name in ["a.jpg", "b.HEIC", "c.heic", "d.gif", "README", "notes.txt", "g.png", "sub/h.JPG"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    found = discover(tmp_path, (".jpg",))
    assert [s.name for s in found.sources] == ["a.jpg", "sub/h.JPG"]  # any letter case
    assert found.skipped == {".heic": 2, ".gif": 1, "": 1, ".txt": 1, ".png": 1}
    assert list(found.skipped_summary().items()) == [  # most first, then by extension
        (".heic", {"count": 2, "reason": "not decodable here"}),
        ("(no extension)", {"count": 1, "reason": "not an image extension (--ext +EXT adds one)"}),
        (".gif", {"count": 1, "reason": "not an image format we score"}),
        (".png", {"count": 1, "reason": "left out by --ext"}),
        (".txt", {"count": 1, "reason": "not an image extension (--ext +EXT adds one)"}),
    ]
    assert found.describe_skipped() == (
        "2 .heic: not decodable here; 1 (no extension): not an image extension (--ext +EXT adds one); "
        "1 .gif: not an image format we score; 1 .png: left out by --ext; "
        "1 .txt: not an image extension (--ext +EXT adds one)"
    )
    assert [s.name for s in find_images(tmp_path, (".png",))] == ["g.png"]  # find_images passes them on
    assert (extension_of("b.HEIC"), extension_of("README"), extension_of("trailing.")) == (".heic", "", "")


def test_one_file_as_root_leaves_nothing_out_and_keeps_the_extensions(tmp_path):
    from fqe_onnx.sources import discover

    path = write_image(tmp_path / "one.png", random_face(0))
    found = discover(path, (".png", ".webp"))
    assert found.skipped == {} and found.describe_skipped() == "" and found.extensions == (".png", ".webp")
    assert "(extensions .png .webp)" in str(found.nothing_found("x"))


def test_walk_keys_and_an_entry_that_cannot_be_checked():
    from fqe_onnx.sources import _is_folder, walk_key

    assert (walk_key("a\\b", True), walk_key("a\\b", False)) == ("a\\\\b/", "a\\\\b")

    class Unreachable:
        def is_dir(self):
            raise PermissionError("denied")

    assert _is_folder(Unreachable()) is False  # type: ignore[arg-type]  # a stand-in for os.DirEntry


def test_extension_options_and_their_refusals_word_for_word():
    from fqe_onnx.errors import FqeError
    from fqe_onnx.sources import IMAGE_EXTENSIONS, parse_extensions

    assert parse_extensions(".X3F") == (".x3f",)  # only the dot is taken off the front, then lower case
    assert parse_extensions("+X3F") == IMAGE_EXTENSIONS + (".x3f",)
    refusals = {
        " , ": "--ext needs at least one extension, e.g. --ext jpg,png or --ext +jfif",
        "png,+heic": "--ext 'png,+heic': either list the extensions to use, or add to the defaults with '+' on each",
        "png,.": "--ext 'png,.' has an empty extension",
    }
    for text, message in refusals.items():
        with pytest.raises(FqeError) as error:
            parse_extensions(text)
        assert str(error.value) == message


def test_a_folder_without_images_says_what_it_holds_or_that_it_is_empty(tmp_path):
    from fqe_onnx.sources import discover

    root = tmp_path / "in\\box"
    root.mkdir()
    assert str(discover(root, (".png",)).nothing_found(str(root))) == (
        f"no images under {tmp_path}/in\\\\box (extensions .png); it holds no files at all"
    )
    (root / "a.gif").write_bytes(b"x")
    assert str(discover(root, (".png",)).nothing_found(str(root))) == (
        f"no images under {tmp_path}/in\\\\box (extensions .png); found instead: 1 .gif: not an image format we score"
    )
