import datetime as dt
import gzip
import hashlib
import io
import json
from collections import Counter

import fsspec
import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipelines.clean.readers import (
    Drop, RawRecord, ReaderConfig, Reject, detect_format, doc_id, expand_inputs, iter_jsonl, iter_text,
    parse_timestamp, parse_warc_date, position_key, read_input, read_source)
from pipelines.clean.readers import records as reader_records
from pipelines.clean.filters import clean_record, configure
from tests.conftest import shared_data

CAFE_1252 = "<html><body><p>Caf\u00e9 cr\u00e8me, na\u00efve r\u00e9sum\u00e9 \u2013 \u20ac5 only today</p></body></html>"


def html_page(title: str, body: str) -> bytes:
    return f"<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>".encode()


def write_warc(path, records: list[dict], gzip_records: bool = True) -> None:
    """Write records {type, url, payload, status, content_type} with fixed ids and dates."""
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=gzip_records)
        for i, rec in enumerate(records):
            http = None
            if rec["type"] == "response":
                headers = [("Content-Type", rec["content_type"])] if rec.get("content_type") else []
                http = StatusAndHeaders(rec.get("status", "200 OK"), headers, protocol="HTTP/1.1")
            elif rec["type"] == "request":
                http = StatusAndHeaders("GET / HTTP/1.1", [("Host", "example.org")], is_http_request=True)
            warc_headers = {"WARC-Record-ID": f"<urn:uuid:00000000-0000-0000-0000-{i:012d}>",
                            "WARC-Date": rec.get("date", "2024-05-01T12:00:00Z")}
            record = writer.create_warc_record(rec["url"], rec["type"], payload=io.BytesIO(rec.get("payload", b"")),
                                               warc_headers_dict=warc_headers, http_headers=http)
            writer.write_record(record)


def mixed_warc_records() -> list[dict]:
    return [
        {"type": "request", "url": "http://a.example/"},
        {"type": "response", "url": "http://a.example/", "content_type": "text/html; charset=utf-8",
         "payload": html_page("A", "<p>The first page has enough words to be kept by the filters.</p>")},
        {"type": "response", "url": "http://a.example/logo.png", "content_type": "image/png",
         "payload": b"\x89PNG\r\n\x1a\n0000"},
        {"type": "response", "url": "http://a.example/cafe", "content_type": "text/html; charset=windows-1252",
         "payload": CAFE_1252.encode("cp1252")},
        {"type": "response", "url": "http://a.example/missing", "status": "404 Not Found",
         "content_type": "text/html", "payload": html_page("404", "<p>gone</p>")},
        {"type": "response", "url": "http://a.example/sniffed", "payload": html_page("S", "<p>No header here.</p>")},
        {"type": "metadata", "url": "http://a.example/", "payload": b"via: test\r\n"},
    ]


def summarize(items) -> list[tuple]:
    out = []
    for item in items:
        if isinstance(item, RawRecord):
            out.append(("record", item.position, item.url))
        elif isinstance(item, Drop):
            out.append(("drop", item.position, item.reason))
        else:
            out.append(("reject", item.position, item.reason))
    return out


def test_doc_id_is_sha256_of_the_record_key():
    assert doc_id("<urn:uuid:1>") == hashlib.sha256(b"<urn:uuid:1>").hexdigest()[:16]
    assert doc_id(position_key("x.warc.gz", 1219)) == hashlib.sha256(b"x.warc.gz\n1219").hexdigest()[:16]


def test_ids_come_from_warc_record_ids_jsonl_ids_or_name_and_position(tmp_path):
    """Nothing of where a file sits goes into its documents: the same file in two folders (or
    read by a glob, a folder or its own path) gives the same items."""
    for folder in ("a", "b/deeper"):
        (tmp_path / folder).mkdir(parents=True)
        write_warc(tmp_path / folder / "crawl.warc.gz", mixed_warc_records()[:2])
        (tmp_path / folder / "docs.jsonl").write_text('{"text": "own id", "id": "doc-7"}\n{"text": "int id", "id": 7}\n'
                                                      '{"text": "no id"}\n{"text": "bool id", "id": true}\n')
    first = [list(read_input(f, ReaderConfig())) for f in expand_inputs([str(tmp_path / "a")])]
    second = [list(read_input(f, ReaderConfig())) for f in expand_inputs([str(tmp_path / "b" / "deeper" / "*")])]
    alone = list(read_source(str(tmp_path / "b" / "deeper" / "docs.jsonl"), ReaderConfig()))
    assert first == second and first[1] == alone
    warc, jsonl = first
    assert warc[1].source == "crawl.warc.gz" and warc[1].id == doc_id("<urn:uuid:00000000-0000-0000-0000-000000000001>")
    assert [r.id for r in jsonl] == [doc_id("doc-7"), doc_id("7"), doc_id("docs.jsonl\n3"), doc_id("docs.jsonl\n4")]
    other_field = list(read_source(str(tmp_path / "a" / "docs.jsonl"), ReaderConfig(id_field="nope")))
    assert other_field[0].id == doc_id("docs.jsonl\n1")


def test_arc_records_are_keyed_by_position_not_by_warcio_random_ids():
    path = str(shared_data("warc", "example.arc.gz"))
    first, second = list(read_source(path, ReaderConfig())), list(read_source(path, ReaderConfig()))
    records = [r for r in first if isinstance(r, RawRecord)]
    assert records and all(r.key is None for r in records)
    assert [r.id for r in records] == [r.id for r in second if isinstance(r, RawRecord)]


def corrupt_members(path) -> tuple[bytes, list[int]]:
    data = path.read_bytes()
    return data, [i for i in range(len(data)) if data[i:i + 3] == b"\x1f\x8b\x08"]


@pytest.mark.parametrize("damage", ["flipped", "header", "cut", "garbage"])
def test_corrupt_gzip_member_is_skipped_and_reading_resumes(tmp_path, damage):
    records = [{"type": "response", "url": f"http://a.example/{i}", "content_type": "text/html",
                "payload": html_page("t", f"<p>page {i} " + "word " * 50 + "</p>")} for i in range(5)]
    write_warc(tmp_path / "five.warc.gz", records)
    data, starts = corrupt_members(tmp_path / "five.warc.gz")
    assert len(starts) == 5
    s2, s3 = starts[2], starts[3]
    bad = {"flipped": data[:s2 + 40] + bytes(b ^ 0xFF for b in data[s2 + 40:s2 + 90]) + data[s2 + 90:],
           "header": data[:s2] + b"XXXX" + data[s2 + 4:],
           "cut": data[:s2 + 100] + data[s3:],
           "garbage": data[:s2] + b"\x00\xff\xfe junk" * 10 + data[s2:]}[damage]
    (tmp_path / "bad.warc.gz").write_bytes(bad)
    items = list(read_source(str(tmp_path / "bad.warc.gz"), ReaderConfig()))
    kept = [i.url for i in items if isinstance(i, RawRecord)]
    expected = [f"http://a.example/{i}" for i in range(5) if not (i == 2 and damage != "garbage")]
    assert kept == expected
    rejects = [i for i in items if isinstance(i, Reject)]
    assert [(r.position, r.reason) for r in rejects] == [(s2, "corrupt_gzip")]
    skipped = {"cut": 100, "garbage": 80}.get(damage, s3 - s2)
    assert rejects[0].detail.startswith(f"skipped {skipped} bytes to the next intact gzip member at byte {s2 + skipped}; ")
    assert rejects[0].detail.isascii() and rejects[0].detail.isprintable()
    assert [i.id for i in items if isinstance(i, RawRecord)] == [
        i.id for i in read_source(str(tmp_path / "five.warc.gz"), ReaderConfig())
        if isinstance(i, RawRecord) and i.url in expected]


def test_text_documents_are_capped_and_say_so(tmp_path, monkeypatch):
    monkeypatch.setattr(reader_records, "MAX_TEXT_BYTES", 64)  # what every format reads at call time
    long_text = "caf\u00e9 " * 20  # 120 bytes; the cut at 64 falls inside an e-acute
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps({"text": long_text}) + "\n" + json.dumps({"text": "short"}) + "\n")
    big, small = read_source(str(path), ReaderConfig())
    assert big.truncated and len(big.text.encode()) <= 64 and long_text.startswith(big.text)
    assert len(big.text.encode()) == 63 and not small.truncated
    (tmp_path / "big.txt").write_text((long_text + "\n") * 3 + "\nnext block\n")
    block, after = read_source(str(tmp_path / "big.txt"), ReaderConfig())
    assert block.truncated and len(block.text.encode()) <= 64 and (after.text, after.truncated) == ("next block\n", False)
    counted = {}
    clean_record(big, configure("basic"), lambda name, n=1: counted.__setitem__(name, counted.get(name, 0) + n))
    assert counted.get("text/truncated") == 1


@pytest.mark.parametrize("name,fmt", [
    ("x.warc.gz", "warc"), ("x.warc", "warc"), ("CC-MAIN-1.warc.wet.gz", "wet"), ("x.wet", "wet"),
    ("x.arc.gz", "warc"), ("x.jsonl", "jsonl"), ("s3://b/x.json.gz", "jsonl"), ("x.jsonl.gz", "jsonl"),
    ("x.txt", "text"), ("x.txt.gz", "text")])
def test_detect_format(name, fmt):
    assert detect_format(name) == fmt


def test_unknown_extension_names_the_file_and_the_flag():
    with pytest.raises(ValueError, match=r"data\.csv.*--format"):
        detect_format("/tmp/data.csv")


def test_generated_warc_records_and_reasons(tmp_path):
    path = tmp_path / "mixed.warc.gz"
    write_warc(path, mixed_warc_records())
    items = list(read_source(str(path), ReaderConfig()))
    kinds = [s[0] + ":" + (s[2] if s[0] != "record" else "") for s in summarize(items)]
    assert kinds == ["drop:warc_type_request", "record:", "drop:not_html", "record:",
                     "drop:http_status_404", "record:", "drop:warc_type_metadata"]
    records = [i for i in items if isinstance(i, RawRecord)]
    assert [r.url for r in records] == ["http://a.example/", "http://a.example/cafe", "http://a.example/sniffed"]
    assert [r.charset for r in records] == ["utf-8", "cp1252", None]
    assert records[1].html == CAFE_1252.encode("cp1252")
    assert {r.timestamp for r in records} == {1714564800}
    assert records[0].position > 0 and all(a.position < b.position for a, b in zip(items, items[1:]))
    assert {r.source for r in items} == {"mixed.warc.gz"}


def test_uncompressed_warc_reads_the_same(tmp_path):
    write_warc(tmp_path / "a.warc.gz", mixed_warc_records())
    write_warc(tmp_path / "b.warc", mixed_warc_records(), gzip_records=False)
    gz = [(s[0], s[2]) for s in summarize(read_source(str(tmp_path / "a.warc.gz"), ReaderConfig()))]
    plain = [(s[0], s[2]) for s in summarize(read_source(str(tmp_path / "b.warc"), ReaderConfig()))]
    assert gz == plain


def test_truncated_warc_gz_keeps_records_before_the_damage(tmp_path):
    whole = tmp_path / "whole.warc.gz"
    write_warc(whole, mixed_warc_records())
    data = whole.read_bytes()
    full = list(read_source(str(whole), ReaderConfig()))
    cut_at = full[3].position + 40  # inside the gzip member of the windows-1252 page
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(data[:cut_at])
    items = list(read_source(str(cut), ReaderConfig()))
    assert summarize(items[:3]) == summarize(full[:3])
    assert len(items) == 4
    assert isinstance(items[3], Reject) and items[3].reason == "truncated_gzip"
    assert items[3].position == full[3].position and items[3].source == "cut.warc.gz"


def test_binary_junk_and_empty_files_are_one_reject_each(tmp_path):
    junk = tmp_path / "junk.warc.gz"
    junk.write_bytes(bytes(range(256)) * 8)
    text_junk = tmp_path / "junk.warc"
    text_junk.write_bytes(b"hello world this is not a warc\n" * 3)
    empty = tmp_path / "empty.warc.gz"
    empty.write_bytes(b"")
    assert summarize(read_source(str(junk), ReaderConfig())) == [("reject", 0, "unreadable")]
    assert summarize(read_source(str(text_junk), ReaderConfig())) == [("reject", 0, "unreadable")]
    assert summarize(read_source(str(empty), ReaderConfig())) == [("reject", 0, "empty_file")]


def test_wet_keeps_conversion_records(tmp_path):
    path = tmp_path / "x.warc.wet.gz"
    write_warc(path, [{"type": "warcinfo", "url": None, "payload": b"software: test\r\n"},
                      {"type": "conversion", "url": "http://w.example/", "payload": "Grüße aus Köln\n".encode()},
                      {"type": "conversion", "url": "http://w.example/bad", "payload": b"\xff\xfe bad"}])
    items = list(read_source(str(path), ReaderConfig()))
    assert [s[0] for s in summarize(items)] == ["drop", "record", "reject"]
    assert items[0].reason == "warc_type_warcinfo" and items[2].reason == "invalid_utf8"
    assert items[1].text == "Grüße aus Köln\n" and items[1].url == "http://w.example/"


def test_real_chunked_warc(tmp_path):
    items = list(read_source(str(shared_data("warc", "example-iana.org-chunked.warc")), ReaderConfig()))
    assert summarize(items) == [("drop", 0, "warc_type_warcinfo"), ("record", 405, "http://www.iana.org/"),
                                ("drop", 8379, "warc_type_request")]
    page = items[1]
    assert page.html.startswith(b"<!doctype html>") and page.html.rstrip().endswith(b"</html>")
    assert page.charset == "utf-8" and page.timestamp == 1488819249


def test_real_crawls_count_every_record():
    def reasons(*name):
        return Counter(s[2] if s[0] != "record" else "record"
                       for s in summarize(read_source(str(shared_data("warc", *name)), ReaderConfig())))

    assert reasons("cc-main-2025-33-sample.warc.gz") == {"record": 2, "http_status_301": 1}
    assert reasons("example.warc.gz") == {"warc_type_warcinfo": 1, "record": 1, "warc_type_request": 2,
                                          "warc_type_revisit": 1, "http_status_302": 1}
    assert reasons("example-wget-1-14.warc.gz") == {"warc_type_warcinfo": 1, "warc_type_request": 1,
                                                    "record": 1, "warc_type_resource": 3}
    assert reasons("dupes.warc.gz") == {"warc_type_warcinfo": 1, "record": 1, "warc_type_request": 12,
                                        "http_status_302": 1, "not_html": 1, "warc_type_revisit": 9}
    assert reasons("example.arc.gz") == {"warc_type_warcinfo": 1, "record": 1}


def test_jsonl_rejects_bad_lines_and_continues():
    lines = [b'{"text": "first doc", "url": "http://j/1", "lang": "de"}\n', b"\n",
             b'{"text": "bad \xff byte"}\n', b'{"text": "unterminated\n', b'{"body": "no text field"}\n',
             b'{"text": "   "}\n', b"[1, 2]\n", b'{"text": "last", "url": 7}\n']
    items = list(iter_jsonl(lines, "mem.jsonl", ReaderConfig()))
    assert summarize(items) == [("record", 1, "http://j/1"), ("reject", 3, "invalid_utf8"),
                                ("reject", 4, "invalid_json"), ("reject", 5, "no_text"), ("reject", 6, "no_text"),
                                ("reject", 7, "invalid_json"), ("record", 8, None)]
    assert items[0].lang == "de" and items[0].text == "first doc" and items[-1].lang is None


def test_jsonl_byte_order_mark_is_not_an_error():
    items = list(iter_jsonl([b'\xef\xbb\xbf{"text": "first"}\n', b'{"text": "second"}\n'], "bom.jsonl", ReaderConfig()))
    assert summarize(items) == [("record", 1, None), ("record", 2, None)]
    assert items[0].text == "first"


def test_jsonl_custom_fields():
    items = list(iter_jsonl([b'{"body": "x y", "link": "http://l/"}\n'], "m.jsonl",
                            ReaderConfig(text_field="body", url_field="link")))
    assert items[0].text == "x y" and items[0].url == "http://l/"


def test_truncated_jsonl_gz(tmp_path):
    data = gzip.compress(b"".join(b'{"text": "document number %d"}\n' % i for i in range(2000)))
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    items = list(read_source(str(path), ReaderConfig()))
    assert all(isinstance(i, RawRecord) for i in items[:-1]) and len(items) > 100
    assert items[-1].reason == "truncated_gzip" and items[-1].position == len(items)


def test_text_blocks_are_documents():
    lines = [b"First paragraph line one\n", b"line two\n", b"\n", b"  \n", b"Second doc\n", b"\n",
             b"bad \xff\n", b"Third\n"]
    items = list(iter_text(lines, "t.txt"))
    assert summarize(items) == [("record", 1, None), ("record", 5, None), ("reject", 7, "invalid_utf8")]
    assert items[0].text == "First paragraph line one\nline two\n"


@pytest.mark.parametrize("value, expected", [
    (None, (None, False)),                                   # absent: no time, nothing wrong
    ("2014-01-03T03:03:21Z", (1388718201, False)),           # FineWeb's `date`, a WARC-Date
    ("2014-01-03T04:03:21+01:00", (1388718201, False)),      # an offset
    ("2014-01-03 03:03:21", (1388718201, False)),            # CC-News' date_publish: no zone is UTC
    ("2014-01-03", (1388707200, False)),                     # a date alone: its midnight
    (1388718201, (1388718201, False)), (1388718201.9, (1388718201, False)),
    (dt.datetime(2014, 1, 3, 3, 3, 21), (1388718201, False)),
    (dt.datetime(2014, 1, 3, 4, 3, 21, tzinfo=dt.timezone(dt.timedelta(hours=1))), (1388718201, False)),
    (dt.date(2014, 1, 3), (1388707200, False)),
    ("yesterday", (None, True)), ("", (None, True)), (True, (None, True)), ([2014], (None, True)),
    (1388718201000, (None, True)),                           # milliseconds: past year 9999, not a guess
    (float("nan"), (None, True)),
])
def test_parse_timestamp(value, expected):
    assert parse_timestamp(value) == expected


def test_jsonl_timestamps_are_read_and_bad_ones_kept_and_flagged():
    lines = [b'{"text": "a", "timestamp": "2019-04-25T10:00:00Z"}\n', b'{"text": "b"}\n',
             b'{"text": "c", "timestamp": "not a date"}\n', b'{"text": "d", "date": 1556186400}\n']
    items = list(iter_jsonl(lines, "t.jsonl", ReaderConfig()))
    assert [(i.text, i.timestamp, i.bad_timestamp) for i in items] == [
        ("a", 1556186400, False), ("b", None, False), ("c", None, True), ("d", None, False)]
    items = list(iter_jsonl(lines, "t.jsonl", ReaderConfig(timestamp_field="date")))
    assert [i.timestamp for i in items] == [None, None, None, 1556186400]


def test_parse_warc_date():
    assert parse_warc_date("2014-01-03T03:03:21Z") == 1388718201
    assert parse_warc_date("2014-01-03T03:03:21.123Z") == 1388718201
    assert parse_warc_date("yesterday") is None and parse_warc_date(None) is None


def test_expand_inputs(tmp_path):
    for name in ("b.jsonl", "a.jsonl", ".hidden", "_SUCCESS"):
        (tmp_path / name).write_text("{}\n")
    files = expand_inputs([str(tmp_path / "*.jsonl"), str(tmp_path / "a.jsonl")])
    assert files == [(str(tmp_path / "a.jsonl"), 3, "a.jsonl"), (str(tmp_path / "b.jsonl"), 3, "b.jsonl")]
    assert [u for u, _, _ in expand_inputs([str(tmp_path)])] == [str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl")]
    assert [u for u, _, _ in expand_inputs([f"file://{tmp_path}/a.*"])] == [f"file://{tmp_path}/a.jsonl"]


def test_input_names_are_relative_to_their_input_and_must_differ(tmp_path):
    for name in ("en/x.jsonl", "de/x.jsonl", "de/y.jsonl"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("{}\n")
    assert [f.name for f in expand_inputs([str(tmp_path)])] == ["de/x.jsonl", "de/y.jsonl", "en/x.jsonl"]
    assert [f.name for f in expand_inputs([str(tmp_path / "*" / "x.jsonl")])] == ["de/x.jsonl", "en/x.jsonl"]
    assert [f.name for f in expand_inputs([str(tmp_path / "de" / "y.jsonl")])] == ["y.jsonl"]
    with pytest.raises(ValueError, match=r"have the same name 'x.jsonl' relative to their --input"):
        expand_inputs([str(tmp_path / "en"), str(tmp_path / "de")])


def test_symlinked_inputs_are_listed(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "a.jsonl").write_text("{}\n")
    (tmp_path / "links").mkdir()
    (tmp_path / "links" / "a.jsonl").symlink_to(tmp_path / "real" / "a.jsonl")
    (tmp_path / "links" / "dangling.jsonl").symlink_to(tmp_path / "real" / "gone.jsonl")
    assert [u for u, _, _ in expand_inputs([str(tmp_path / "links" / "*.jsonl")])] == [str(tmp_path / "links" / "a.jsonl")]


def test_missing_inputs_fail_with_one_line(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.warc.gz does not exist") as err:
        expand_inputs([str(tmp_path / "nope.warc.gz")])
    assert "\n" not in str(err.value)
    with pytest.raises(FileNotFoundError, match=r"\*\.wet\.gz matches no files"):
        expand_inputs([str(tmp_path / "*.wet.gz")])


def test_inputs_are_canonical_urls():
    fs = fsspec.filesystem("memory")
    fs.pipe("/readers-test/a.jsonl", b'{"text": "x"}\n')
    files = expand_inputs(["memory://readers-test/*.jsonl", "memory://readers-test/a.jsonl", "memory://readers-test"])
    assert files == [("memory:///readers-test/a.jsonl", 14, "a.jsonl")]
    fs.rm("/readers-test", recursive=True)


def test_format_flag_overrides_the_extension(tmp_path):
    path = tmp_path / "corpus.log"
    path.write_text("one block\n\nanother block\n")
    items = list(read_source(str(path), ReaderConfig(format="text")))
    assert [(i.position, i.text) for i in items] == [(1, "one block\n"), (3, "another block\n")]
    with pytest.raises(ValueError, match="cannot tell the format of .*corpus.log"):
        list(read_source(str(path), ReaderConfig()))
    with pytest.raises(ValueError, match="unknown --format 'csv'"):
        list(read_source(str(path), ReaderConfig(format="csv")))


def test_whole_file_gzip_bad_status_and_missing_type(tmp_path):
    plain = tmp_path / "plain.warc"
    write_warc(plain, mixed_warc_records(), gzip_records=False)
    (tmp_path / "whole.warc.gz").write_bytes(gzip.compress(plain.read_bytes()))  # `gzip -c`, not per record
    per_record = summarize(read_source(str(plain), ReaderConfig()))
    assert summarize(read_source(str(tmp_path / "whole.warc.gz"), ReaderConfig())) == per_record
    data = plain.read_bytes()
    broken = data.replace(b"HTTP/1.1 200 OK", b"that is not http", 1).replace(b"WARC-Type: request\r\n", b"", 1)
    (tmp_path / "odd.warc").write_bytes(broken)
    reasons = [s[2] for s in summarize(read_source(str(tmp_path / "odd.warc"), ReaderConfig())) if s[0] != "record"]
    assert reasons[:2] == ["warc_type_missing", "bad_http_status"]


def test_jsonl_lone_surrogate_is_invalid_utf8():
    lines = [b'{"text": "fine words here", "url": "http://x.example/\\ud800"}\n', b'{"text": "ok \\ud83d\\ude00"}\n']
    assert summarize(iter_jsonl(lines, "s.jsonl", ReaderConfig())) == [("reject", 1, "invalid_utf8"),
                                                                        ("record", 2, None)]
