"""`tlm`: parallel input (listing, parsing, rejects) and XLM's pair layout."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from pipelines.build.objectives.tlm import TlmConfig, build_tlm, fit
from pipelines.build.parallel import (PairFields, ParallelFile, iter_pairs, parallel_files, parse_langs, parse_line,
                                      tokenize_pairs)
from pipelines.build.tokenize_docs import make_doc
from tests.pipelines.build.objective_docs import CLS, SEP

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "parallel"


def pair(pid, langs, a, b):
    return make_doc(pid, [(a, [True] * len(a)), (b, [True, False] * (len(b) // 2) + [True] * (len(b) % 2))], lang=langs)


def run(pairs, seq_len=16, **kw):
    counter = Counter()
    config = TlmConfig(seq_len=seq_len, cls_id=CLS, sep_id=SEP, languages={"de": 0, "en": 1, "fr": 2}, **kw)
    return [{k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in e.items()}
            for e in build_tlm(pairs, config, counter)], counter


def test_xlm_layout_language_ids_and_b_start():
    out, counter = run([pair("p1", "en-de", [10, 11, 12], [20, 21])])
    assert out == [{"input_ids": [CLS, 10, 11, 12, SEP, SEP, 20, 21, SEP],
                    "word_start": [True, True, True, True, True, True, True, False, True],
                    "doc_id": "p1", "segment_b_start": 5,
                    "langs": [1, 1, 1, 1, 1, 0, 0, 0, 0]}]
    assert counter == {"tlm/pairs/en-de": 1}


def test_too_long_pairs_dropped_or_truncated_and_counted():
    long = pair("p2", "en-fr", list(range(100, 112)), list(range(200, 204)))  # 12 + 4 + 4 specials > 16
    fits = pair("p3", "fr-en", [30], [40])
    out, counter = run([long, fits])
    assert [e["doc_id"] for e in out] == ["p3"] and out[0]["langs"] == [2, 2, 2, 1, 1, 1]
    assert counter == {"tlm/dropped/too_long": 1, "tlm/pairs/fr-en": 1}
    out, counter = run([long], pair_overflow="truncate")
    assert out[0]["input_ids"] == [CLS, *range(100, 109), SEP, SEP, *range(200, 203), SEP]  # 9:3 of 12 tokens
    assert len(out[0]["input_ids"]) == 16 and out[0]["segment_b_start"] == 11
    assert counter == {"tlm/truncated": 1, "tlm/pairs/en-fr": 1}


def test_fit_shares_the_budget_in_proportion():
    assert fit(3, 4, 10) == (3, 4)
    assert fit(12, 4, 12) == (9, 3)
    assert fit(100, 1, 12) == (11, 1)  # each side keeps at least one token
    assert fit(1, 100, 12) == (1, 11)
    assert fit(5, 5, 1) == (0, 0)


@pytest.mark.parametrize("raw, fmt, expected", [
    (b"Hello world\tHallo Welt\n", "tsv", ("Hello world", "Hallo Welt")),
    (b"Hello world\r\n", "tsv", "no_tab"),
    (b"a\tb\tc\n", "tsv", "extra_tab"),
    (b"Hello\t  \n", "tsv", "empty_side"),
    (b"\tHallo\n", "tsv", "empty_side"),
    (b"caf\xe9\tCaf\xc3\xa9\n", "tsv", "invalid_utf8"),
    (b'{"translation": {"en": "Hi", "de": "Hallo"}}\n', "jsonl", ("Hi", "Hallo")),
    (b'{"translation": {"en": "Hi"}}\n', "jsonl", "missing_field"),
    (b'{"translation": {"en": "Hi", "de": 3}}\n', "jsonl", "missing_field"),
    (b'{"translation": {"en": "Hi", "de": ""}}\n', "jsonl", "empty_side"),
    (b'not json\n', "jsonl", "invalid_json"),
    (b'["en", "de"]\n', "jsonl", "invalid_json"),
])
def test_parse_line(raw, fmt, expected):
    assert parse_line(raw, fmt, PairFields(src="translation.en", tgt="translation.de")) == expected


def test_bad_lines_are_counted_and_good_ones_read(tmp_path):
    path = tmp_path / "tiny.en-de.tsv"
    path.write_bytes(b"\xef\xbb\xbfOne.\tEins.\nno tab here\nTwo.\t\n\xff\xfe\tbad\nThree.\tDrei.\n")
    counter = Counter()
    pairs = list(iter_pairs(ParallelFile(str(path), "tsv", "en", "de"), PairFields(), counter))
    assert [(langs, src, tgt) for _, langs, src, tgt in pairs] == [("en-de", "One.", "Eins."),
                                                                  ("en-de", "Three.", "Drei.")]
    assert len({pid for pid, *_ in pairs}) == 2
    assert counter == {"pairs/read": 5, "pairs/rejected/no_tab": 1, "pairs/rejected/empty_side": 1,
                       "pairs/rejected/invalid_utf8": 1}


def test_languages_come_from_file_names_or_langs(tmp_path):
    (tmp_path / "a.en-de.tsv").write_text("x\ty\n")
    (tmp_path / "b.fr-en.jsonl").write_text('{"src": "x", "tgt": "y"}\n')
    (tmp_path / "notes.txt").write_text("skipped: not a parallel file\n")
    files = parallel_files(str(tmp_path), None)
    assert [(Path(f.url).name, f.format, f.src_lang, f.tgt_lang, f.name) for f in files] == [
        ("a.en-de.tsv", "tsv", "en", "de", "a.en-de.tsv"), ("b.fr-en.jsonl", "jsonl", "fr", "en", "b.fr-en.jsonl")]
    (tmp_path / "c.tsv").write_text("x\ty\n")
    with pytest.raises(ValueError, match=r"c\.tsv: the file name does not say its languages; name it "
                                         r"\*\.<l1>-<l2>\.tsv or pass --langs l1,l2"):
        parallel_files(str(tmp_path), None)
    assert {(f.src_lang, f.tgt_lang) for f in parallel_files(str(tmp_path), ("ja", "en"))} == {("ja", "en")}
    with pytest.raises(FileNotFoundError, match="does not exist"):
        parallel_files(str(tmp_path / "nowhere"), None)
    with pytest.raises(ValueError, match="--langs takes two different language codes"):
        parse_langs("en")
    assert parse_langs("en,zh_Hans") == ("en", "zh_Hans")


def test_tokenize_pairs_makes_two_sentence_documents(wordpiece):
    docs, skipped = tokenize_pairs(wordpiece, [("p", "en-de", "Hello world", "Hallo Welt"),
                                               ("q", "en-de", "Hello", "\u200b")])
    assert skipped == {"no_tokens": 1}
    (doc,) = docs
    assert (doc.doc_id, doc.lang, doc.num_sentences) == ("p", "en-de", 2)
    assert doc.sentence(0)[0].tolist() == wordpiece.encode("Hello world", add_special_tokens=False).ids
    assert doc.sentence(1)[0].tolist() == wordpiece.encode("Hallo Welt", add_special_tokens=False).ids
    assert doc.sentence(1)[1][0]  # each side starts a word


@pytest.fixture(scope="module")
def wordpiece():
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world",
                                         "hallo", "welt", "##o", "H", "W", "##ello", "##orld", "##allo", "##elt"])}
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, lowercase=False)  # drops \u200b: no tokens
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tok


def test_real_parallel_files_read_without_rejects():
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (the shared test data, see ../shared/data/README.md)")
    files = parallel_files(str(SHARED), None)
    assert {(f.src_lang, f.tgt_lang) for f in files} == {("en", "de"), ("en", "fr"), ("en", "ja")}
    counter = Counter()
    pairs = [p for f in files for p in iter_pairs(f, PairFields(), counter)]
    assert counter["pairs/read"] == len(pairs) > 7000
    assert not [k for k in counter if k.startswith("pairs/rejected/")]
