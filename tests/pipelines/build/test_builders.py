from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

from pipelines.build.builders import MlmConfig, NspConfig, build_mlm, build_nsp, doc_rng, examples_table
from pipelines.build.tokenize_docs import make_doc
from schemas import examples_schema

CLS, SEP = 1, 2


def synthetic_docs(num_docs: int, num_sentences: int = 6, seed: int = 0):
    """Document k, sentence s holds the distinct token 1000*k + 10*s + j (j < its length)."""
    rng = np.random.default_rng(seed)
    docs = []
    for k in range(num_docs):
        sentences = []
        for s in range(num_sentences):
            n = int(rng.integers(1, 9))
            sentences.append(([1000 * (k + 1) + 10 * s + j for j in range(n)], [j % 2 == 0 for j in range(n)]))
        docs.append(make_doc(f"doc-{k:03d}", sentences))
    return docs


def owner(token: int) -> int:
    return token // 1000 - 1


def nsp(seq_len=24, **kw):
    return NspConfig(seq_len=seq_len, cls_id=CLS, sep_id=SEP, **kw)


def test_nsp_structure_lengths_and_labels():
    docs = synthetic_docs(12)
    examples = list(build_nsp(docs, nsp(dupe_factor=20), seed=3))
    labels = Counter(e["next_sentence_label"] for e in examples)
    assert set(labels) == {0, 1}
    assert 0.4 < labels[1] / len(examples) < 0.7  # 0.5, plus single-segment chunks that must be random
    for e in examples:
        ids, ws, b = e["input_ids"].tolist(), e["word_start"].tolist(), e["segment_b_start"]
        assert len(ids) <= 24 and len(ws) == len(ids)
        assert ids[0] == CLS and ids[b - 1] == SEP and ids[-1] == SEP and ids.count(SEP) == 2
        assert b >= 3 and len(ids) - b >= 2  # A and B both non-empty
        assert ws[0] and ws[b - 1] and ws[-1] and ws[1] and ws[b]
        a_tokens, b_tokens = ids[1:b - 1], ids[b:-1]
        me = int(e["doc_id"].split("-")[1])
        assert {owner(t) for t in a_tokens} == {me}
        if e["next_sentence_label"] == 1:
            assert {owner(t) for t in b_tokens} != {me}  # random B comes from another document
            assert len({owner(t) for t in b_tokens}) == 1
        else:
            assert {owner(t) for t in b_tokens} == {me}
            assert b_tokens[0] > a_tokens[-1]  # B follows A in the document


def test_nsp_random_b_draws_from_several_documents():
    docs = synthetic_docs(8)
    sources = {owner(int(e["input_ids"][e["segment_b_start"]])) for e in build_nsp(docs, nsp(dupe_factor=10), 0)
               if e["next_sentence_label"] == 1 and e["doc_id"] == "doc-000"}
    assert len(sources) >= 3 and 0 not in sources


def test_nsp_uses_every_segment_without_truncation():
    # Long sequences: no truncation, so every sentence appears in some A or (non-random) B, once.
    docs = synthetic_docs(5)
    examples = list(build_nsp(docs, nsp(seq_len=512, short_seq_prob=0.0), seed=1))
    for doc in docs:
        used = Counter()
        for e in examples:
            if e["doc_id"] != doc.doc_id:
                continue
            b = e["segment_b_start"]
            used.update(e["input_ids"][1:b - 1].tolist())
            if e["next_sentence_label"] == 0:
                used.update(e["input_ids"][b:-1].tolist())
        assert sorted(used) == sorted(doc.ids.tolist())
        assert set(used.values()) == {1}  # put back, never repeated


def test_nsp_short_sequences_and_truncation_bound():
    docs = synthetic_docs(6, num_sentences=20)
    examples = list(build_nsp(docs, nsp(seq_len=10, short_seq_prob=1.0), seed=0))
    assert max(len(e["input_ids"]) for e in examples) <= 10
    assert min(len(e["input_ids"]) for e in examples) < 10


def test_nsp_is_deterministic_per_seed():
    docs = synthetic_docs(6)

    def run(seed):
        return [(e["doc_id"], e["input_ids"].tolist(), e["next_sentence_label"])
                for e in build_nsp(docs, nsp(dupe_factor=2), seed)]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_nsp_single_document_group_never_labels_random():
    doc = make_doc("x", [([5] * 30, [True] * 30), ([6, 6], [True, False]), ([7, 7], [True, False])])
    counter = Counter()
    examples = list(build_nsp([doc], nsp(short_seq_prob=0.0), 0, counter))
    # The 30-token sentence is a one-segment chunk that needs a random B: no other document, dropped.
    assert counter == {"nsp/dropped/no_random_document": 1}
    assert [(e["input_ids"].tolist(), e["next_sentence_label"]) for e in examples] == [
        ([CLS, 6, 6, SEP, 7, 7, SEP], 0)]


def test_doc_rng_depends_on_seed_and_id_only():
    assert doc_rng(1, "a").random() == doc_rng(1, "a").random()
    assert doc_rng(1, "a").random() != doc_rng(2, "a").random()
    assert doc_rng(1, "a").random() != doc_rng(1, "b").random()


def test_mlm_packs_across_documents_with_a_separator():
    docs = [make_doc("a", [([10, 11], [True, False]), ([12], [True])]),
            make_doc("b", [([20, 21, 22], [True, True, False])]),
            make_doc("c", [([30] * 9, [True] + [False] * 8)])]
    out = [(e["doc_id"], e["input_ids"].tolist(), e["word_start"].tolist())
           for e in build_mlm(docs, MlmConfig(seq_len=9, cls_id=CLS, sep_id=SEP))]
    assert out == [
        ("a", [CLS, 10, 11, 12, SEP, 20, 21, 22, SEP], [True, True, False, True, True, True, True, False, True]),
        ("c", [CLS] + [30] * 7 + [SEP], [True, True] + [False] * 6 + [True]),
        ("c", [CLS, 30, 30, SEP], [True, True, False, True]),  # a cut piece starts a word
    ]


def test_mlm_keeps_every_token_in_order_within_budget():
    docs = synthetic_docs(10)
    examples = list(build_mlm(docs, MlmConfig(seq_len=16, cls_id=CLS, sep_id=SEP)))
    assert all(len(e["input_ids"]) <= 16 for e in examples)
    body = [t for e in examples for t in e["input_ids"][1:-1].tolist() if t != SEP]
    assert body == [t for d in docs for t in d.ids.tolist()]
    assert any(SEP in e["input_ids"][1:-1].tolist() for e in examples)  # crossed a boundary at least once


def test_examples_table_matches_schema():
    docs = synthetic_docs(3)
    examples = list(build_nsp(docs, nsp(), 0))
    schema = examples_schema("nsp", 30000)
    table = examples_table(examples, schema)
    assert table.schema == schema and table.num_rows == len(examples)
    row = table.slice(0, 1).to_pylist()[0]
    assert row["input_ids"] == examples[0]["input_ids"].tolist()
    assert row["segment_b_start"] == examples[0]["segment_b_start"]
    assert examples_table([], schema).num_rows == 0
    with pytest.raises(pa.ArrowInvalid):  # an id over uint16 is an error, not a silent wrap
        examples_table([{**examples[0], "input_ids": np.array([70000], dtype=np.uint32)}], schema)
