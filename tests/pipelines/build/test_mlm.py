"""`mlm` builder: FULL-SENTENCES and DOC-SENTENCES packing, per-language streams."""

from dataclasses import replace

import pytest

from pipelines.build.objectives.common import streams
from pipelines.build.objectives.mlm import MlmConfig, build_mlm
from pipelines.build.tokenize_docs import make_doc
from tests.pipelines.build.objective_docs import CLS, SEP, numbered_docs, owner


def run(docs, **kw):
    return [(e["doc_id"], e["input_ids"].tolist(), e["word_start"].tolist(), e.get("lang"))
            for e in build_mlm(docs, MlmConfig(cls_id=CLS, sep_id=SEP, **kw))]


INLINE = [make_doc("a", [([10, 11], [True, False]), ([12], [True])]),
          make_doc("b", [([20, 21, 22], [True, True, False])]),
          make_doc("e", []),  # empty: contributes nothing, not even a separator
          make_doc("c", [([30] * 9, [True] + [False] * 8)])]  # one over-long sentence


def test_full_sentences_pack_across_documents_with_a_separator():
    assert run(INLINE, seq_len=9) == [
        ("a", [CLS, 10, 11, 12, SEP, 20, 21, 22, SEP], [True, True, False, True, True, True, True, False, True], None),
        ("c", [CLS] + [30] * 7 + [SEP], [True, True] + [False] * 6 + [True], None),
        ("c", [CLS, 30, 30, SEP], [True, False, False, True], None),  # cut inside the word: no start
    ]


def test_doc_sentences_never_cross_a_document():
    assert run(INLINE, seq_len=9, packing="doc") == [
        ("a", [CLS, 10, 11, 12, SEP], [True, True, False, True, True], None),
        ("b", [CLS, 20, 21, 22, SEP], [True, True, True, False, True], None),
        ("c", [CLS] + [30] * 7 + [SEP], [True, True] + [False] * 6 + [True], None),
        ("c", [CLS, 30, 30, SEP], [True, False, False, True], None),
    ]


def test_one_sentence_document_alone():
    assert run([make_doc("x", [([7], [True])])], seq_len=8) == [("x", [CLS, 7, SEP], [True, True, True], None)]
    assert run([make_doc("x", [])], seq_len=8) == []


@pytest.mark.parametrize("packing", ["full", "doc"])
@pytest.mark.parametrize("seq_len", [16, 4096])
def test_packing_keeps_every_token_in_order_within_budget(packing, seq_len):
    docs = numbered_docs(10, num_sentences=40, max_len=200 if seq_len > 1000 else 8)
    examples = list(build_mlm(docs, MlmConfig(seq_len=seq_len, cls_id=CLS, sep_id=SEP, packing=packing)))
    assert all(len(e["input_ids"]) <= seq_len for e in examples)
    body = [t for e in examples for t in e["input_ids"][1:-1].tolist() if t != SEP]
    assert body == [t for d in docs for t in d.ids.tolist()]
    crossing = [e for e in examples if len({owner(t) for t in e["input_ids"][1:-1].tolist() if t != SEP}) > 1]
    if packing == "doc":
        assert not crossing
        assert all(SEP not in e["input_ids"][1:-1].tolist() for e in examples)
        assert all({owner(t) for t in e["input_ids"][1:-1].tolist()} == {int(e["doc_id"][4:])} for e in examples)
    else:
        assert crossing  # the interesting case happened
    if seq_len == 4096:
        assert max(len(e["input_ids"]) for e in examples) > 2048  # long sequences really filled


def test_per_language_streams_never_mix_languages():
    docs = [make_doc("d1", [([11, 12], [True, True])], lang="de"),
            make_doc("e1", [([21], [True])], lang="en"),
            make_doc("d2", [([13], [True])], lang="de"),
            make_doc("e2", [([22, 23], [True, False])], lang="en")]
    out = run(docs, seq_len=16, per_language=True, languages={"de": 0, "en": 1})
    assert out == [("d1", [CLS, 11, 12, SEP, 13, SEP], [True] * 6, 0),
                   ("e1", [CLS, 21, SEP, 22, 23, SEP], [True, True, True, True, False, True], 1)]
    assert run(docs, seq_len=16, per_language=True, packing="doc", languages={"de": 0, "en": 1}) == [
        ("d1", [CLS, 11, 12, SEP], [True] * 4, 0), ("d2", [CLS, 13, SEP], [True] * 3, 0),
        ("e1", [CLS, 21, SEP], [True] * 3, 1), ("e2", [CLS, 22, 23, SEP], [True, True, False, True], 1)]


def test_unknown_packing_is_refused():
    with pytest.raises(ValueError, match="unknown packing 'half'"):
        MlmConfig(seq_len=8, cls_id=CLS, sep_id=SEP, packing="half")


def _reference_pack(docs, seq_len, cls, sep):
    """The sentence-by-sentence packing the builder's array version must equal (piece by piece)."""
    budget, parts, length, start, out = seq_len - 2, [], 0, "", []
    for doc in docs:
        first = True
        for i in range(doc.num_sentences):
            ids, ws = doc.sentence(i)
            for lo in range(0, len(ids), budget):
                piece = (ids[lo:lo + budget].tolist(), ws[lo:lo + budget].tolist())
                boundary = 1 if (length and first) else 0
                if length and length + boundary + len(piece[0]) > budget:
                    out.append(parts)
                    parts, length, boundary = [], 0, 0
                if not length:
                    start = doc.doc_id
                    parts = [start]
                if boundary:
                    parts.append(([sep], [True]))
                parts.append(piece)
                length += boundary + len(piece[0])
                first = False
    if length:
        out.append(parts)
    return [([cls] + [t for p in e[1:] for t in p[0]] + [sep], [True] + [w for p in e[1:] for w in p[1]] + [True], e[0])
            for e in out]


@pytest.mark.parametrize("seq_len", [8, 11, 16, 40])
def test_packing_equals_the_sentence_by_sentence_reference(seq_len):
    """Every packing, with and without per-language streams, over documents holding empty
    sentences (first, inside, last), an empty document, and sentences over the budget."""
    docs = numbered_docs(12, num_sentences=5, seed=seq_len, max_len=9)
    docs.insert(4, make_doc("empty", []))
    docs.insert(7, make_doc("long", [(list(range(5000, 5000 + 3 * seq_len)), [True] * (3 * seq_len))]))
    docs.insert(9, make_doc("holes", [([], []), ([6001, 6002], [True, False]), ([], []), ([6003], [True]), ([], [])]))
    docs.append(make_doc("blank", [([], [])]))
    docs = [replace(d, lang=("de", "en", "fr")[k % 3]) for k, d in enumerate(docs)]
    languages = {"de": 0, "en": 1, "fr": 2}
    for packing in ("full", "doc"):
        for per_language in (False, True):
            config = MlmConfig(seq_len=seq_len, cls_id=CLS, sep_id=SEP, packing=packing, per_language=per_language,
                               languages=languages)
            got = [(e["input_ids"].tolist(), e["word_start"].tolist(), e["doc_id"], e.get("lang"))
                   for e in build_mlm(docs, config)]
            want = [(*x, languages[run[0].lang] if per_language else None)
                    for run in streams(docs, packing, per_language) for x in _reference_pack(run, seq_len, CLS, SEP)]
            assert got == want and len(want) > 5
