import dataclasses
import json
from collections import Counter

import pytest

from pipelines.clean.filters import (
    BASIC, C4, FINEWEB, GOPHER, NONE, PRESETS, FilterConfig, LangConfig, clean_lines, clean_record, combine, configure,
    filter_page, manifest_config, preset, split_words)
from pipelines.clean.readers import Drop, RawRecord, Reject, doc_id, position_key
from pipelines.clean.textnorm import normalize_text


def counter():
    """A Counter and a `count(name, n=1)` function adding to it (C4's counter_inc_fn)."""
    counts = Counter()

    def count(name, n=1):
        counts[name] += n

    return counts, count


def verdict(text, config):
    """The drop reason of `text` under `config`, or None when it is kept."""
    page, _ = clean_lines(text)
    return filter_page(page, config)[1]


def test_normalize_text_nfc_newlines_and_controls():
    decomposed = "Cafe\u0301"  # e + combining acute
    assert normalize_text(decomposed) == "Caf\u00e9"
    assert normalize_text("a\r\nb\rc\u2028d\u2029e\x85f") == "a\nb\nc\nd\ne\nf"
    assert normalize_text("\ufeffta\tb\x00c\x07d\x1be\x7ff\x9fg\ud800h") == "ta\tbcdefgh"


def test_clean_lines_collapses_whitespace_counts_removed_lines_and_keeps_paragraphs():
    counts, count = counter()
    page, removed = clean_lines("  Title \t here  \n\n   \nbody\u00a0 text\nmore\n\t\nlast\n", count)
    assert page.text == "Title here\nbody text\nmore\nlast"
    assert page.paragraphs == ["Title here", "body text\nmore", "last"]
    assert removed == 4
    assert counts == {"lines/removed_empty": 4}


def test_split_words_counts_each_cjk_character():
    assert split_words("Hello, world  again") == ["Hello,", "world", "again"]
    assert split_words("debugfs(8) 交互式的调试 ext4") == ["debugfs(8)", "交", "互", "式", "的", "调", "试", "ext4"]
    assert split_words("カタカナabcテスト") == ["カ", "タ", "カ", "ナ", "abc", "テ", "ス", "ト"]


def test_punctuation_only_tokens_are_not_words():
    assert split_words("- Oui, « merci » -- dit-il !") == ["Oui,", "merci", "dit-il"]
    assert split_words("$$ | 12 + ... «word»") == ["$$", "|", "12", "+", "«word»"]


@pytest.mark.parametrize("text,reason", [
    ("one two three four five", None),
    ("one two three four", "too_few_words"),
    ("", "too_few_words"),
    ("$$$ ### 123 456 !!! --- 789 word", "low_alpha_ratio"),  # 1 of 5 words (### !!! --- are not words)
    ("### !!! --- ... word", "too_few_words"),
    ("Prices: 10 20 30 apples pears plums figs dates", "low_alpha_ratio"),  # 6 of 9 < 0.8
    ("Prices: 10 apples pears plums figs dates", None),  # 6 of 7 >= 0.8
])
def test_basic_verdicts(text, reason):
    assert verdict(text, BASIC) == reason


def test_none_keeps_everything_but_empty_text():
    assert verdict("$$ 1", NONE) is None
    assert verdict(" \n\t\n", NONE) == "empty"


def test_alpha_ratio_threshold_is_inclusive():
    assert verdict("a b c d 1", BASIC) is None  # exactly 0.8 alphabetic
    assert verdict("a b c d 1 2", BASIC) == "low_alpha_ratio"


def test_max_words():
    strict = dataclasses.replace(BASIC, name="strict", max_words=6)
    assert verdict("a b c d e f g", strict) == "too_many_words"
    assert verdict("a b c d e f", strict) is None


def test_presets_are_named_and_frozen():
    assert list(PRESETS) == ["none", "basic", "c4", "gopher", "fineweb"]
    assert preset("basic") is BASIC and preset("c4") is C4 and preset("gopher") is GOPHER
    assert preset("fineweb") is FINEWEB and preset("none") is NONE
    with pytest.raises(dataclasses.FrozenInstanceError):
        BASIC.min_words = 1  # type: ignore[misc]
    with pytest.raises(ValueError, match="unknown filter preset 'c5'; choose one or more \\(comma-separated\\) "
                                         "of none, basic, c4, gopher, fineweb"):
        preset("c4,c5")
    with pytest.raises(TypeError):
        FilterConfig(min_words=5)  # name is required


def test_combined_presets_are_the_union_and_take_the_stricter_threshold():
    both = preset("c4, gopher")
    assert both.name == "c4,gopher"
    assert both == dataclasses.replace(GOPHER, name="c4,gopher", **{
        f.name: getattr(C4, f.name) for f in dataclasses.fields(FilterConfig) if f.name.startswith("c4_")})
    # basic's min_words=5 and gopher's 50 are the same rule: the stricter (50) wins, either order
    assert preset("basic,gopher") == dataclasses.replace(GOPHER, name="basic,gopher")
    assert preset("gopher,basic").min_words == 50 and preset("none,basic") == dataclasses.replace(BASIC, name="none,basic")
    assert preset("basic,basic") is BASIC
    loose = dataclasses.replace(GOPHER, name="loose", max_words=None, min_words=10, max_mean_word_length=12,
                                max_top_ngram_char_fractions=((2, 0.5), (11, 0.05)))
    merged = combine(loose, GOPHER)
    assert (merged.min_words, merged.max_words, merged.max_mean_word_length) == (50, 100_000, 10)
    assert merged.max_top_ngram_char_fractions == ((2, 0.20), (3, 0.18), (4, 0.16), (11, 0.05))
    assert combine(dataclasses.replace(NONE, wordlist=("b", "c")), dataclasses.replace(NONE, wordlist=("a", "b"))
                   ).wordlist == ("a", "b", "c")


def test_combined_preset_drops_what_either_preset_drops():
    sentences = "The cat sat on the mat and looked at the bird."
    assert verdict(sentences, C4) == "c4_too_few_sentences"
    assert verdict(sentences, GOPHER) == "too_few_words"
    assert verdict(sentences, preset("gopher,c4")) == "c4_too_few_sentences"  # the line stage runs first
    assert verdict(sentences, FINEWEB) is None


def test_configs_are_json_for_the_manifest():
    config = configure("c4,gopher,fineweb", mask_pii=True)
    assert json.loads(json.dumps(dataclasses.asdict(config)))["max_dup_ngram_char_fractions"][0] == [5, 0.15]
    listed = dataclasses.replace(config, wordlist=("bad", "worse"))
    described = manifest_config(listed)
    assert described["wordlist"] == {
        "entries": 2, "sha256": "6d754effc2bdf900ed4b1c151dd7dd733c4900b9d325c7173bb0036d07ce9687"}
    assert described["mask_pii"] is True and described["name"] == "c4,gopher,fineweb"


def test_configure_loads_the_word_list_once(tmp_path):
    (tmp_path / "words.txt").write_text("Bad\n\n# a comment\nvery bad phrase\nbad\n")
    config = configure("basic", wordlist_url=str(tmp_path / "words.txt"))
    assert config.wordlist == ("bad", "very bad phrase") and config.name == "basic" and not config.mask_pii
    assert verdict("This sentence is not bad at all.", config) == "wordlist"
    assert verdict("This sentence is not badly made.", config) is None


def test_clean_record_text_row():
    record = RawRecord(source="s.jsonl", position=3, url="http://x/", text="Cafe\u0301 au lait\r\n\r\n  is   a drink. ",
                       lang="fr", timestamp=1700000000)
    counts, count = counter()
    row = clean_record(record, BASIC, count)
    assert 0.3 < row.pop("lang_score") < 1.0  # identified, whatever the input said
    assert row == {
        "id": doc_id(position_key("s.jsonl", 3)), "url": "http://x/", "text": "Caf\u00e9 au lait\nis a drink.", "lang": "fr",
        "source": "s.jsonl", "timestamp": 1700000000, "num_chars": 24, "num_words": 6,
        "num_lines": 2, "num_lines_removed": 1, "mean_word_length": 19 / 6,
    }
    assert counts == {"lines/kept": 2, "lines/removed_empty": 1}


def test_clean_record_counts_c4_lines_and_signals_follow_the_kept_text():
    text = ("Menu\n\nThe first sentence is long enough here. The second one is too.\n"
            "Please enable javascript to see this page.\nThe third sentence closes this page.\n")
    counts, count = counter()
    row = clean_record(RawRecord(source="s", position=1, text=text), C4, count)
    assert row["text"] == ("The first sentence is long enough here. The second one is too.\n"
                           "The third sentence closes this page.")
    assert (row["num_lines"], row["num_lines_removed"], row["num_words"]) == (2, 4, 18)
    assert counts == {"lines/removed_empty": 2, "lines/c4_no_terminal_punct": 1, "lines/c4_javascript": 1,
                      "lines/kept": 2}


def test_clean_record_masks_pii_in_kept_documents_only():
    text = "Write to jane.doe@example.com or ops@example.org from 8.8.8.8 or 10.0.0.1 today."
    counts, count = counter()
    row = clean_record(RawRecord(source="s", position=1, text=text), configure("basic", mask_pii=True), count)
    assert row["text"] == "Write to <email> or <email> from <ip> or 10.0.0.1 today."
    assert (row["num_chars"], row["num_words"], row["mean_word_length"]) == (56, 10, 47 / 10)
    assert counts == {"lines/kept": 1, "pii/email_masked": 2, "pii/ip_masked": 1}
    counts.clear()
    dropped = clean_record(RawRecord(source="s", position=2, text="mail a@example.com"), configure(mask_pii=True), count)
    assert dropped == Drop(reason="too_few_words", source="s", position=2)
    assert counts == {"lines/kept": 1}


def test_clean_record_html_row_and_drops():
    page = "<html><body><p>Caf\u00e9 cr\u00e8me is served here every day.</p></body></html>".encode("cp1252")
    row = clean_record(RawRecord(source="w.warc.gz", position=10, html=page, charset="cp1252"), BASIC)
    assert row["text"] == "Caf\u00e9 cr\u00e8me is served here every day." and row["lang"] == "en"
    assert row["url"] is None and row["timestamp"] is None and row["num_lines_removed"] == 0
    short = clean_record(RawRecord(source="w", position=1, html=b"<html><p>hi</p></html>"), BASIC)
    assert short == Drop(reason="too_few_words", source="w", position=1)
    junk = clean_record(RawRecord(source="w", position=2, text="| 1 | 2 | 3 | 4 | 5 |"), BASIC)
    assert junk == Drop(reason="low_alpha_ratio", source="w", position=2)
    assert not isinstance(short, Reject)


@pytest.mark.slow
def test_a_20_mb_single_line_page_finishes_under_every_preset():
    words = [f"w{i % 997}x{i % 13}" for i in range(2_900_000)]
    line = " ".join(words) + " contact me at someone@example.com or 8.8.8.8"
    assert len(line) > 20_000_000 and "\n" not in line
    record = RawRecord(source="big", position=1, text=line)
    outcomes = {name: clean_record(record, configure(name, mask_pii=True))
                for name in ("none", "basic", "c4", "gopher", "fineweb", "c4,gopher,fineweb")}
    assert outcomes["none"]["num_lines"] == outcomes["basic"]["num_lines"] == 1
    assert outcomes["basic"]["text"].endswith("contact me at <email> or <ip>")
    assert {name: o.reason for name, o in outcomes.items() if isinstance(o, Drop)} == {
        "c4": "c4_too_few_sentences", "gopher": "too_many_words", "fineweb": "fineweb_line_punct",
        "c4,gopher,fineweb": "c4_too_few_sentences"}


def test_clean_record_keeps_only_wanted_languages():
    german = RawRecord(source="s.jsonl", position=1, text="Der Hund läuft schnell über die grüne Wiese am Fluss.")
    counts, count = counter()
    dropped = clean_record(german, BASIC, count, langs=LangConfig(keep=frozenset({"en"})))
    assert isinstance(dropped, Drop) and dropped.reason == "lang_not_wanted"
    assert counts == {"lang_dropped/de": 1}
    kept = clean_record(german, BASIC, langs=LangConfig(keep=frozenset({"de", "en"})))
    assert kept["lang"] == "de" and kept["lang_score"] > 0.9
    low = clean_record(german, BASIC, langs=LangConfig(min_score=0.999999))
    assert isinstance(low, Drop) and low.reason == "lang_low_score"
    with pytest.raises(ValueError, match="--lang-min-score must be within"):
        LangConfig(min_score=1.5)
