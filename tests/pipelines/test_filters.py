import dataclasses
from collections import Counter

import pytest

from pipelines.filters import (
    BASIC, PRESETS, FilterConfig, clean_lines, clean_record, document_verdict, low_alpha_ratio, preset,
    split_words)
from pipelines.readers import Drop, RawRecord, Reject, doc_id
from pipelines.textnorm import normalize_text


def counter():
    counts = Counter()

    def count(name, n=1):
        counts[name] += n

    return counts, count


def test_normalize_text_nfc_newlines_and_controls():
    decomposed = "Cafe\u0301"  # e + combining acute
    assert normalize_text(decomposed) == "Caf\u00e9"
    assert normalize_text("a\r\nb\rc\u2028d\u2029e\x85f") == "a\nb\nc\nd\ne\nf"
    assert normalize_text("\ufeffta\tb\x00c\x07d\x1be\x7ff\x9fg\ud800h") == "ta\tbcdefgh"


def test_clean_lines_collapses_whitespace_and_counts_removed_lines():
    counts, count = counter()
    text, removed = clean_lines("  Title \t here  \n\n   \nbody\u00a0 text\n\t\n", BASIC, count)
    assert text == "Title here\nbody text"
    assert removed == 4
    assert counts == {"lines/kept": 2, "lines/removed_empty": 4}


def test_split_words_counts_each_cjk_character():
    assert split_words("Hello, world  again") == ["Hello,", "world", "again"]
    assert split_words("debugfs(8) 交互式的调试 ext4") == ["debugfs(8)", "交", "互", "式", "的", "调", "试", "ext4"]
    assert split_words("カタカナabcテスト") == ["カ", "タ", "カ", "ナ", "abc", "テ", "ス", "ト"]


def test_punctuation_only_tokens_are_not_words():
    assert split_words("- Oui, « merci » -- dit-il !") == ["Oui,", "merci", "dit-il"]
    assert split_words("$$ | 12 + ...") == ["$$", "|", "12", "+"]


@pytest.mark.parametrize("text,verdict", [
    ("one two three four five", (True, None)),
    ("one two three four", (False, "too_few_words")),
    ("", (False, "too_few_words")),
    ("$$$ ### 123 456 !!! --- 789 word", (False, "low_alpha_ratio")),  # 1 of 5 words (### !!! --- are not words)
    ("### !!! --- ... word", (False, "too_few_words")),
    ("Prices: 10 20 30 apples pears plums figs dates", (False, "low_alpha_ratio")),  # 6 of 9 < 0.8
    ("Prices: 10 apples pears plums figs dates", (True, None)),  # 6 of 7 >= 0.8
])
def test_document_verdicts(text, verdict):
    assert document_verdict(split_words(text), BASIC) == verdict


def test_alpha_ratio_threshold_is_inclusive():
    words = ["a", "b", "c", "d", "1"]  # exactly 0.8 alphabetic
    assert not low_alpha_ratio(words, BASIC)
    assert low_alpha_ratio(words + ["2"], BASIC)


def test_max_words_for_stricter_presets():
    strict = dataclasses.replace(BASIC, name="strict", max_words=6)
    assert document_verdict(split_words("a b c d e f g"), strict) == (False, "too_many_words")
    assert document_verdict(split_words("a b c d e f g"), BASIC) == (True, None)


def test_presets_are_named_and_frozen():
    assert preset("basic") is BASIC and PRESETS == {"basic": BASIC}
    with pytest.raises(dataclasses.FrozenInstanceError):
        BASIC.min_words = 1  # type: ignore[misc]
    with pytest.raises(ValueError, match="unknown filter preset 'gopher'; choose one of basic"):
        preset("gopher")
    with pytest.raises(TypeError):
        FilterConfig(min_words=5, min_alpha_word_fraction=0.8)  # name is required


def test_clean_record_text_row():
    record = RawRecord(source="s.jsonl", position=3, url="http://x/", text="Cafe\u0301 au lait\r\n\r\n  is   a drink. ",
                       lang="fr", timestamp=1700000000)
    counts, count = counter()
    row = clean_record(record, BASIC, count)
    assert row == {
        "id": doc_id("s.jsonl", 3), "url": "http://x/", "text": "Caf\u00e9 au lait\nis a drink.", "lang": "fr",
        "lang_score": None, "source": "s.jsonl", "timestamp": 1700000000, "num_chars": 24, "num_words": 6,
        "num_lines": 2, "num_lines_removed": 1, "mean_word_length": 19 / 6,
    }
    assert counts == {"lines/kept": 2, "lines/removed_empty": 1}


def test_clean_record_html_row_and_drops():
    page = "<html><body><p>Caf\u00e9 cr\u00e8me is served here every day.</p></body></html>".encode("cp1252")
    row = clean_record(RawRecord(source="w.warc.gz", position=10, html=page, charset="cp1252"), BASIC)
    assert row["text"] == "Caf\u00e9 cr\u00e8me is served here every day." and row["lang"] == "und"
    assert row["url"] is None and row["timestamp"] is None and row["num_lines_removed"] == 0
    short = clean_record(RawRecord(source="w", position=1, html=b"<html><p>hi</p></html>"), BASIC)
    assert short == Drop(reason="too_few_words", source="w", position=1)
    junk = clean_record(RawRecord(source="w", position=2, text="| 1 | 2 | 3 | 4 | 5 |"), BASIC)
    assert junk == Drop(reason="low_alpha_ratio", source="w", position=2)
    assert not isinstance(short, Reject)
