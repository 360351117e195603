import hashlib

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.dedup import DUPLICATE, ExactDedup, KeepSurvivor, dedup_key, dedup_rows
from pipelines.readers import Drop


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
