"""`sop` builder: ALBERT's sentence-order pairs, never a segment of another document."""

from collections import Counter

from pipelines.build.objectives.common import doc_rng
from pipelines.build.objectives.sop import SopConfig, build_sop
from pipelines.build.tokenize_docs import make_doc
from tests.pipelines.build.objective_docs import CLS, SEP, is_run, numbered_docs, owner


def sop(seq_len=24, **kw):
    return SopConfig(seq_len=seq_len, cls_id=CLS, sep_id=SEP, **kw)


def test_order_and_origin_on_numbered_documents():
    docs = numbered_docs(12)
    examples = list(build_sop(docs, sop(dupe_factor=20, seed=3)))
    labels = Counter(e["sentence_order_label"] for e in examples)
    assert 0.4 < labels[1] / len(examples) < 0.6  # swapped half of the time, nothing else decides it
    for e in examples:
        ids, ws, b = e["input_ids"].tolist(), e["word_start"].tolist(), e["segment_b_start"]
        first, second = ids[1:b - 1], ids[b:-1]
        assert len(ids) <= 24 and ids[0] == CLS and ids[b - 1] == SEP and ids[-1] == SEP and ids.count(SEP) == 2
        assert ws[0] and ws[b - 1] and ws[-1]
        assert ws[1:b - 1] + ws[b:-1] == [t % 10 % 2 == 0 for t in first + second]  # the tokens' own flags
        me = int(e["doc_id"].split("-")[1])
        assert {owner(t) for t in first + second} == {me}  # never another document
        assert is_run(first, docs[me]) and is_run(second, docs[me])
        if e["sentence_order_label"] == 0:
            assert max(first) < min(second)  # A then B, as in the document
        else:
            assert max(second) < min(first)  # swapped


def test_consecutive_segments_without_truncation():
    docs = numbered_docs(6)
    for e in build_sop(docs, sop(seq_len=512, short_seq_prob=0.0)):
        b = e["segment_b_start"]
        first, second = e["input_ids"][1:b - 1].tolist(), e["input_ids"][b:-1].tolist()
        earlier, later = (first, second) if e["sentence_order_label"] == 0 else (second, first)
        doc = docs[owner(earlier[0])]
        assert is_run(earlier + later, doc)  # B starts where A ends


def test_one_sentence_document_is_split_at_a_word_start_never_paired_with_another_document():
    doc = make_doc("one", [([41, 42, 43, 44], [True, False, True, False])])  # words: 41 42 | 43 44
    seen = set()
    for seed in range(40):
        for e in build_sop([doc, *numbered_docs(3)], sop(seed=seed)):
            if e["doc_id"] == "one":
                seen.add((tuple(e["input_ids"].tolist()), e["sentence_order_label"]))
    assert seen == {((CLS, 41, 42, SEP, 43, 44, SEP), 0), ((CLS, 43, 44, SEP, 41, 42, SEP), 1)}


def test_one_word_segment_is_dropped_and_counted():
    counter = Counter()
    docs = [make_doc("w", [([9, 9, 9], [True, False, False])]), make_doc("e", [])]
    assert list(build_sop(docs, sop(), counter)) == [] and counter == {"sop/dropped/one_word_segment": 1}


def test_over_long_sentences_truncated_within_seq_len():
    docs = [make_doc("long", [(list(range(100, 160)), [True] * 60), (list(range(200, 230)), [True] * 30)])]
    examples = list(build_sop(docs, sop(seq_len=16, short_seq_prob=0.0, seed=1)))
    assert examples and all(len(e["input_ids"]) == 16 for e in examples)
    for e in examples:
        b = e["segment_b_start"]
        assert is_run(e["input_ids"][1:b - 1].tolist(), docs[0]) and is_run(e["input_ids"][b:-1].tolist(), docs[0])


def test_deterministic_per_seed():
    docs = numbered_docs(6)

    def run(seed):
        return [(e["input_ids"].tolist(), e["sentence_order_label"]) for e in build_sop(docs, sop(seed=seed))]

    assert run(5) == run(5) and run(5) != run(6)


def reference_sop(doc, seq_len, short_seq_prob, rng):
    """google-research/albert `create_instances_from_document` (random_next_sentence=False), written
    literally over token lists, with this project's one change: a one-segment chunk is split at a
    random word start instead of paired with another document. Draws in the reference's order."""
    sentences = [(doc.sentence(i)[0].tolist(), doc.sentence(i)[1].tolist()) for i in range(doc.num_sentences)]
    max_num_tokens = seq_len - 3
    target = max_num_tokens
    if rng.random() < short_seq_prob:
        target = int(rng.integers(2, max_num_tokens + 1))
    out, chunk, length = [], [], 0
    for i, segment in enumerate(sentences):
        chunk.append(segment)
        length += len(segment[0])
        if i == len(sentences) - 1 or length >= target:
            if len(chunk) >= 2:
                a_end = int(rng.integers(1, len(chunk)))
                a = [t for s in chunk[:a_end] for t in zip(*s)]
                b = [t for s in chunk[a_end:] for t in zip(*s)]
            else:
                tokens = list(zip(*chunk[0]))
                starts = [j for j in range(1, len(tokens)) if tokens[j][1]]
                if not starts:
                    chunk, length = [], 0
                    continue
                cut = starts[int(rng.integers(len(starts)))]
                a, b = tokens[:cut], tokens[cut:]
            swapped = rng.random() < 0.5
            if swapped:
                a, b = b, a
            while len(a) + len(b) > max_num_tokens:
                side = a if len(a) > len(b) else b
                if rng.random() < 0.5:
                    del side[0]
                else:
                    side.pop()
            out.append(([CLS] + [t for t, _ in a] + [SEP] + [t for t, _ in b] + [SEP], int(swapped)))
            chunk, length = [], 0
    return out


def test_matches_the_reference_algorithm_draw_for_draw():
    docs = numbered_docs(10, num_sentences=12, max_len=9) + [make_doc("one", [([41, 42, 43, 44], [True, False, True, True])])]
    for seq_len, short in ((12, 0.1), (20, 0.5), (64, 0.0)):
        config = sop(seq_len=seq_len, short_seq_prob=short, seed=4)
        ours = [(e["input_ids"].tolist(), e["sentence_order_label"]) for e in build_sop(docs, config)]
        reference = [x for d in docs for x in reference_sop(d, seq_len, short, doc_rng(4, d.doc_id))]
        assert ours == reference and len(ours) > len(docs)
