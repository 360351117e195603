"""`shardlm clean` on Parquet inputs: documents, counts, the same corpus as JSONL, from s3://."""

import json
import sys
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.clean import job as clean
from pipelines.clean.readers import RowGroups, doc_id, input_pieces
from pipelines.clean.readers import parquet as parquet_reader
from pipelines.documents_io import read_documents
from tests.pipelines.clean.test_clean import ALPHA, run
from tests.pipelines.test_progress import Terminal, last_bar, without_time

BETA = "Beta document from a Parquet row with enough words."
GAMMA = "Gamma row of the second row group has enough words too."
DELTA = "Delta row without a URL or an id but plenty of words in it."
ROWS = [  # text, url, id, lang: two row groups of four
    (BETA, "http://b.example/", "n-1", "en"),
    (None, "http://null.example/", "n-2", None),                 # rejected: no_text
    (ALPHA, None, None, None),                                   # survives the exact duplicate: no URL sorts first
    ("tiny", "http://t.example/", "n-4", None),                  # dropped: too_few_words
    ("", None, "n-5", None),                                     # rejected: no_text
    (ALPHA, "http://z.example/", "n-6", None),                   # dropped: exact_duplicate
    (GAMMA, "http://g.example/", "n-7", "en"),
    (DELTA, None, None, None),
]
EXPECTED_STATS = {"read": 9, "kept": 4, "dropped/exact_duplicate": 1, "dropped/too_few_words": 1,
                  "rejected/no_text": 2, "rejected/unreadable": 1, "lang/en": 4}


def write_news(folder: Path) -> Path:
    """news.parquet (ROWS in two row groups, plus a column the job never reads) and a damaged file."""
    folder.mkdir(parents=True, exist_ok=True)
    columns = dict(zip(("text", "url", "id", "lang"), (list(c) for c in zip(*ROWS))))
    pq.write_table(pa.table({**columns, "dump": ["CC-MAIN-2024-10"] * len(ROWS)}), str(folder / "news.parquet"),
                   row_group_size=4)
    (folder / "broken.parquet").write_bytes(b"PAR1 this file lost its footer")
    return folder


def documents(out: str) -> dict[str, dict]:
    return {r["text"]: r for batch in read_documents(out) for r in batch.to_pylist()}


def test_end_to_end_on_parquet_documents_counts_and_rejects(tmp_path):
    raw = write_news(tmp_path / "raw")
    assert pq.ParquetFile(str(raw / "news.parquet")).num_row_groups == 2
    out = str(tmp_path / "docs")
    manifest = run([str(raw)], out, "--num-parts", "2")
    assert manifest["stats"] == EXPECTED_STATS and manifest["rows"] == 4
    docs = documents(out)
    assert sorted(docs) == sorted([ALPHA, BETA, GAMMA, DELTA])
    assert {t: (d["url"], d["id"], d["source"]) for t, d in docs.items()} == {
        BETA: ("http://b.example/", doc_id("n-1"), "news.parquet"),
        ALPHA: (None, doc_id("news.parquet\n3"), "news.parquet"),  # no id: the file's name and row number
        GAMMA: ("http://g.example/", doc_id("n-7"), "news.parquet"),
        DELTA: (None, doc_id("news.parquet\n8"), "news.parquet")}
    rejects = sorted((json.loads(line) for entry in manifest["rejects"]
                      for line in Path(out, entry["path"]).read_text().splitlines()),
                     key=lambda r: (r["source"], r["position"]))
    assert [(r["source"], r["position"], r["reason"]) for r in rejects] == [
        ("broken.parquet", 0, "unreadable"), ("news.parquet", 2, "no_text"), ("news.parquet", 5, "no_text")]


def test_a_file_read_in_pieces_gives_the_same_bytes_and_counts_once_on_the_progress_line(tmp_path, monkeypatch):
    raw = write_news(tmp_path / "raw")
    whole = run([str(raw)], str(tmp_path / "whole"), "--num-parts", "2")
    monkeypatch.setattr(parquet_reader, "PIECE_BYTES", 1)  # every row group a piece
    job = clean.plan(clean.build_parser().parse_args(["--input", str(raw), "--output", str(tmp_path / "x")]))
    files = zip(job.files, [0] * len(job.files), job.names)
    work = [(name, piece) for file in files for _, _, name, piece in input_pieces(file, job.reader)]
    assert work == [("broken.parquet", None), ("news.parquet", RowGroups(0, 1, 0, False)),
                    ("news.parquet", RowGroups(1, 2, 4, True))]
    monkeypatch.setattr("sys.stderr", Terminal())
    pieces = run([str(raw)], str(tmp_path / "pieces"), "--num-parts", "2")
    assert pieces["stats"] == whole["stats"] == EXPECTED_STATS
    assert pieces["files"] == whole["files"] and pieces["rejects"] == whole["rejects"]  # with their sha256
    size = sum(p.stat().st_size for p in raw.iterdir()) / 1e3
    assert without_time(last_bar(sys.stderr.getvalue())).startswith(
        f"clean [{'#' * 24}] {size:.1f}/{size:.1f} kB | files 2/2 | ")


def test_a_missing_text_column_fails_before_any_work(tmp_path):
    raw = write_news(tmp_path / "raw")
    with pytest.raises(ValueError, match=r"news\.parquet has no column 'body' for --text-field \(its columns: "
                                         r"text, url, id, lang, dump\); pass --text-field COLUMN"):
        run([str(raw)], str(tmp_path / "out"), "--text-field", "body")
    assert not (tmp_path / "out").exists()


def test_the_same_corpus_as_jsonl_gives_the_same_documents_but_for_source_and_position_ids(tmp_path):
    """Rows and lines are numbered alike from 1; only ids made from the file's name differ."""
    raw = write_news(tmp_path / "raw")
    (raw / "broken.parquet").unlink()
    lines = [json.dumps({k: v for k, v in zip(("text", "url", "id", "lang"), row) if v is not None}) for row in ROWS]
    (tmp_path / "jsonl").mkdir()
    (tmp_path / "jsonl" / "news.jsonl").write_text("\n".join(lines) + "\n")
    from_parquet = run([str(raw / "news.parquet")], str(tmp_path / "a"), "--num-parts", "2")
    from_jsonl = run([str(tmp_path / "jsonl" / "news.jsonl")], str(tmp_path / "b"), "--num-parts", "2")
    stats = {k: v for k, v in EXPECTED_STATS.items() if k != "rejected/unreadable"}
    assert from_parquet["stats"] == from_jsonl["stats"] == {**stats, "read": 8}
    parquet_docs, jsonl_docs = documents(str(tmp_path / "a")), documents(str(tmp_path / "b"))
    assert sorted(parquet_docs) == sorted(jsonl_docs)
    for text, doc in parquet_docs.items():
        other = jsonl_docs[text]
        assert (doc["source"], other["source"]) == ("news.parquet", "news.jsonl")
        assert (doc["id"] == other["id"]) == (text in (BETA, GAMMA))  # the rows with their own id
        same = {k: v for k, v in doc.items() if k not in ("id", "source")}
        assert same == {k: v for k, v in other.items() if k not in ("id", "source")}


@pytest.mark.slow
def test_parquet_from_s3_and_a_local_folder_gives_byte_identical_documents(s3_bucket, tmp_path):
    raw = write_news(tmp_path / "raw")
    fs = fsspec.filesystem("s3")
    for name in ("news.parquet", "broken.parquet"):
        fs.put_file(str(raw / name), f"{s3_bucket}/raw/{name}")
    remote = run([f"{s3_bucket}/raw/*.parquet"], f"{s3_bucket}/docs", "--num-parts", "2")
    here = run([str(raw)], str(tmp_path / "docs"), "--num-parts", "2")
    assert remote["stats"] == here["stats"] == EXPECTED_STATS
    assert remote["files"] == here["files"] and remote["rejects"] == here["rejects"]
    for entry in remote["files"] + remote["rejects"]:
        assert fs.cat_file(f"{s3_bucket}/docs/{entry['path']}") == (tmp_path / "docs" / entry["path"]).read_bytes()
