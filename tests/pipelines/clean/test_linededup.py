import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.clean.linededup import (LINES_COUNTER, REPEATED_LINES_ONLY, LineDedup, LineDedupConfig, document_signals,
                                 line_dedup_rows, line_key, remove_lines, removals, row_line_keys)
from pipelines.clean.readers import Drop

NAV = "Subscribe to our newsletter for daily news"    # 7 words, in three documents
FOOT = "Copyright 2024 Example Media all rights"       # 6 words, in two documents
SHORT = "Read more"                                     # 2 words: never deduplicated


def row(doc_id: str, *lines: str) -> dict:
    text = "\n".join(lines)
    return {"id": doc_id, "url": None, "text": text, "num_lines_removed": 1, **document_signals(text)}


ROWS = [
    row("03", "The third story is about a storm at sea.", NAV, SHORT, FOOT),
    row("01", NAV, "The first story is about a quiet village.", SHORT),
    row("02", "subscribe to our newsletter for daily news  ", FOOT, NAV),  # NAV twice, once cased
    row("04", NAV.upper()),                                            # nothing but a repeated line
]


def test_line_key_strips_and_lowercases():
    assert line_key("  Hello World ") == line_key("hello world")
    assert len(line_key("x")) == 8


def test_row_line_keys_are_distinct_and_long_enough():
    assert [k for k, _ in row_line_keys(ROWS[2], LineDedupConfig())] == [line_key(NAV), line_key(FOOT)]
    assert list(row_line_keys(row("x", SHORT), LineDedupConfig())) == []
    assert len(list(row_line_keys(row("x", SHORT), LineDedupConfig(min_words=2)))) == 1


def test_removals_keep_the_smallest_id():
    assert sorted(removals((b"k", ["03", "01", "02"]))) == [("02", b"k"), ("03", b"k")]
    assert list(removals((b"k", ["05"]))) == []


def test_remove_lines_recomputes_signals():
    counts = {}
    out = remove_lines(ROWS[0], [line_key(NAV), line_key(FOOT)], lambda name, n=1: counts.update({name: n}))
    text = "The third story is about a storm at sea.\nRead more"
    assert out == {**ROWS[0], "text": text, "num_chars": 50, "num_words": 11, "num_lines": 2,
                   "num_lines_removed": 3, "mean_word_length": pytest.approx(40 / 11)}
    assert counts == {LINES_COUNTER: 2}
    assert remove_lines(ROWS[0], []) is ROWS[0]
    assert remove_lines(ROWS[3], [line_key(NAV)]) == Drop(reason=REPEATED_LINES_ONLY)


def test_line_dedup_rows():
    counts = {}
    out = line_dedup_rows(ROWS, count=lambda name, n=1: counts.update({name: counts.get(name, 0) + n}))
    assert out[0]["text"] == "The third story is about a storm at sea.\nRead more"
    assert out[1] is ROWS[1]  # the keeper of NAV
    assert out[2]["text"] == FOOT  # both copies of NAV removed; the keeper of FOOT
    assert out[3] == Drop(reason=REPEATED_LINES_ONLY)
    assert counts == {LINES_COUNTER: 5}


def test_line_dedup_on_a_test_pipeline():
    with BeamTestPipeline() as p:
        out = p | beam.Create(ROWS) | LineDedup()
        kept = (out | "Kept" >> beam.Filter(lambda x: isinstance(x, dict))
                | "Texts" >> beam.Map(lambda r: (r["id"], r["text"], r["num_lines"], r["num_lines_removed"])))
        drops = out | "Drops" >> beam.Filter(lambda x: isinstance(x, Drop)) | "Reasons" >> beam.Map(lambda d: d.reason)
        assert_that(kept, equal_to([
            ("01", ROWS[1]["text"], 3, 1),
            ("02", FOOT, 1, 3),
            ("03", "The third story is about a storm at sea.\nRead more", 2, 3),
        ]), label="CheckKept")
        assert_that(drops, equal_to([REPEATED_LINES_ONLY]), label="CheckDrops")
