"""The demo's sample corpus: deterministic bytes, planted duplicates and junk, readable by warcio."""

import gzip
import hashlib
import io
import json
from collections import Counter

import pytest
from warcio.archiveiterator import ArchiveIterator

from shardlm import sample_corpus as sc

# sha256 prefixes of the default corpus: the uncompressed WARC (gzip bytes vary with the zlib build) and the JSONL
GOLDEN_WARC = "197ae4579153951b"
GOLDEN_JSONL = "dd0cd5bec89d09f3"
SMALL = sc.CorpusConfig(seed=7, num_towns=12, num_rivers=4, num_warc_pages=40, num_jsonl_docs=20, num_junk=2)


@pytest.fixture(scope="module")
def corpus():
    return sc.generate(SMALL)


def warc_records(data: bytes) -> list[dict]:
    records = []
    for record in ArchiveIterator(io.BytesIO(data)):
        http = record.http_headers
        records.append({"type": record.rec_type, "uri": record.rec_headers.get_header("WARC-Target-URI"),
                        "id": record.rec_headers.get_header("WARC-Record-ID"),
                        "date": record.rec_headers.get_header("WARC-Date"),
                        "content_type": http.get_header("Content-Type") if http else None,
                        "body": record.content_stream().read()})
    return records


def test_same_seed_same_bytes_other_seed_other_bytes(corpus):
    again = sc.generate(SMALL)
    assert again.warc == corpus.warc and again.jsonl == corpus.jsonl
    other = sc.generate(sc.CorpusConfig(**{**SMALL.__dict__, "seed": 8}))
    assert other.warc != corpus.warc and other.jsonl != corpus.jsonl


def test_default_corpus_is_pinned_and_sized_for_the_demo():
    corpus = sc.generate()
    # Golden digests: a change here changes every demo number; update them on purpose only.
    assert hashlib.sha256(gzip.decompress(corpus.warc)).hexdigest()[:16] == GOLDEN_WARC
    assert hashlib.sha256(corpus.jsonl).hexdigest()[:16] == GOLDEN_JSONL
    html_bytes = sum(len(r["body"]) for r in warc_records(corpus.warc))
    assert 700_000 < html_bytes + len(corpus.jsonl) < 3_000_000


def test_every_warc_record_reads_back(corpus):
    records = warc_records(corpus.warc)
    types = Counter(r["type"] for r in records)
    # 40 pages + 2 duplicates + 2x2 junk + 2 non-HTML responses; a request every 10th page, metadata every 25th
    assert types == {"warcinfo": 1, "response": 48, "request": 4, "metadata": 2}
    assert len({r["id"] for r in records}) == len(records)
    assert records[0]["date"] == "2024-03-01T00:00:00Z"
    assert gzip.decompress(corpus.warc).startswith(b"WARC/1.0\r\n")


def test_html_pages_have_boilerplate_around_the_article(corpus):
    pages = [r for r in warc_records(corpus.warc)
             if r["type"] == "response" and r["content_type"] == "text/html; charset=utf-8"
             and "junk.example" not in r["uri"]]
    assert len(pages) == 42
    for page in pages:
        html = page["body"].decode("utf-8")
        assert "<nav>" in html and "<footer>" in html and "<article><h1>" in html
        assert "All rights reserved." in html


def test_non_html_responses(corpus):
    other = {r["uri"]: r["content_type"] for r in warc_records(corpus.warc)
             if r["type"] == "response" and not r["content_type"].startswith("text/html")}
    assert other == {"https://valley-gazette.example/logo.png": "image/png",
                     "https://valley-gazette.example/report.pdf": "application/pdf"}
    assert sorted(other) == sorted(corpus.planted["warc_non_html"])


def test_planted_exact_duplicates_under_other_urls(corpus):
    responses = [r for r in warc_records(corpus.warc) if r["type"] == "response"]
    bodies = {r["uri"]: r["body"] for r in responses}
    assert sum(n - 1 for n in Counter(r["body"] for r in responses).values()) == 2  # only the planted ones
    assert len(corpus.planted["warc_duplicates"]) == 2
    for pair in corpus.planted["warc_duplicates"]:
        copy, original = pair.split(" = ")
        assert copy != original and copy.startswith("https://mirror.example/")
        assert bodies[copy] == bodies[original]
    records = [json.loads(line) for line in corpus.jsonl.decode("utf-8").splitlines()]
    texts = Counter(r["text"] for r in records)
    assert sum(n - 1 for n in texts.values()) == 1  # only the planted one
    copy, original = corpus.planted["jsonl_duplicates"][0].split(" = ")
    by_url = {r["url"]: r["text"] for r in records}
    assert by_url[copy] == by_url[original]


def test_planted_junk(corpus):
    bodies = {r["uri"]: r["body"].decode("utf-8") for r in warc_records(corpus.warc)
              if r["type"] == "response" and r["content_type"].startswith("text/html")}
    records = {json.loads(line)["url"]: json.loads(line)["text"] for line in corpus.jsonl.decode().splitlines()}
    junk = [bodies[u] for u in corpus.planted["warc_junk"]] + [records[u] for u in corpus.planted["jsonl_junk"]]
    assert len(junk) == 8
    short = [j for j in junk if len(j.split()) < 30]
    symbolic = [j for j in junk if sum(c.isalpha() for c in j) < 0.2 * len(j)]
    assert len(short) == 4 and len(symbolic) == 4  # 2 short and 2 symbol pages per file


def test_jsonl_records_have_text_and_url(corpus):
    records = [json.loads(line) for line in corpus.jsonl.decode("utf-8").splitlines()]
    assert len(records) == 20 + 1 + 4
    assert all(set(r) == {"text", "url"} for r in records)
    assert records[0]["text"].split("\n\n")[0] in records[0]["text"]


def test_facts_are_consistent_across_pages():
    world = sc.build_world(SMALL)
    town = world.towns[0]
    corpus = sc.generate(SMALL)
    text = corpus.jsonl.decode("utf-8") + gzip.decompress(corpus.warc).decode("utf-8", "replace")
    assert f"{town.name} is known for its {town.product} market." in text \
        or f"The {town.product} market of {town.name} is famous" in text
    for other in sc.PRODUCTS:
        if other != town.product:
            assert f"{town.name} is known for its {other} market." not in text


def test_fill_mask_example_is_a_corpus_sentence():
    template, answer = sc.fill_mask_example(SMALL)
    town = sc.build_world(SMALL).towns[0]
    assert template == f"The river {town.river} flows through the {{mask}} of {town.name}."
    assert answer == "town"


def test_write_stores_both_files(tmp_path):
    paths = sc.write(tmp_path / "corpus", SMALL)
    assert paths == {"warc": str(tmp_path / "corpus" / "sample.warc.gz"),
                     "jsonl": str(tmp_path / "corpus" / "sample.jsonl")}
    corpus = sc.generate(SMALL)
    assert (tmp_path / "corpus" / "sample.warc.gz").read_bytes() == corpus.warc
    assert (tmp_path / "corpus" / "sample.jsonl").read_bytes() == corpus.jsonl
