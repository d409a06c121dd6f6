"""The writer, the run summary, the side file and --resume's reader, as functions (no model)."""

import hashlib
import io
import json

import pytest

from fqe_onnx.errors import FqeError
from fqe_onnx.output import (
    RecordWriter,
    RunSummary,
    read_for_resume,
    settings_digest,
    side_file,
    skip_done,
    write_records,
    write_side_file,
)
from fqe_onnx.records import COLUMNS, Record
from fqe_onnx.sources import ImageSource


def record(path="a/1.png", q=1.25, Q=78, kind=""):
    return Record(
        path=path, identity="a", q=q, Q=Q, mode="as-is", format="png", error_kind=kind, error="broken" if kind else ""
    )


def row(path: str, kind: str = "", q: str = "") -> str:
    """A CSV row of every column (derived from COLUMNS, so new columns flow through)."""
    cells = {"path": path, "error_kind": kind, "q": q}
    return ",".join(cells.get(c, "") for c in COLUMNS) + "\n"


def line_of(r: Record) -> str:
    values = r.as_dict()
    values["q"] = "" if r.q is None else repr(r.q)
    values["Q"] = "" if r.Q is None else str(r.Q)
    return ",".join("" if values[c] is None else str(values[c]) for c in COLUMNS) + "\n"


def test_csv_rows_are_exact():
    stream = io.StringIO()
    writer = RecordWriter(stream)
    assert writer.fmt == "csv"
    first, second = record(q=0.1 + 0.2), record(path="b.png", q=None, Q=None, kind="flat")
    writer.write(first)
    writer.write(second)
    assert stream.getvalue() == ",".join(COLUMNS) + "\n" + line_of(first) + line_of(second)
    assert "0.30000000000000004,78," in line_of(first) and ",flat,broken" in line_of(second)
    quiet = io.StringIO()
    RecordWriter(quiet, "csv", header=False).write(record())
    assert quiet.getvalue() == line_of(record())


def test_jsonl_rows_keep_unicode_and_every_column():
    stream = io.StringIO()
    writer = RecordWriter(stream, "jsonl")
    writer.write(record(path="café/1.png"))
    line = stream.getvalue()
    assert line.endswith("\n") and "café" in line and list(json.loads(line)) == list(COLUMNS)
    with pytest.raises(ValueError) as error:
        RecordWriter(stream, "xml")
    assert str(error.value) == "format must be one of csv, jsonl, got 'xml'"


def test_the_summary_counts_and_describes():
    summary = RunSummary(inputs=5)
    for r in (record(), record(Q=12), record(q=None, Q=None, kind="flat"), record(q=None, Q=None, kind="flat")):
        summary.add(r)
    assert summary.scores == [78, 12] and summary.errors == 2 and summary.total == 4
    assert summary.modes["as-is"] == 4 and summary.error_kinds["flat"] == 2
    assert summary.describe("CPU") == (
        "4 images, 2 errors, 0.0 images/s, CPU; mode: as-is 4; errors: flat 2; WARNING: 1 of 5 inputs have no row"
    )
    summary.seconds = 0.5
    summary.already, summary.already_errors = 1, 1
    assert summary.describe("CPU") == (
        "4 images, 2 errors, 8.0 images/s, CPU; mode: as-is 4; errors: flat 2; "
        "1 inputs were already in the output (1 of them errors)"
    )
    summary.inputs = 9
    assert summary.describe("CPU", "interrupted (SIGINT)").startswith("interrupted (SIGINT): 4 images")
    assert summary.describe("CPU", "interrupted (SIGINT)").endswith(
        "; 4 of 9 inputs not scored yet (rerun with --resume)"
    )


def test_write_records_counts_progress_and_adds_time():
    ticks = []
    summary = RunSummary(seconds=5.0)
    write_records([record(), record()], RecordWriter(io.StringIO()), summary, progress=ticks.append)
    assert ticks == [1, 1] and summary.total == 2 and 5.0 < summary.seconds < 6.0


def test_the_side_file_is_sorted_indented_json_with_the_digest(tmp_path):
    settings = {"model": "m", "align": "auto"}
    assert settings_digest(settings) == settings_digest({"align": "auto", "model": "m"})
    assert settings_digest(settings) == hashlib.sha256(b'{"align": "auto", "model": "m"}').hexdigest()
    write_side_file(tmp_path / "out.csv", settings)
    text = side_file(tmp_path / "out.csv").read_text()
    assert text == (
        '{\n  "settings": {\n    "align": "auto",\n    "model": "m"\n  },\n  "sha256": "'
        + settings_digest(settings)
        + '",\n  "what": "fqe-onnx score settings for the output file '
        'beside this one"\n}\n'
    )


def written(tmp_path, body: str, settings=None, name="out.csv"):
    out = tmp_path / name
    out.write_text(body)
    write_side_file(out, settings or {"model": "m"})
    return out


def test_read_for_resume_reads_what_is_done(tmp_path):
    assert read_for_resume(tmp_path / "none.csv", "csv", {}).__dict__ == {"done": {}, "torn": False}
    header = ",".join(COLUMNS) + "\n"
    out = written(tmp_path, header + row("a.png", q="1.0") + row("b.png", "flat"))
    state = read_for_resume(out, "csv", {"model": "m"})
    assert state.done == {"a.png": "", "b.png": "flat"} and state.torn is False
    lines = '{"path": "a.png", "error_kind": ""}\n{"path": "b.png", "error_kind": "truncated"}\n'
    out = written(tmp_path, lines, name="out.jsonl")
    assert read_for_resume(out, "jsonl", {"model": "m"}).done == {"a.png": "", "b.png": "truncated"}


def test_read_for_resume_drops_exactly_the_torn_line(tmp_path):
    header = ",".join(COLUMNS) + "\n"
    out = written(tmp_path, header + row("a.png", q="1.0") + "b.png,,0.")
    state = read_for_resume(out, "csv", {"model": "m"})
    assert state.torn is True and state.done == {"a.png": ""}
    assert out.read_text() == header + row("a.png", q="1.0")


@pytest.mark.parametrize(
    "body, fmt, message",
    [
        ("path,q\n", "csv", "its header is not " + ",".join(COLUMNS)),
        (",".join(COLUMNS) + "\na.png,x\n", "csv", f"a row has 2 cells, expected {len(COLUMNS)}"),
        ('{"path": "a.png", "error_kind": ""}\n[1]\n', "jsonl", "line 2 is not a row"),
    ],
)
def test_read_for_resume_refuses_what_it_cannot_read(tmp_path, body, fmt, message):
    out = written(tmp_path, body)
    with pytest.raises(FqeError) as error:
        read_for_resume(out, fmt, {"model": "m"})
    assert str(error.value).startswith(f"cannot resume {out}: {message}")


def test_read_for_resume_names_the_settings_that_differ(tmp_path):
    out = written(tmp_path, "", {"model": "m", "align": "auto", "old": 1})
    with pytest.raises(FqeError) as error:
        read_for_resume(out, "csv", {"model": "m", "align": "never", "new": 2})
    assert str(error.value) == (
        f"cannot resume {out}: it was made with other settings (align, new, old differ); "
        "use the same model and options, or another --output"
    )
    side_file(out).write_text(json.dumps({"sha256": "x"}))
    with pytest.raises(FqeError, match=r"\(model differ\)"):
        read_for_resume(out, "csv", {"model": "m"})
    write_side_file(out, {"model": "m"})
    body = json.loads(side_file(out).read_text())
    body["sha256"] = "0" * 64  # the settings agree, the digest does not: edited by hand
    side_file(out).write_text(json.dumps(body))
    with pytest.raises(FqeError, match=r"\(unknown differ\)"):
        read_for_resume(out, "csv", body["settings"])
    side_file(out).write_text("{broken")
    with pytest.raises(FqeError) as error:
        read_for_resume(out, "csv", {"model": "m"})
    assert str(error.value).startswith(
        f"cannot resume {out}: its side file out.csv.fqe-run.json is missing or unreadable ("
    )
    assert str(error.value).endswith("); rerun without --resume to start over")


def test_skip_done_needs_a_header_only_for_an_empty_output(tmp_path):
    sources = [ImageSource(tmp_path / n, n, "") for n in ("a.png", "b.png")]
    empty = written(tmp_path, "")
    summary = RunSummary()
    todo, header, torn = skip_done(sources, str(empty), "csv", {"model": "m"}, summary)
    assert [s.name for s in todo] == ["a.png", "b.png"] and header is True and torn is False
    only_header = written(tmp_path, ",".join(COLUMNS) + "\n")
    assert skip_done(sources, str(only_header), "csv", {"model": "m"}, RunSummary())[1] is False
    missing = tmp_path / "missing.csv"
    assert skip_done(sources, str(missing), "csv", {"model": "m"}, RunSummary())[1] is True
