"""curation/store on small hand-made records: the store's invariants, the npy + index CSV layout
as it is written (rows before the first embedding, all failed, fewer rows than opened), the
Parquet file and folder layout, how each cell is read back, and every refusal's message (no
model, no command)."""

import csv
import io
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fqe_onnx.curation.store import (
    EmbeddingStore,
    StoreWriter,
    index_path,
    is_parquet,
    read_store,
    scored_records,
    write_parquet,
)
from fqe_onnx.errors import FqeError
from fqe_onnx.output import RecordWriter
from fqe_onnx.records import COLUMNS, Record
from fqe_onnx.table import records_table


def ok_record(path="a/1.png", q=1.25, Q=70, identity="a"):
    return Record(path, identity, q, Q, "as-is", "png")


def failed(path="a/2.png", kind="no-face"):
    return Record(path, "a", None, None, "", "", kind, "no face found")


ALIGNED = Record(
    "b/1.png",
    "b",
    2.0,
    90,
    "aligned",
    "jpeg",
    face=1,
    box=(35.7, 17.5, 104.7, 128.0),
    face_score=0.99,
    eye_distance=42.12,
)


def write(path, records, vectors, count=None):
    with StoreWriter(path, len(records) if count is None else count) as writer:
        for record, vector in zip(records, vectors):
            writer.add(record, vector)
    return writer


def same_embeddings(got, expected):
    return (
        got.shape == expected.shape
        and np.array_equal(np.isnan(got), np.isnan(expected))
        and np.array_equal(got[~np.isnan(got)], expected[~np.isnan(expected)])
    )


# ---------------------------------------------------------------------------------------------
# the store itself


def test_a_store_needs_one_embedding_row_per_record():
    with pytest.raises(
        FqeError,
        match=r"^an embedding store needs one embedding row per record: 2 records, "
        r"embeddings of shape \(2,\)$",
    ):
        EmbeddingStore([ok_record(), failed()], np.zeros(2, np.float32))
    with pytest.raises(FqeError, match=r"2 records, embeddings of shape \(3, 4\)$"):
        EmbeddingStore([ok_record(), failed()], np.zeros((3, 4), np.float32))
    assert len(EmbeddingStore([], np.zeros((0, 4), np.float32)).records) == 0


def test_ok_means_every_value_is_finite():
    embeddings = np.array([[1, 2], [np.nan, 1], [np.inf, 0], [0, 0]], dtype=np.float32)
    assert EmbeddingStore([ok_record()] * 4, embeddings).ok.tolist() == [True, False, False, True]


def test_a_zero_width_row_is_no_embedding():
    """A store whose every image failed has 0-wide rows: none of them has an embedding."""
    store = EmbeddingStore([failed(), failed("a/3.png")], np.full((2, 0), np.nan, np.float32))
    assert store.ok.tolist() == [False, False]


def test_unit_rows_are_normalised_and_failures_zero():
    embeddings = np.array([[3, 4], [np.nan, np.nan], [0, 0], [0, -0.5]], dtype=np.float64)
    unit = EmbeddingStore([ok_record()] * 4, embeddings).unit()
    assert unit.dtype == np.float32
    assert unit.tolist() == [[pytest.approx(0.6), pytest.approx(0.8)], [0, 0], [0, 0], [0, -1]]


def test_index_path_and_is_parquet():
    assert index_path("out/e.npy") == index_path(__import__("pathlib").Path("out/e.npy"))
    assert str(index_path("out/e.npy")) == "out/e.index.csv"
    assert str(index_path("e.v2.npy")) == "e.v2.index.csv" and str(index_path("e")) == "e.index.csv"
    assert is_parquet("a/e.parquet") and is_parquet("E.PARQUET") and is_parquet(__import__("pathlib").Path("x.Parquet"))
    assert not is_parquet("e.npy") and not is_parquet("parquet") and not is_parquet("e.parquet.npy")


# ---------------------------------------------------------------------------------------------
# the npy layout


def test_npy_store_round_trips_and_its_index_is_the_score_csv(tmp_path):
    """The npy holds float32 rows (NaN for a failure, an embedding of any shape flattened); the
    index CSV is what score writes for the same records; read back, both come back equal."""
    records = [ok_record(), failed(), ALIGNED]
    vectors = [np.arange(4, dtype=np.float64), None, np.ones((1, 4), np.float32)]
    write(tmp_path / "e.npy", records, vectors)
    raw = np.load(tmp_path / "e.npy")
    assert raw.dtype == np.float32 and raw.shape == (3, 4)
    expected = np.array([[0, 1, 2, 3], [np.nan] * 4, [1] * 4], dtype=np.float32)
    assert same_embeddings(raw, expected)
    text = io.StringIO()
    writer = RecordWriter(text, "csv")
    for r in records:
        writer.write(r)
    assert (tmp_path / "e.index.csv").read_text(encoding="utf-8") == text.getvalue()
    store = read_store(tmp_path / "e.npy")
    assert store.records == records and same_embeddings(store.embeddings, expected)
    assert store.embeddings.dtype == np.float32 and type(store.embeddings) is np.ndarray
    assert store.ok.tolist() == [True, False, True]


def test_rows_before_the_first_embedding_are_nan(tmp_path):
    """The width is known at the first embedding: the failures before it are NaN rows too."""
    write(
        tmp_path / "e.npy",
        [failed("a/1.png"), failed("a/2.png"), ok_record("a/3.png"), failed("a/4.png")],
        [None, None, np.array([1.0, 2.0]), None],
    )
    assert same_embeddings(np.load(tmp_path / "e.npy"), np.array([[np.nan] * 2] * 2 + [[1, 2]] + [[np.nan] * 2]))


def test_a_store_of_failures_only_keeps_the_row_count(tmp_path):
    write(tmp_path / "e.npy", [failed("a/1.png"), failed("a/2.png")], [None, None])
    assert np.load(tmp_path / "e.npy").shape == (2, 0)
    store = read_store(tmp_path / "e.npy")
    assert len(store.records) == 2 and store.embeddings.shape == (2, 0) and store.ok.tolist() == [False, False]


def test_a_store_opened_for_more_rows_is_cut_to_what_was_written(tmp_path):
    write(tmp_path / "e.npy", [ok_record("a/1.png"), ok_record("a/2.png")], [np.ones(3), np.zeros(3)], count=5)
    assert np.load(tmp_path / "e.npy").tolist() == [[1, 1, 1], [0, 0, 0]]
    assert len(read_store(tmp_path / "e.npy").records) == 2
    write(tmp_path / "f.npy", [failed("a/1.png")], [None], count=3)
    assert np.load(tmp_path / "f.npy").shape == (1, 0)


def test_a_store_filled_to_its_count_is_kept_as_written(tmp_path):
    write(tmp_path / "e.npy", [ok_record("a/1.png"), ok_record("a/2.png")], [np.ones(3), np.zeros(3)])
    assert np.load(tmp_path / "e.npy").tolist() == [[1, 1, 1], [0, 0, 0]]


def test_more_rows_than_opened_for_are_refused(tmp_path):
    with StoreWriter(tmp_path / "e.npy", 1) as writer:
        writer.add(ok_record(), np.ones(2))
        with pytest.raises(FqeError, match=r"^the store at .*e\.npy was opened for 1 rows; got more$"):
            writer.add(ok_record("a/2.png"), np.ones(2))
    assert writer.written == 1
    parquet = StoreWriter(tmp_path / "e.parquet", 0)
    with pytest.raises(FqeError, match="opened for 0 rows"):
        parquet.add(ok_record(), None)


def test_a_store_that_cannot_be_written(tmp_path):
    with pytest.raises(FqeError, match=r"^cannot write .*missing/e\.index\.csv: No such file or directory$"):
        StoreWriter(tmp_path / "missing" / "e.npy", 1)
    (tmp_path / "e.npy").mkdir()  # the index can be written, the npy cannot
    writer = StoreWriter(tmp_path / "e.npy", 1)
    with pytest.raises(FqeError, match=r"^cannot write .*e\.npy: Is a directory$"):
        writer.add(ok_record(), np.ones(2))


def test_tee_stores_each_item_and_yields_its_record(tmp_path):
    items = [
        SimpleNamespace(record=ok_record("a/1.png"), embedding=np.array([1.0, 0.0])),
        SimpleNamespace(record=failed("a/2.png"), embedding=None),
    ]
    with StoreWriter(tmp_path / "e.npy", 2) as writer:
        assert writer.__enter__() is writer
        assert list(writer.tee(iter(items))) == [item.record for item in items]
    store = read_store(tmp_path / "e.npy")
    assert store.records == [item.record for item in items] and store.ok.tolist() == [True, False]


class FakeScorer:
    def __init__(self, records):
        self.records = records
        self.asked = []

    def score_sources(self, sources):
        self.asked.append(("score", sources))
        return iter(self.records)

    def embed_sources(self, sources):
        self.asked.append(("embed", sources))
        return iter(
            SimpleNamespace(record=r, embedding=None if not r.ok else np.full(2, k, np.float32))
            for k, r in enumerate(self.records)
        )


def test_scored_records_without_a_store_just_score(tmp_path):
    scorer = FakeScorer([ok_record()])
    with scored_records(scorer, ["x"], None) as records:
        assert list(records) == [ok_record()]
    assert scorer.asked == [("score", ["x"])] and list(tmp_path.iterdir()) == []


def test_scored_records_with_a_store_write_it(tmp_path):
    scorer = FakeScorer([ok_record("a/1.png"), failed("a/2.png"), ok_record("a/3.png")])
    with scored_records(scorer, ["x", "y", "z"], tmp_path / "e.npy") as records:
        assert list(records) == scorer.records
    assert scorer.asked == [("embed", ["x", "y", "z"])]
    store = read_store(tmp_path / "e.npy")
    assert store.records == scorer.records
    assert same_embeddings(store.embeddings, np.array([[0, 0], [np.nan, np.nan], [2, 2]], np.float32))


# ---------------------------------------------------------------------------------------------
# the Parquet layout


def test_parquet_store_round_trips_in_path_order(tmp_path):
    """Written in any order, read back in path order with each embedding beside its record; the
    geometry of an aligned face comes back typed; the embedding column is a list of float32."""
    records = [ALIGNED, failed("a/2.png"), ok_record("a/1.png")]
    vectors = [np.ones(3), None, np.arange(3.0)]
    write(tmp_path / "e.parquet", records, vectors)
    table = pq.read_table(tmp_path / "e.parquet")
    assert table.schema.field("embedding").type == pa.list_(pa.float32())
    assert table.column("embedding").to_pylist()[1] is None
    store = read_store(tmp_path / "e.parquet")
    assert store.records == [records[2], records[1], records[0]]
    assert same_embeddings(store.embeddings, np.array([[0, 1, 2], [np.nan] * 3, [1, 1, 1]], np.float32))
    assert store.embeddings.dtype == np.float32 and not (tmp_path / "e.index.csv").exists()
    assert store.records[2].box == (35.7, 17.5, 104.7, 128.0) and store.records[2].face == 1


def test_a_parquet_folder_is_read_as_one_store(tmp_path):
    """curate --engine ray's part files: every part, in path order across parts."""
    (tmp_path / "parts").mkdir()
    write_parquet(
        tmp_path / "parts" / "1.parquet",
        [ok_record("c/1.png"), ok_record("a/1.png")],
        [np.array([3.0, 3.0]), np.array([1.0, 1.0])],
    )
    write_parquet(tmp_path / "parts" / "0.parquet", [ok_record("b/1.png")], [np.array([2.0, 2.0])])
    store = read_store(tmp_path / "parts")
    assert [r.path for r in store.records] == ["a/1.png", "b/1.png", "c/1.png"]
    assert store.embeddings.tolist() == [[1, 1], [2, 2], [3, 3]]


def test_a_parquet_store_of_failures_only_has_zero_width(tmp_path):
    write(tmp_path / "e.parquet", [failed("a/1.png"), failed("a/2.png")], [None, None])
    store = read_store(tmp_path / "e.parquet")
    assert store.embeddings.shape == (2, 0) and len(store.records) == 2


def test_a_parquet_file_without_embeddings_is_refused(tmp_path):
    pq.write_table(records_table([ok_record()]), str(tmp_path / "scores.parquet"))
    with pytest.raises(
        FqeError,
        match=r"^.*scores\.parquet has no 'embedding' column: write it with score "
        r"--embeddings-out FILE\.parquet$",
    ):
        read_store(tmp_path / "scores.parquet")


# ---------------------------------------------------------------------------------------------
# reading an npy store's index


def write_index(path, header, rows):
    with open(index_path(path), "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def test_index_cells_are_read_by_their_field_type(tmp_path):
    """Empty cells are None for numbers and '' for text; a short row's missing cells too; a box is
    four numbers; columns the index lacks take the record's defaults; numbers are typed."""
    np.save(tmp_path / "e.npy", np.zeros((3, 2), np.float32))
    write_index(
        tmp_path / "e.npy",
        COLUMNS,
        [
            ["a/1.png", "a", "1.5", "70", "aligned", "png", "", "", "0", "1 2 3 4.5", "0.75", "40"],
            ["a/2.png", "a", "", "", "", "", "no-face", "x", "", "", "", ""],
            ["a/3.png", "a", "2"],
        ],
    )
    records = read_store(tmp_path / "e.npy").records
    assert records[0] == Record(
        "a/1.png", "a", 1.5, 70, "aligned", "png", face=0, box=(1.0, 2.0, 3.0, 4.5), face_score=0.75, eye_distance=40.0
    )
    assert type(records[0].Q) is int and type(records[0].q) is float and type(records[0].face) is int
    assert records[1] == Record("a/2.png", "a", None, None, "", "", "no-face", "x")
    assert records[2] == Record("a/3.png", "a", 2.0, None)
    np.save(tmp_path / "f.npy", np.zeros((1, 2), np.float32))
    write_index(tmp_path / "f.npy", ["path", "identity", "q", "Q"], [["b.png", "", "0.5", "9"]])
    assert read_store(tmp_path / "f.npy").records == [Record("b.png", "", 0.5, 9)]


def test_an_empty_index_is_an_empty_store(tmp_path):
    np.save(tmp_path / "e.npy", np.zeros((0, 4), np.float32))
    write_index(tmp_path / "e.npy", COLUMNS, [])
    store = read_store(tmp_path / "e.npy")
    assert store.records == [] and store.embeddings.shape == (0, 4)


def test_an_index_without_the_record_columns_is_refused(tmp_path):
    np.save(tmp_path / "e.npy", np.zeros((1, 2), np.float32))
    write_index(tmp_path / "e.npy", ["path", "identity", "q"], [["a.png", "", "1"]])
    with pytest.raises(
        FqeError,
        match=r"^.*e\.index\.csv is not an index of records: its header must have "
        r"path,identity,q,Q,mode,format,error_kind,error,face,box,face_score,"
        r"eye_distance$",
    ):
        read_store(tmp_path / "e.npy")


def test_embeddings_that_do_not_fit_the_index_are_refused(tmp_path):
    np.save(tmp_path / "e.npy", np.zeros((3, 2), np.float32))
    write_index(tmp_path / "e.npy", COLUMNS, [["a.png", "", "1", "2"]] * 2)
    with pytest.raises(FqeError, match=r"^.*e\.npy has embeddings of shape \(3, 2\) for 2 index rows$"):
        read_store(tmp_path / "e.npy")
    np.save(tmp_path / "e.npy", np.zeros(2, np.float32))
    with pytest.raises(FqeError, match=r"e\.npy has embeddings of shape \(2,\) for 2 index rows$"):
        read_store(tmp_path / "e.npy")


def test_a_store_that_cannot_be_read(tmp_path):
    with pytest.raises(FqeError, match=r"^cannot read the embeddings .*e\.npy \(and e\.index\.csv\): .*No such file"):
        read_store(tmp_path / "e.npy")
    np.save(tmp_path / "e.npy", np.zeros((1, 2), np.float32))
    with pytest.raises(FqeError, match=r"^cannot read the embeddings .*e\.npy \(and e\.index\.csv\): .*e\.index\.csv"):
        read_store(tmp_path / "e.npy")
    (tmp_path / "x.npy").write_bytes(b"not numpy")
    write_index(tmp_path / "x.npy", COLUMNS, [])
    with pytest.raises(FqeError, match=r"^cannot read the embeddings .*x\.npy \(and x\.index\.csv\): "):
        read_store(tmp_path / "x.npy")


def test_an_embedding_of_any_shape_is_one_row(tmp_path):
    """A (D, 1) or (1, D) embedding is stored as its D values, in either layout."""
    records = [ok_record("a/1.png"), ok_record("a/2.png")]
    for name in ("e.npy", "e.parquet"):
        write(tmp_path / name, records, [np.arange(3.0).reshape(3, 1), np.ones((1, 3))])
        assert read_store(tmp_path / name).embeddings.tolist() == [[0, 1, 2], [1, 1, 1]], name


def test_a_zero_width_npy_is_float32_too(tmp_path):
    write(tmp_path / "e.npy", [failed("a/1.png")], [None])
    assert np.load(tmp_path / "e.npy").dtype == np.float32


def test_an_error_text_with_line_breaks_round_trips(tmp_path):
    """The index is CSV with quoted cells: a CR LF inside an error message comes back as it was."""
    record = Record("a/1.png", "a", None, None, "", "", "corrupt", "libjpeg:\r\nbad marker\nend")
    write(tmp_path / "e.npy", [record, ok_record("a/2.png")], [None, np.ones(2)])
    assert read_store(tmp_path / "e.npy").records == [record, ok_record("a/2.png")]


def test_an_index_without_q_is_refused(tmp_path):
    np.save(tmp_path / "e.npy", np.zeros((1, 2), np.float32))
    write_index(tmp_path / "e.npy", ["path", "identity", "Q"], [["a.png", "", "1"]])
    with pytest.raises(FqeError, match="is not an index of records"):
        read_store(tmp_path / "e.npy")


def test_a_float64_npy_is_read_as_float32(tmp_path):
    np.save(tmp_path / "e.npy", np.array([[0.1, 0.2]]))
    write_index(tmp_path / "e.npy", COLUMNS, [["a.png", "", "1", "2"]])
    store = read_store(tmp_path / "e.npy")
    assert store.embeddings.dtype == np.float32 and store.embeddings.tolist() == [[np.float32(0.1), np.float32(0.2)]]
