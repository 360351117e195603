import datetime as dt
import hashlib

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.clean.dedup import (DUPLICATE, URL_DUPLICATE, ExactDedup, KeepSurvivor, UrlDedup, crawl_time, dedup_key,
                             dedup_rows, newest_first_rank, url_dedup_rows)
from pipelines.clean.readers import Drop


def row(doc_id: str, url: str | None, text: str) -> dict:
    return {"id": doc_id, "url": url, "text": text}


ROWS = [
    row("00000000000000ff", "http://b.example/", "same text"),
    row("0000000000000001", None, "same text"),            # no URL sorts first ("" < "http...")
    row("0000000000000002", "http://a.example/", "same text"),
    row("00000000000000aa", "http://c.example/", "unique text"),
    row("0000000000000010", "http://d.example/", "pair"),
    row("0000000000000003", "http://d.example/", "pair"),  # same URL: the smaller id survives
]
SURVIVORS = [ROWS[1], ROWS[3], ROWS[5]]


def test_dedup_key_is_sha256_of_text():
    assert dedup_key(row("x", None, "héllo")) == hashlib.sha256("héllo".encode()).hexdigest()


def test_dedup_rows_keeps_the_smallest_url_then_id():
    out = dedup_rows(ROWS)
    kept = [r for r in out if isinstance(r, dict)]
    assert sorted(kept, key=lambda r: r["id"]) == sorted(SURVIVORS, key=lambda r: r["id"])
    assert [r for r in out if isinstance(r, Drop)] == [Drop(reason=DUPLICATE)] * 3
    assert dedup_rows(reversed(ROWS)) == out  # order of arrival does not matter


def test_combiner_merges_partial_accumulators():
    fn = KeepSurvivor()
    left = fn.add_input(fn.add_input(fn.create_accumulator(), ROWS[0]), ROWS[2])
    right = fn.add_input(fn.create_accumulator(), ROWS[1])
    assert fn.merge_accumulators([left, right, fn.create_accumulator()]) == (ROWS[1], 3)


def test_exact_dedup_on_a_test_pipeline():
    with BeamTestPipeline() as p:
        out = p | beam.Create(ROWS) | ExactDedup()
        kept = out | "Kept" >> beam.Filter(lambda x: isinstance(x, dict)) | "Ids" >> beam.Map(lambda r: r["id"])
        drops = out | "Drops" >> beam.Filter(lambda x: isinstance(x, Drop)) | "Reasons" >> beam.Map(lambda d: d.reason)
        assert_that(kept, equal_to([r["id"] for r in SURVIVORS]), label="CheckKept")
        assert_that(drops, equal_to([DUPLICATE] * 3), label="CheckDrops")


def crawl(doc_id: str, url: str | None, timestamp) -> dict:
    return {"id": doc_id, "url": url, "text": f"text of {doc_id}", "timestamp": timestamp}


UTC = dt.timezone.utc
CRAWLS = [
    crawl("0a", "http://Example.com/page?utm_source=feed", 1_700_000_000),
    crawl("0b", "http://example.com:80/page#top", dt.datetime(2024, 1, 1, tzinfo=UTC)),  # newest: survives
    crawl("0c", "http://example.com/page", None),                 # no timestamp: the oldest
    crawl("0e", "https://example.com/other", 5),
    crawl("0d", "https://example.com/other", 5),                  # same time: the smaller id survives
    crawl("0f", None, 9),                                          # no URL: passes through
    crawl("10", "  ", 9),                                          # blank URL: passes through
]


def test_crawl_time_and_rank():
    assert crawl_time(CRAWLS[0]) == 1_700_000_000.0
    assert crawl_time(CRAWLS[1]) == dt.datetime(2024, 1, 1, tzinfo=UTC).timestamp()
    assert crawl_time({"timestamp": dt.datetime(2024, 1, 1)}) == crawl_time(CRAWLS[1])  # naive is UTC
    assert crawl_time(CRAWLS[2]) == float("-inf")
    assert sorted(CRAWLS[:5], key=newest_first_rank)[0]["id"] == "0b"


def test_url_dedup_rows_keeps_the_newest_crawl():
    out = url_dedup_rows(CRAWLS)
    assert [r["id"] for r in out if isinstance(r, dict)] == ["0f", "10", "0b", "0d"]
    assert [r for r in out if isinstance(r, Drop)] == [Drop(reason=URL_DUPLICATE)] * 3
    assert url_dedup_rows(reversed(CRAWLS))[2:] == out[2:]


def test_url_dedup_on_a_test_pipeline():
    with BeamTestPipeline() as p:
        out = p | beam.Create(CRAWLS) | UrlDedup()
        kept = out | "Kept" >> beam.Filter(lambda x: isinstance(x, dict)) | "Ids" >> beam.Map(lambda r: r["id"])
        drops = out | "Drops" >> beam.Filter(lambda x: isinstance(x, Drop)) | "Reasons" >> beam.Map(lambda d: d.reason)
        assert_that(kept, equal_to(["0b", "0d", "0f", "10"]), label="CheckKept")
        assert_that(drops, equal_to([URL_DUPLICATE] * 3), label="CheckDrops")
