"""`clm`: XLM's per-language streams cut into seq_len windows."""

from collections import Counter

import numpy as np
import pytest

from pipelines.build.objectives.clm import ClmConfig, build_clm
from pipelines.build.tokenize_docs import make_doc
from tests.pipelines.build.objective_docs import SEP, numbered_docs, owner

LANGS = {"de": 0, "en": 1}


def run(docs, seq_len, packing="full"):
    counter = Counter()
    out = [(e["doc_id"], e["input_ids"].tolist(), e["word_start"].tolist(), e["lang"])
           for e in build_clm(docs, ClmConfig(seq_len=seq_len, sep_id=SEP, packing=packing, languages=LANGS),
                              counter)]
    return out, counter


DOCS = [make_doc("a", [([10, 11], [True, False]), ([12], [True])], lang="en"),
        make_doc("b", [([20, 21, 22], [True, True, False])], lang="en"),
        make_doc("e", [], lang="en"),
        make_doc("g", [([30, 31], [True, False])], lang="de")]


def test_streams_per_language_with_xlm_separators():
    out, counter = run(DOCS, seq_len=5)
    # de: </s> 30 31 </s>;  en: </s> 10 11 </s> 12 </s> </s> 20 21 22 </s> </s>(empty e) -> windows of 5
    assert out == [
        ("g", [SEP, 30, 31, SEP], [True, True, False, True], 0),
        ("a", [SEP, 10, 11, SEP, 12], [True, True, False, True, True], 1),
        ("a", [SEP, SEP, 20, 21, 22], [True, True, True, True, False], 1),
        ("b", [SEP, SEP], [True, True], 1),
    ]
    assert counter == {}


def test_doc_packing_restarts_the_stream_per_document_and_drops_one_token_tails():
    out, counter = run(DOCS, seq_len=3, packing="doc")
    assert out == [("g", [SEP, 30, 31], [True, True, False], 0),
                   ("a", [SEP, 10, 11], [True, True, False], 1), ("a", [SEP, 12, SEP], [True] * 3, 1),
                   ("b", [SEP, 20, 21], [True, True, True], 1), ("b", [22, SEP], [False, True], 1)]
    assert counter == {"clm/dropped/short_tail": 2}  # g's and e's lone </s>


@pytest.mark.parametrize("seq_len", [7, 4096])
def test_every_window_full_but_the_last_and_every_token_kept(seq_len):
    docs = numbered_docs(8, num_sentences=30, max_len=300 if seq_len > 1000 else 8)
    docs = [make_doc(d.doc_id, [d.sentence(i) for i in range(d.num_sentences)], lang="en") for d in docs]
    out, _ = run(docs, seq_len)
    assert all(len(ids) == seq_len for _, ids, _, _ in out[:-1]) and len(out[-1][1]) <= seq_len
    body = [t for _, ids, _, _ in out for t in ids if t != SEP]
    assert body == [t for d in docs for t in d.ids.tolist()]
    for doc_id, ids, _, _ in out:
        first = next(t for t in ids if t != SEP)
        assert owner(first) == int(doc_id[4:]) or ids[0] == SEP
    assert np.all([lang == 1 for *_, lang in out])


def test_an_over_long_sentence_runs_across_windows():
    doc = make_doc("long", [(list(range(100, 112)), [True] + [False] * 11)], lang="de")
    out, counter = run([doc], seq_len=5)
    assert [ids for _, ids, _, _ in out] == [[SEP, 100, 101, 102, 103], [104, 105, 106, 107, 108],
                                             [109, 110, 111, SEP]]
    assert [ws for _, _, ws, _ in out][1] == [False] * 5  # a window inside a word starts with a continuation
    assert {doc_id for doc_id, *_ in out} == {"long"} and counter == {}
