"""The Parquet reader: rows -> items, as the JSONL reader turns lines into items."""

import io
import json
import random

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.clean.readers import (MissingColumnError, RawRecord, ReaderConfig, Reject, RowGroups, check_columns,
                                     detect_format, doc_id, expand_inputs, input_pieces, iter_jsonl, read_input,
                                     read_source)
from pipelines.clean.readers import parquet as parquet_reader
from pipelines.clean.readers import records as reader_records
from tests.pipelines.clean.test_readers import summarize


def write_parquet(path, columns: dict, row_group_size: int | None = None, **kwargs) -> None:
    pq.write_table(pa.table(columns), str(path), row_group_size=row_group_size, **kwargs)


def three_row_groups(path) -> None:
    """7 rows in row groups of 3, 3 and 1, FineWeb-like columns (and one the reader never needs)."""
    write_parquet(path, {
        "text": ["first doc", None, "third doc", "  ", "fifth doc", "sixth doc", "seventh doc"],
        "url": ["http://p/1", None, None, "http://p/4", "http://p/5", "", "http://p/7"],
        "id": ["<urn:uuid:1>", None, "<urn:uuid:3>", None, None, "<urn:uuid:6>", None],
        "lang": ["en", None, " de ", None, None, "", "fr"],
        "dump": ["CC-MAIN-2024-10"] * 7,
    }, row_group_size=3)


def test_rows_of_every_row_group_are_items_numbered_across_the_file(tmp_path):
    three_row_groups(tmp_path / "fw.parquet")
    assert pq.ParquetFile(str(tmp_path / "fw.parquet")).num_row_groups == 3
    items = list(read_source(str(tmp_path / "fw.parquet"), ReaderConfig()))
    assert summarize(items) == [("record", 1, "http://p/1"), ("reject", 2, "no_text"), ("record", 3, None),
                                ("reject", 4, "no_text"), ("record", 5, "http://p/5"), ("record", 6, None),
                                ("record", 7, "http://p/7")]
    records = [i for i in items if isinstance(i, RawRecord)]
    assert [r.text for r in records] == ["first doc", "third doc", "fifth doc", "sixth doc", "seventh doc"]
    assert {r.source for r in items} == {"fw.parquet"} and not any(r.truncated for r in records)
    # the id column if the row has one, else the file's name and the row's number (from 1)
    assert [r.id for r in records] == [doc_id("<urn:uuid:1>"), doc_id("<urn:uuid:3>"), doc_id("fw.parquet\n5"),
                                       doc_id("<urn:uuid:6>"), doc_id("fw.parquet\n7")]
    assert [(i.reason, i.detail) for i in items if isinstance(i, Reject)] == [
        ("no_text", "column 'text' is null"), ("no_text", "column 'text' is empty")]


def test_only_the_needed_columns_are_read(tmp_path, monkeypatch):
    three_row_groups(tmp_path / "fw.parquet")
    names = pq.read_schema(str(tmp_path / "fw.parquet")).names
    assert parquet_reader.needed_columns(names, "fw.parquet", ReaderConfig()) == ["text", "url", "id"]
    assert parquet_reader.needed_columns(["body", "dump"], "x", ReaderConfig(text_field="body")) == ["body"]
    read = []
    real = pq.ParquetFile.iter_batches

    def spy(self, *args, **kwargs):
        read.append((tuple(kwargs["columns"]), tuple(kwargs["row_groups"]), kwargs["batch_size"]))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    assert len(list(read_source(str(tmp_path / "fw.parquet"), ReaderConfig()))) == 7
    columns = ("text", "url", "id")
    assert read == [(columns, (0,), parquet_reader.BATCH_ROWS), (columns, (1,), parquet_reader.BATCH_ROWS),
                    (columns, (2,), parquet_reader.BATCH_ROWS)]  # one row group at a time, no `lang`, no `dump`


def test_record_batches_stream_within_a_row_group(tmp_path, monkeypatch):
    monkeypatch.setattr(parquet_reader, "BATCH_ROWS", 4)
    write_parquet(tmp_path / "one.parquet", {"text": [f"row {i}" for i in range(10)]})  # one row group of 10
    share = parquet_reader.ReadShare(size=1000)
    with open(tmp_path / "one.parquet", "rb") as f:
        items = parquet_reader.iter_parquet(f, "one.parquet", ReaderConfig(), share)
        first = [next(items)]
        assert share.tell() == 400  # the first batch, 4 rows of 10, stands for 4/10 of the bytes
        first += [next(items) for _ in range(4)]
        assert share.tell() == 800
        rest = list(items)
    assert [i.position for i in first + rest] == list(range(1, 11)) and share.tell() == 1000


def test_a_large_column_chunk_is_read_through_a_buffer_not_whole(tmp_path):
    rng = random.Random(0)
    texts = [rng.randbytes(1500).hex() for _ in range(2000)]  # one row group, a 6 MB text chunk of 48 kB pages
    write_parquet(tmp_path / "big.parquet", {"text": texts}, compression="none", write_batch_size=16,
                  data_page_size=1 << 15)
    chunk = pq.ParquetFile(str(tmp_path / "big.parquet")).metadata.row_group(0).column(0)
    assert chunk.total_compressed_size > 4 * parquet_reader.STREAM_BUFFER

    class Reads(io.FileIO):
        sizes: list = []

        def read(self, size=-1):
            data = super().read(size)
            self.sizes.append(len(data))
            return data

    with Reads(str(tmp_path / "big.parquet")) as f:
        items = list(parquet_reader.iter_parquet(f, "big.parquet", ReaderConfig()))
    assert [i.text for i in items] == texts
    # read a buffer (and a page) at a time: pyarrow's default pre_buffer reads the 6 MB chunk in one read
    assert sum(Reads.sizes) >= chunk.total_compressed_size and max(Reads.sizes) < 2 * parquet_reader.STREAM_BUFFER


def test_non_string_text_is_a_reject_and_binary_text_is_decoded(tmp_path):
    write_parquet(tmp_path / "ints.parquet", {"text": pa.array([1, None], pa.int64())})
    assert [(i.reason, i.detail) for i in read_source(str(tmp_path / "ints.parquet"), ReaderConfig())] == [
        ("no_text", "column 'text' is of Python type int, not a string"), ("no_text", "column 'text' is null")]
    write_parquet(tmp_path / "bin.parquet", {"text": pa.array(["Grüße aus Köln".encode(), b"bad \xff byte"],
                                                              pa.binary())})
    ok, bad = read_source(str(tmp_path / "bin.parquet"), ReaderConfig())
    assert ok.text == "Grüße aus Köln" and (bad.position, bad.reason) == (2, "invalid_utf8")


def test_integer_ids_and_other_fields(tmp_path):
    write_parquet(tmp_path / "c.parquet", {"body": ["a b", "c d", "e f"], "link": ["http://l/", None, ""],
                                           "num": pa.array([7, None, 9], pa.int64())})
    items = list(read_source(str(tmp_path / "c.parquet"),
                             ReaderConfig(text_field="body", url_field="link", id_field="num")))
    assert [(i.text, i.url, i.id) for i in items] == [("a b", "http://l/", doc_id("7")),
                                                      ("c d", None, doc_id("c.parquet\n2")),
                                                      ("e f", None, doc_id("9"))]
    write_parquet(tmp_path / "b.parquet", {"text": ["x"], "id": pa.array([True])})
    assert next(read_source(str(tmp_path / "b.parquet"), ReaderConfig())).id == doc_id("b.parquet\n1")


def test_timestamp_columns_of_every_kind(tmp_path):
    """C4's string `timestamp`, a Parquet timestamp (with and without a zone), a date, epoch seconds;
    an unparseable value leaves the time null and flags the record (counted, not dropped)."""
    import datetime as dt

    when = dt.datetime(2019, 4, 25, 10, 0, 0)
    columns = {
        "string": pa.array(["2019-04-25T10:00:00Z", "garbage", None]),
        "ts_utc": pa.array([when, None, when], pa.timestamp("ms", tz="UTC")),
        "ts_naive": pa.array([when, when, None], pa.timestamp("s")),
        "day": pa.array([when.date(), None, when.date()], pa.date32()),
        "epoch": pa.array([1556186400, -1, None], pa.int64()),
    }
    write_parquet(tmp_path / "t.parquet", {"text": ["a", "b", "c"], **columns})
    seen = {}
    for name in columns:
        items = list(read_source(str(tmp_path / "t.parquet"), ReaderConfig(timestamp_field=name)))
        seen[name] = [(i.timestamp, i.bad_timestamp) for i in items]
    ok, none, bad = (1556186400, False), (None, False), (None, True)
    assert seen == {"string": [ok, bad, none], "ts_utc": [ok, none, ok], "ts_naive": [ok, ok, none],
                    "day": [(1556150400, False), none, (1556150400, False)], "epoch": [ok, (-1, False), none]}
    # the default column is optional; one named by the flag must exist
    assert next(read_source(str(tmp_path / "t.parquet"), ReaderConfig())).timestamp is None
    with pytest.raises(MissingColumnError, match=r"no column 'date' for --timestamp-field"):
        check_columns([str(tmp_path / "t.parquet")], ReaderConfig(timestamp_field="date"))


def test_a_missing_column_is_one_error_naming_the_file_the_column_and_its_columns(tmp_path):
    write_parquet(tmp_path / "c4.parquet", {"content": ["x"], "url": ["http://u/"], "timestamp": ["2019"]})
    message = r"c4\.parquet has no column 'text' for --text-field \(its columns: content, url, timestamp\); " \
              r"pass --text-field COLUMN$"
    with pytest.raises(MissingColumnError, match=message):
        list(read_source(str(tmp_path / "c4.parquet"), ReaderConfig()))
    with pytest.raises(MissingColumnError, match=str(tmp_path / "c4.parquet").replace(".", r"\.") + " has no column"):
        check_columns([str(tmp_path / "c4.parquet")], ReaderConfig())
    # the default url and id columns are optional (C4 has no id); ones named by a flag are not
    check_columns([str(tmp_path / "c4.parquet")], ReaderConfig(text_field="content"))
    with pytest.raises(MissingColumnError, match=r"no column 'doc_id' for --id-field"):
        check_columns([str(tmp_path / "c4.parquet")], ReaderConfig(text_field="content", id_field="doc_id"))
    with pytest.raises(MissingColumnError, match=r"no column 'link' for --url-field"):
        check_columns([str(tmp_path / "c4.parquet")], ReaderConfig(text_field="content", url_field="link"))


def corrupt_second_row_group(path) -> bytes:
    """Bytes of a file of 3 row groups of 3 rows whose second row group's text chunk is damaged."""
    write_parquet(path, {"text": [f"row {i} " + "word " * 40 + str(i) for i in range(9)]}, row_group_size=3,
                  compression="zstd", use_dictionary=False)
    data = bytearray(path.read_bytes())
    chunk = pq.ParquetFile(str(path)).metadata.row_group(1).column(0)
    start = chunk.data_page_offset
    for i in range(start + 20, start + chunk.total_compressed_size - 4):
        data[i] ^= 0xFF
    return bytes(data)


def test_a_damaged_row_group_is_one_reject_and_reading_goes_on(tmp_path):
    (tmp_path / "bad.parquet").write_bytes(corrupt_second_row_group(tmp_path / "good.parquet"))
    items = list(read_source(str(tmp_path / "bad.parquet"), ReaderConfig()))
    assert summarize(items) == [("record", 1, None), ("record", 2, None), ("record", 3, None),
                                ("reject", 4, "corrupt_row_group"),
                                ("record", 7, None), ("record", 8, None), ("record", 9, None)]
    assert items[3].detail.startswith("skipped 3 of the 3 rows of row group 1; ")
    assert items[3].detail.isascii() and items[3].detail.isprintable()
    good = list(read_source(str(tmp_path / "good.parquet"), ReaderConfig()))
    assert [(i.position, i.text) for i in items if isinstance(i, RawRecord)] == [
        (good[i].position, good[i].text) for i in (0, 1, 2, 6, 7, 8)]


def test_unreadable_and_empty_files_are_one_reject_each(tmp_path):
    write_parquet(tmp_path / "whole.parquet", {"text": ["a b c"] * 5})
    (tmp_path / "cut.parquet").write_bytes((tmp_path / "whole.parquet").read_bytes()[:-30])
    (tmp_path / "junk.parquet").write_bytes(b"this is not parquet\n" * 5)
    (tmp_path / "zero.parquet").write_bytes(b"")
    write_parquet(tmp_path / "norows.parquet", {"text": pa.array([], pa.string())})
    for name, expected in (("cut", "unreadable"), ("junk", "unreadable"), ("zero", "empty_file"),
                           ("norows", "empty_file")):
        items = list(read_source(str(tmp_path / f"{name}.parquet"), ReaderConfig()))
        assert summarize(items) == [("reject", 0, expected)], name
    cut = next(read_source(str(tmp_path / "cut.parquet"), ReaderConfig()))
    assert cut.detail.startswith("ArrowInvalid: ") and "magic bytes" in cut.detail
    # a file whose footer cannot be read passes the column check, and is one piece: its reader rejects it
    check_columns([str(tmp_path / "junk.parquet"), str(tmp_path / "zero.parquet")], ReaderConfig())
    assert input_pieces((str(tmp_path / "junk.parquet"), 100, "junk.parquet"), ReaderConfig()) == [
        (str(tmp_path / "junk.parquet"), 100, "junk.parquet", None)]


def test_texts_are_capped_as_in_jsonl(tmp_path, monkeypatch):
    monkeypatch.setattr(reader_records, "MAX_TEXT_BYTES", 64)
    long_text = "caf\u00e9 " * 20  # 120 bytes; the cut at 64 falls inside an e-acute
    write_parquet(tmp_path / "big.parquet", {"text": [long_text, "short"]})
    big, small = read_source(str(tmp_path / "big.parquet"), ReaderConfig())
    assert big.truncated and len(big.text.encode()) == 63 and long_text.startswith(big.text)
    assert not small.truncated
    write_parquet(tmp_path / "bigbin.parquet", {"text": pa.array([long_text.encode()], pa.binary())})
    (binary,) = read_source(str(tmp_path / "bigbin.parquet"), ReaderConfig())
    assert (binary.text, binary.truncated) == (big.text, True)


def test_the_same_rows_as_jsonl_give_the_same_records_but_for_the_source(tmp_path):
    """(A JSONL record's `lang` field is not compared: the job identifies languages itself.)"""
    rows = [{"text": "first doc", "url": "http://j/1", "id": "a1", "lang": "de"}, {"text": None, "url": None},
            {"text": "no own id", "url": "http://j/3", "id": None, "lang": None},
            {"text": "", "url": None, "id": 4, "lang": None}]
    lines = [json.dumps({k: v for k, v in row.items() if v is not None}).encode() + b"\n" for row in rows]
    from_jsonl = list(iter_jsonl(lines, "news.jsonl", ReaderConfig()))
    write_parquet(tmp_path / "news.parquet", {key: [row.get(key) for row in rows] for key in ("text", "url", "lang")}
                  | {"id": pa.array(["a1", None, None, "4"])})
    from_parquet = list(read_source(str(tmp_path / "news.parquet"), ReaderConfig()))

    def fields(item):
        kept = ("position", "key", "url", "text", "truncated") if isinstance(item, RawRecord) \
            else ("position", "reason")
        return type(item).__name__, {k: getattr(item, k) for k in kept}

    assert [fields(i) for i in from_parquet] == [fields(i) for i in from_jsonl]
    assert [summarize([i])[0][2] if isinstance(i, Reject) else i.key for i in from_parquet] == [
        "a1", "no_text", None, "no_text"]
    # ids differ only where they come from the file's name: a row without its own id
    assert from_parquet[0].id == from_jsonl[0].id and from_parquet[2].id != from_jsonl[2].id


def test_parquet_is_detected_by_name_and_read_from_any_fsspec_url(tmp_path):
    assert detect_format("s3://b/fineweb/000_00000.parquet") == "parquet"
    write_parquet(tmp_path / "docs.bin", {"text": ["from a file named otherwise"]})
    (item,) = read_source(str(tmp_path / "docs.bin"), ReaderConfig(format="parquet"))
    assert item.text == "from a file named otherwise"
    fs = fsspec.filesystem("memory")
    buffer = io.BytesIO()
    pq.write_table(pa.table({"text": ["in memory"], "id": ["m1"]}), buffer)
    fs.pipe("/parquet-test/sub/m.parquet", buffer.getvalue())
    try:
        (found,) = expand_inputs(["memory://parquet-test/*/*.parquet"])
        (item,) = read_input(found, ReaderConfig())
        assert (found.name, item.source, item.text, item.id) == ("sub/m.parquet", "sub/m.parquet", "in memory",
                                                                 doc_id("m1"))
    finally:
        fs.rm("/parquet-test", recursive=True)


def test_large_files_are_split_into_pieces_of_whole_row_groups(tmp_path):
    write_parquet(tmp_path / "rg.parquet", {"text": [f"row {i} " + "word " * (10 + i) for i in range(10)]},
                  row_group_size=3)  # row groups of 3, 3, 3 and 1 rows
    metadata = pq.read_metadata(str(tmp_path / "rg.parquet"))
    sizes = [metadata.row_group(g).total_byte_size for g in range(4)]
    assert parquet_reader.split_row_groups(metadata) == (None,)  # a small file is one piece
    assert parquet_reader.split_row_groups(metadata, piece_bytes=1) == (
        RowGroups(0, 1, 0, False), RowGroups(1, 2, 3, False), RowGroups(2, 3, 6, False), RowGroups(3, 4, 9, True))
    assert parquet_reader.split_row_groups(metadata, piece_bytes=sizes[0] + sizes[1] + 1) == (
        RowGroups(0, 3, 0, False), RowGroups(3, 4, 9, True))
    whole = list(read_source(str(tmp_path / "rg.parquet"), ReaderConfig()))
    pieces = parquet_reader.split_row_groups(metadata, piece_bytes=1)
    size = (tmp_path / "rg.parquet").stat().st_size
    shares, items = [], []
    for piece in pieces:
        share = parquet_reader.ReadShare(size)
        with open(tmp_path / "rg.parquet", "rb") as f:
            items += parquet_reader.iter_parquet(f, "rg.parquet", ReaderConfig(), share, piece)
        shares.append(share.seek(0, 2))
    assert items == whole and [i.position for i in items] == list(range(1, 11))  # numbered in the whole file
    assert sum(shares) == size and shares == [size * 3 // 10, size * 6 // 10 - size * 3 // 10,
                                              size * 9 // 10 - size * 6 // 10, size - size * 9 // 10]


def test_trailing_empty_row_groups_join_the_last_piece(tmp_path):
    with pq.ParquetWriter(str(tmp_path / "tail.parquet"), pa.schema([("text", pa.string())])) as writer:
        for texts in (["a b"], ["c d"], []):
            writer.write_table(pa.table({"text": pa.array(texts, pa.string())}))
    metadata = pq.read_metadata(str(tmp_path / "tail.parquet"))
    assert [metadata.row_group(g).num_rows for g in range(metadata.num_row_groups)] == [1, 1, 0]
    assert parquet_reader.split_row_groups(metadata, piece_bytes=1) == (RowGroups(0, 1, 0, False),
                                                                        RowGroups(1, 3, 1, True))
    assert parquet_reader.parquet_pieces(str(tmp_path / "tail.parquet")) == (None,)
