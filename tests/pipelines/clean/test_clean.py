import json
import re
import subprocess
import sys
from pathlib import Path

import fsspec
import pyarrow.parquet as pq
import pytest

from pipelines.clean import job as clean
from pipelines.documents_io import iter_document_files, part_of, read_documents, rejects_path
from schemas import DOCUMENTS_SCHEMA, read_manifest
from tests.pipelines.clean.test_readers import html_page, write_warc

ALPHA = "Alpha page text has plenty of real words in it."

EXPECTED_STATS = {
    "read": 20, "kept": 4,
    "dropped/exact_duplicate": 2, "dropped/http_status_404": 1, "dropped/low_alpha_ratio": 1,
    "dropped/not_html": 1, "dropped/too_few_words": 3, "dropped/warc_type_metadata": 1,
    "dropped/warc_type_request": 2,
    "rejected/empty_file": 1, "rejected/invalid_json": 1, "rejected/invalid_utf8": 1, "rejected/no_text": 1,
    "rejected/truncated_gzip": 1,
    "lang/en": 4,  # the kept documents by identified language: they add up to kept
}


def page(url: str, body: str, **extra) -> dict:
    return {"type": "response", "url": url, "content_type": "text/html; charset=utf-8",
            "payload": html_page("t", body), **extra}


def make_corpus(folder: Path) -> Path:
    """Five small input files whose outcomes add up to EXPECTED_STATS."""
    folder.mkdir(parents=True, exist_ok=True)
    write_warc(folder / "crawl.warc.gz", [
        {"type": "request", "url": "http://a.example/"},
        page("http://a.example/", f"<p>{ALPHA}</p>"),
        page("http://z.example/copy", f"<p>{ALPHA}</p>"),                       # exact duplicate
        {"type": "response", "url": "http://a.example/x.png", "content_type": "image/png", "payload": b"\x89PNG"},
        page("http://a.example/gone", "<p>Not found at all, sorry about that.</p>", status="404 Not Found"),
        page("http://a.example/junk", "<p>$$ ## 12 34 !! ?? %% ^^ word</p>"),      # low alpha ratio
        page("http://a.example/short", "<p>Too short</p>"),                       # too few words
        {"type": "metadata", "url": "http://a.example/", "payload": b"via: test\r\n"},
    ])
    (folder / "docs.jsonl").write_bytes(b"".join([
        b'{"text": "Beta document from a JSON line with enough words.", "url": "http://b.example/", "lang": "en"}\n',
        b'{"text": "broken \xff bytes here"}\n',
        b'{"text": "no closing brace"\n',
        b'{"title": "no text field"}\n',
        json.dumps({"text": ALPHA}).encode() + b"\n",                            # survives: no URL sorts first
        b'{"text": "tiny"}\n',
    ]))
    (folder / "notes.txt").write_text("Gamma block of plain text lines\nwith a second line here.\n\nshort one\n")
    (folder / "empty.jsonl").write_bytes(b"")
    whole = folder / "whole.warc.gz"
    write_warc(whole, [{"type": "request", "url": "http://d.example/"},
                       page("http://d.example/", "<p>Delta page survives the cut in this file.</p>"),
                       page("http://d.example/2", "<p>Epsilon page is cut in the middle of its gzip member.</p>")])
    data = whole.read_bytes()
    (folder / "cut.warc.gz").write_bytes(data[: len(data) - 60])
    whole.unlink()
    return folder


def run(inputs: list[str], output: str, *extra: str) -> dict:
    argv = [a for i in inputs for a in ("--input", i)] + ["--output", output, *extra]
    return clean.main(argv)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


def test_end_to_end_stats_rows_and_rejects(corpus, tmp_path):
    out = str(tmp_path / "docs")
    manifest = run([str(corpus / "*.warc.gz"), str(corpus / "*.jsonl"), str(corpus / "notes.txt")], out,
                   "--num-parts", "8")
    assert manifest == read_manifest(out)
    stats = manifest["stats"]
    assert stats == EXPECTED_STATS
    lost = sum(v for k, v in stats.items() if k.startswith(("dropped/", "rejected/")))
    assert stats["read"] == stats["kept"] + lost and manifest["rows"] == stats["kept"] == 4
    assert [f["path"] for f in manifest["files"]] == [f"part-{i:05d}.parquet" for i in range(8)]
    assert manifest["created_by"]["tool"] == "shardlm clean"
    assert manifest["created_by"]["config"]["num_parts"] == 8

    rows = [r for batch in read_documents(out) for r in batch.to_pylist()]
    by_text = {r["text"]: r for r in rows}
    assert sorted(by_text) == [ALPHA, "Beta document from a JSON line with enough words.",
                               "Delta page survives the cut in this file.",
                               "Gamma block of plain text lines\nwith a second line here."]
    assert by_text[ALPHA]["url"] is None and by_text[ALPHA]["source"] == "docs.jsonl"
    assert by_text["Beta document from a JSON line with enough words."]["lang"] == "en"
    assert by_text["Delta page survives the cut in this file."]["timestamp"].year == 2024

    for i, url in enumerate(iter_document_files(out)):
        table = pq.read_table(url)
        ids = table.column("id").to_pylist()
        assert ids == sorted(ids) and all(part_of(d, 8) == i for d in ids)
        assert table.schema.names == DOCUMENTS_SCHEMA.names
    assert any(f["rows"] == 0 for f in manifest["files"])  # empty parts are written too

    assert [r["path"] for r in manifest["rejects"]] == [rejects_path(i) for i in range(8)]
    rejects = sorted((json.loads(line) for entry in manifest["rejects"]
                      for line in Path(out, entry["path"]).read_text().splitlines()),
                     key=lambda r: (r["source"], r["position"]))
    assert [(r["source"], r["position"], r["reason"]) for r in rejects] == [
        ("cut.warc.gz", rejects[0]["position"], "truncated_gzip"),
        ("docs.jsonl", 2, "invalid_utf8"), ("docs.jsonl", 3, "invalid_json"), ("docs.jsonl", 4, "no_text"),
        ("empty.jsonl", 0, "empty_file")]
    assert rejects[0]["position"] > 0 and sum(r["rows"] for r in manifest["rejects"]) == 5


@pytest.mark.slow
def test_output_bytes_are_identical_across_runs_and_workers(corpus, tmp_path):
    inputs = [str(corpus / "crawl.warc.gz"), str(corpus / "docs.jsonl"), str(corpus / "notes.txt")]
    first = run(inputs, str(tmp_path / "a"), "--num-parts", "2")
    second = run(inputs, str(tmp_path / "b"), "--num-parts", "2",
                 "--direct_num_workers", "2", "--direct_running_mode", "multi_processing")
    again = run(inputs, str(tmp_path / "a"), "--num-parts", "2")  # rerun into a committed folder
    assert first == second == again
    assert first["stats"]["kept"] == 3 and first["stats"]["dropped/exact_duplicate"] == 2
    for name in [f["path"] for f in first["files"]] + [rejects_path(0)]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


@pytest.mark.slow
def test_s3_and_a_local_folder_give_byte_identical_documents(corpus, s3_bucket, tmp_path):
    """Ids and sources know a file by its name under its --input, not by where it sits."""
    fs = fsspec.filesystem("s3")
    local = tmp_path / "raw"
    local.mkdir()
    for name in ("crawl.warc.gz", "docs.jsonl", "cut.warc.gz"):
        fs.put_file(str(corpus / name), f"{s3_bucket}/raw/{name}")
        (local / name).write_bytes((corpus / name).read_bytes())
    manifest = run([f"{s3_bucket}/raw/*"], f"{s3_bucket}/docs", "--num-parts", "2")
    here = run([str(local)], str(tmp_path / "docs"), "--num-parts", "2")
    assert read_manifest(f"{s3_bucket}/docs") == manifest
    assert manifest["stats"] == here["stats"] == {
        "read": 17, "kept": 3, "dropped/exact_duplicate": 2, "dropped/http_status_404": 1,
        "dropped/low_alpha_ratio": 1, "dropped/not_html": 1, "dropped/too_few_words": 2,
        "dropped/warc_type_metadata": 1, "dropped/warc_type_request": 2,
        "rejected/invalid_json": 1, "rejected/invalid_utf8": 1, "rejected/no_text": 1,
        "rejected/truncated_gzip": 1, "lang/en": 3}
    assert manifest["files"] == here["files"] and manifest["rejects"] == here["rejects"]
    for entry in manifest["files"] + manifest["rejects"]:
        assert fs.cat_file(f"{s3_bucket}/docs/{entry['path']}") == (tmp_path / "docs" / entry["path"]).read_bytes()
    rows = [r for batch in read_documents(f"{s3_bucket}/docs", columns=["source", "url"]) for r in batch.to_pylist()]
    assert sorted(rows, key=lambda r: r["url"] or "") == [
        {"source": "docs.jsonl", "url": None}, {"source": "docs.jsonl", "url": "http://b.example/"},
        {"source": "cut.warc.gz", "url": "http://d.example/"}]


def test_missing_input_fails_fast_with_one_line(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        run([str(tmp_path / "missing.warc.gz")], str(tmp_path / "out"))
    assert str(err.value).startswith(f"--input {tmp_path / 'missing.warc.gz'} does not exist")
    assert "\n" not in str(err.value) and not (tmp_path / "out").exists()


def test_unknown_extension_and_bad_flags_fail_fast(tmp_path):
    (tmp_path / "data.csv").write_text("a,b\n")
    with pytest.raises(ValueError, match=r"data\.csv.*pass --format"):
        run([str(tmp_path / "data.csv")], str(tmp_path / "out"))
    with pytest.raises(ValueError, match="--num-parts must be at least 1"):
        run([str(tmp_path / "data.csv")], str(tmp_path / "out"), "--num-parts", "0")
    assert not (tmp_path / "out").exists()


def test_command_line_prints_one_line_for_a_missing_input(tmp_path):
    missing = tmp_path / "nothing-*.jsonl"
    proc = subprocess.run([sys.executable, "-m", "pipelines.clean", "--input", str(missing),
                           "--output", str(tmp_path / "out")], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[3])
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"shardlm clean: error: --input {missing} matches no files"]


def test_summary_table_lists_read_kept_drops_rejects_then_languages():
    from pipelines.documents_io import summary_table

    table = summary_table({"dropped/x": 1, "lang/en": 2, "read": 4, "rejected/y": 1, "kept": 2})
    assert [line.split()[0] for line in table.splitlines()] == ["read", "kept", "dropped/x", "rejected/y", "lang/en"]
    assert table.splitlines()[1].split()[1:] == ["2", "50.00%"]


def test_commit_refuses_when_records_were_lost(tmp_path):
    job = clean.plan(clean.build_parser().parse_args(["--input", str(make_corpus(tmp_path / "c")),
                                                       "--output", str(tmp_path / "out")]))
    with pytest.raises(clean.LostRecordsError, match="3 records were read but 2 came out"):
        clean.commit(None, job, files=[], rejects=[], counts={"kept": 1, "dropped/x": 1}, languages={}, read=3)
    assert not (tmp_path / "out" / ".manifest.json").exists() and not (tmp_path / "out" / "manifest.json").exists()


def test_object_store_that_does_not_answer_exits_3_after_retries(tmp_path):
    """Exit status 3 (storage), not 2 (configuration): the command was right, the store was away."""
    import os
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once the socket is closed
    env = {**os.environ, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1",
           "SHARDLM_STORAGE_ATTEMPTS": "2", "SHARDLM_STORAGE_BACKOFF_S": "0.05"}
    proc = subprocess.run([sys.executable, "-m", "pipelines.clean", "--input", "s3://away/raw/*.jsonl",
                           "--output", str(tmp_path / "out")], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[3], env=env)
    assert proc.returncode == 3, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("shardlm clean: error: listing s3://away/raw/*.jsonl: object storage did not answer "
                           "after 2 attempts (EndpointConnectionError")


def test_documents_folder_opens_in_pandas_pyarrow_duckdb_and_datasets(corpus, tmp_path):
    """The manifest and the rejects (hidden names) do not get in the way of Parquet tools."""
    out = tmp_path / "docs"
    manifest = run([str(corpus / "crawl.warc.gz"), str(corpus / "docs.jsonl")], str(out), "--num-parts", "2")
    assert (out / ".manifest.json").exists() and not (out / "manifest.json").exists()
    assert [entry["path"] for entry in manifest["rejects"]] == [".rejects/part-00000.jsonl", ".rejects/part-00001.jsonl"]
    assert sum(entry["rows"] for entry in manifest["rejects"]) == 3  # rejects sit beside the parts
    ids = sorted(r["id"] for batch in read_documents(str(out)) for r in batch.to_pylist())
    assert len(ids) == manifest["rows"] == 2

    import pyarrow.dataset as ds

    table = ds.dataset(str(out)).to_table()
    assert sorted(table.column("id").to_pylist()) == ids and table.schema.names == DOCUMENTS_SCHEMA.names

    pandas = pytest.importorskip("pandas")
    frame = pandas.read_parquet(str(out))
    assert sorted(frame["id"]) == ids and list(frame.columns) == DOCUMENTS_SCHEMA.names

    duckdb = pytest.importorskip("duckdb")
    assert sorted(r[0] for r in duckdb.sql(f"select id from read_parquet('{out}')").fetchall()) == ids
    assert duckdb.sql(f"select count(*) from '{out}/*.parquet'").fetchall() == [(2,)]

    datasets = pytest.importorskip("datasets")
    loaded = datasets.load_dataset("parquet", data_dir=str(out), split="train", cache_dir=str(tmp_path / "hf"))
    assert sorted(loaded["id"]) == ids and loaded.column_names == DOCUMENTS_SCHEMA.names


def test_write_dropped_keeps_dropped_documents_with_their_reason(corpus, tmp_path):
    inputs = [str(corpus / "crawl.warc.gz"), str(corpus / "docs.jsonl"), str(corpus / "notes.txt")]
    out = tmp_path / "docs"
    manifest = run(inputs, str(out), "--num-parts", "2", "--write-dropped")
    assert [e["path"] for e in manifest["dropped"]] == [".dropped/part-00000.jsonl", ".dropped/part-00001.jsonl"]
    lines = [json.loads(line) for e in manifest["dropped"] for line in (out / e["path"]).read_text().splitlines()]
    assert sum(e["rows"] for e in manifest["dropped"]) == len(lines)
    by_reason = sorted((d["reason"], d["source"], d["text"]) for d in lines)
    # every dropped document the filters judged, with the text they judged (reader drops such as a
    # 404 and exact duplicates, whose text is the survivor's, are counted only)
    assert by_reason == [("low_alpha_ratio", "crawl.warc.gz", "$$ ## 12 34 !! ?? %% ^^ word"),
                         ("too_few_words", "crawl.warc.gz", "Too short"),
                         ("too_few_words", "docs.jsonl", "tiny"),
                         ("too_few_words", "notes.txt", "short one")]
    assert all(set(d) == {"id", "url", "source", "text", "reason"} for d in lines)
    assert manifest["stats"]["dropped/too_few_words"] == 3 and manifest["created_by"]["config"]["write_dropped"] == 1.0

    plain = run(inputs, str(tmp_path / "plain"), "--num-parts", "2")
    assert "dropped" not in plain and not (tmp_path / "plain" / ".dropped").exists()
    assert plain["files"] == manifest["files"]  # the documents do not change

    half = run(inputs, str(tmp_path / "half"), "--num-parts", "2", "--write-dropped", "0.5")
    sampled = [json.loads(line) for e in half["dropped"]
               for line in (tmp_path / "half" / e["path"]).read_text().splitlines()]
    assert {d["id"] for d in sampled} == {d["id"] for d in lines if int(d["id"], 16) < 0.5 * 16 ** 16}
    with pytest.raises(ValueError, match=r"--write-dropped takes a fraction in \(0, 1\], got 2.0"):
        run(inputs, str(tmp_path / "bad"), "--write-dropped", "2")


def test_jsonl_times_pick_the_newest_crawl_of_a_url_and_bad_times_are_counted(tmp_path, caplog):
    """--timestamp-field: the times of JSONL records reach the documents, so --url-dedup keeps the
    newest crawl of a URL as it does for WARC records; a value that is not a time is counted (the
    `input/bad_timestamp` counter of the summary) and its document kept with a null time."""
    words = "plenty of ordinary words in this crawl of the page"
    rows = [{"text": f"Old version with {words}.", "url": "http://n.example/a", "date": "2019-01-01T00:00:00Z"},
            {"text": f"New version with {words}.", "url": "http://n.example/a", "date": "2021-06-01T12:00:00Z"},
            {"text": f"Another page with {words}.", "url": "http://n.example/b", "date": "last tuesday"}]
    src = tmp_path / "news.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "docs"
    with caplog.at_level("INFO", logger="pipelines.clean.job"):
        manifest = run([str(src)], str(out), "--timestamp-field", "date")
    summary = [r.getMessage() for r in caplog.records if r.getMessage().startswith("shardlm clean:")]
    assert len(summary) == 1 and re.search(r"\n  input/bad_timestamp +1$", summary[0], re.M)
    docs = sorted((row for batch in read_documents(str(out)) for row in batch.to_pylist()), key=lambda d: d["url"])
    assert [(d["url"], d["text"].split()[0]) for d in docs] == [("http://n.example/a", "New"),
                                                                 ("http://n.example/b", "Another")]
    assert docs[0]["timestamp"].isoformat() == "2021-06-01T12:00:00+00:00" and docs[1]["timestamp"] is None
    stats = manifest["stats"]
    assert stats["dropped/url_duplicate"] == 1 and stats["kept"] == 2
    assert manifest["created_by"]["config"]["timestamp_field"] == "date"
