"""`nsp` builder: BERT's pairs, random B from the corpus-wide negative pool."""

from collections import Counter

from pipelines.build.objectives.common import ShardContext, doc_rng
from pipelines.build.objectives.negative_pool import NegativePool, pool_rank, pool_window, pool_windows
from pipelines.build.objectives.nsp import NspConfig, build_nsp
from pipelines.build.tokenize_docs import DocBatch, make_doc
from tests.pipelines.build.objective_docs import CLS, SEP, is_run, numbered_docs, owner


def nsp(seq_len=24, **kw):
    return NspConfig(seq_len=seq_len, cls_id=CLS, sep_id=SEP, **kw)


def build(docs, config, pool_docs=None, counter=None):
    pool = NegativePool(docs if pool_docs is None else pool_docs)
    return list(build_nsp(docs, config, counter, ShardContext(negative_pool=pool)))


def test_nsp_order_origin_lengths_and_labels():
    docs = numbered_docs(12)
    examples = build(docs, nsp(dupe_factor=20, seed=3))
    labels = Counter(e["next_sentence_label"] for e in examples)
    assert 0.4 < labels[1] / len(examples) < 0.7  # 0.5, plus single-segment chunks that must be random
    for e in examples:
        ids, ws, b = e["input_ids"].tolist(), e["word_start"].tolist(), e["segment_b_start"]
        assert len(ids) <= 24 and len(ws) == len(ids)
        assert ids[0] == CLS and ids[b - 1] == SEP and ids[-1] == SEP and ids.count(SEP) == 2
        assert b >= 3 and len(ids) - b >= 2  # A and B both non-empty
        assert ws[0] and ws[b - 1] and ws[-1]
        assert ws[1:b - 1] == [t % 10 % 2 == 0 for t in ids[1:b - 1]]  # the tokens' own flags, also when cut
        assert ws[b:-1] == [t % 10 % 2 == 0 for t in ids[b:-1]]
        a_tokens, b_tokens = ids[1:b - 1], ids[b:-1]
        me = int(e["doc_id"].split("-")[1])
        assert {owner(t) for t in a_tokens} == {me} and is_run(a_tokens, docs[me])
        source = {owner(t) for t in b_tokens}
        assert len(source) == 1 and is_run(b_tokens, docs[source.pop()])
        if e["next_sentence_label"] == 1:
            assert owner(b_tokens[0]) != me  # random B comes from another document
        else:
            assert owner(b_tokens[0]) == me and b_tokens[0] > a_tokens[-1]  # B follows A


def test_random_b_draws_from_several_documents():
    docs = numbered_docs(8)
    sources = {owner(int(e["input_ids"][e["segment_b_start"]])) for e in build(docs, nsp(dupe_factor=10))
               if e["next_sentence_label"] == 1 and e["doc_id"] == "doc-000"}
    assert len(sources) >= 3 and 0 not in sources


def test_every_segment_used_once_without_truncation():
    docs = numbered_docs(5)
    examples = build(docs, nsp(seq_len=512, short_seq_prob=0.0, seed=1))
    for doc in docs:
        used = Counter()
        for e in examples:
            if e["doc_id"] == doc.doc_id:
                b = e["segment_b_start"]
                used.update(e["input_ids"][1:b - 1].tolist())
                if e["next_sentence_label"] == 0:
                    used.update(e["input_ids"][b:-1].tolist())
        assert sorted(used) == sorted(doc.ids.tolist()) and set(used.values()) == {1}  # put back, never repeated


def test_short_sequences_and_truncation_of_over_long_sentences():
    docs = numbered_docs(6, num_sentences=20, max_len=9)
    docs.append(make_doc("doc-006", [(list(range(7000, 7009)), [True] * 9)] * 1))  # one sentence, seq 10 cannot hold it
    examples = build(docs, nsp(seq_len=10, short_seq_prob=1.0))
    assert max(len(e["input_ids"]) for e in examples) <= 10
    assert min(len(e["input_ids"]) for e in examples) < 10
    one = [e for e in examples if e["doc_id"] == "doc-006"]
    assert len(one) == 1 and one[0]["next_sentence_label"] == 1  # a one-sentence document needs a random B


def test_deterministic_per_seed():
    docs = numbered_docs(6)

    def run(seed):
        return [(e["doc_id"], e["input_ids"].tolist(), e["next_sentence_label"])
                for e in build(docs, nsp(dupe_factor=2, seed=seed))]

    assert run(7) == run(7) and run(7) != run(8)


def test_without_another_pool_document_random_pairs_are_dropped_and_counted():
    doc = make_doc("x", [([5] * 30, [True] * 30), ([6, 6], [True, False]), ([7, 7], [True, False])])
    counter = Counter()
    examples = build([doc], nsp(short_seq_prob=0.0), counter=counter)
    # The 30-token sentence is a one-segment chunk that needs a random B: no other document, dropped.
    assert counter == {"nsp/dropped/no_random_document": 1}
    assert [(e["input_ids"].tolist(), e["next_sentence_label"]) for e in examples] == [([CLS, 6, 6, SEP, 7, 7, SEP], 0)]
    assert build([make_doc("e", [])], nsp()) == []  # an empty document gives nothing


def test_examples_do_not_depend_on_how_documents_are_sharded():
    """One pool for the split: a document alone in its shard gets the same pairs as in one big shard."""
    docs = numbered_docs(30, num_sentences=5)
    ranked = sorted(docs, key=lambda d: pool_rank(0, d.doc_id))
    pool = [pool_window(d, 0, 48) for d in ranked[:10]]
    config = nsp(dupe_factor=3)
    together = build(docs, config, pool)
    alone = [e for d in docs for e in build([d], config, pool)]
    key = lambda e: (e["doc_id"], e["input_ids"].tolist(), e["segment_b_start"], e["next_sentence_label"])  # noqa: E731
    assert [key(e) for e in together] == [key(e) for e in alone]
    randoms = [e for e in together if e["next_sentence_label"] == 1]
    pooled = {d.doc_id for d in ranked[:10]}
    assert {f"doc-{owner(int(e['input_ids'][e['segment_b_start']])):03d}" for e in randoms} <= pooled
    assert len({owner(int(e["input_ids"][e["segment_b_start"]])) for e in randoms}) == 10  # every pool document used


def test_pool_window_keeps_whole_sentences_from_a_seeded_start():
    doc = numbered_docs(1, num_sentences=30)[0]
    window = pool_window(doc, 0, 20)
    assert window.doc_id == doc.doc_id and 1 <= window.num_sentences and window.num_tokens <= 20
    assert is_run(window.ids.tolist(), doc)
    for i in range(window.num_sentences):  # sentence boundaries kept
        assert window.sentence(i)[0][0] % 10 == 0
    long = make_doc("long", [(list(range(1000, 1100)), [True] * 100)])
    assert pool_window(long, 0, 20).ids.tolist() == list(range(1000, 1020))  # one sentence, cut
    starts = {pool_window(doc, seed, 20).ids[0] for seed in range(20)}
    assert len(starts) > 5  # the start sentence is drawn


def test_pool_windows_of_a_batch_are_each_documents_pool_window():
    docs = numbered_docs(20, num_sentences=12, max_len=9)
    docs += [make_doc("long", [(list(range(1000, 1100)), [True] * 100), ([5, 6], [True, False])]),
             make_doc("one", [([7, 8, 9], [True, True, False])])]
    for seed, tokens in ((0, 20), (1, 5), (2, 48), (3, 1000)):
        windows = list(pool_windows(DocBatch.of(docs), seed, tokens).docs())
        for got, want in zip(windows, [pool_window(d, seed, tokens) for d in docs], strict=True):
            assert got.doc_id == want.doc_id and got.ids.tolist() == want.ids.tolist()
            assert got.word_start.tolist() == want.word_start.tolist() and got.offsets.tolist() == want.offsets.tolist()


def reference_nsp(doc, pool_docs, seq_len, short_seq_prob, rng):
    """google-research/bert `create_instances_from_document`, written literally over token lists,
    with the random document drawn from the pool (uniform over its other documents, one draw)."""
    sentences = [doc.sentence(i)[0].tolist() for i in range(doc.num_sentences)]
    max_num_tokens = seq_len - 3
    target = max_num_tokens
    if rng.random() < short_seq_prob:
        target = int(rng.integers(2, max_num_tokens + 1))
    others = [p for p in pool_docs if p.doc_id != doc.doc_id]
    out, chunk, length, i = [], [], 0, 0
    while i < len(sentences):
        chunk.append(sentences[i])
        length += len(sentences[i])
        if i == len(sentences) - 1 or length >= target:
            a_end = int(rng.integers(1, len(chunk))) if len(chunk) >= 2 else 1
            a = [t for s in chunk[:a_end] for t in s]
            is_random = len(chunk) == 1 or rng.random() < 0.5
            if is_random and not others and len(chunk) > 1:
                is_random = False
            if is_random and not others:
                chunk, length = [], 0
                i += 1
                continue
            if is_random:
                other = others[int(rng.integers(len(others)))]
                other_sentences = [other.sentence(j)[0].tolist() for j in range(other.num_sentences)]
                b = []
                for s in other_sentences[int(rng.integers(len(other_sentences))):]:
                    b.extend(s)
                    if len(b) >= target - len(a):
                        break
                i -= len(chunk) - a_end
            else:
                b = [t for s in chunk[a_end:] for t in s]
            while len(a) + len(b) > max_num_tokens:
                side = a if len(a) > len(b) else b
                if rng.random() < 0.5:
                    del side[0]
                else:
                    side.pop()
            out.append(([CLS] + a + [SEP] + b + [SEP], int(is_random)))
            chunk, length = [], 0
        i += 1
    return out


def test_matches_the_reference_algorithm_draw_for_draw():
    docs = numbered_docs(12, num_sentences=10, max_len=9)
    pool = [pool_window(d, 3, 40) for d in docs[:8]]  # some documents are in the pool, some are not
    for seq_len, short in ((12, 0.1), (24, 0.5), (128, 0.0)):
        config = nsp(seq_len=seq_len, short_seq_prob=short, seed=3)
        ours = [(e["input_ids"].tolist(), e["next_sentence_label"]) for e in build(docs, config, pool)]
        reference = [x for d in docs for x in reference_nsp(d, pool, seq_len, short, doc_rng(3, d.doc_id))]
        assert ours == reference and {label for _, label in ours} == {0, 1}


def _planned(docs, config, pool, monkeypatch, compiled):
    from pipelines.build.objectives import nsp as nsp_module

    with monkeypatch.context() as patch:
        if not compiled:
            patch.setattr(nsp_module, "planner_kernels", lambda: None)
        patch.setattr(nsp_module, "COMPILED_FROM_SENTENCES", 0)  # these shards are small
        counter = Counter()
        examples = list(build_nsp(docs, config, counter, ShardContext(negative_pool=pool)))
    return [(e["doc_id"], e["input_ids"].tolist(), e["word_start"].tolist(), e["segment_b_start"],
             e["next_sentence_label"]) for e in examples], counter


def test_the_compiled_planner_plans_exactly_what_the_python_one_does(monkeypatch):
    """nsp_kernels seeds each document's generator inside the kernel and draws from it as
    common.Draws draws from numpy's: the same examples, counts included."""
    import pytest

    pytest.importorskip("numba")
    from pipelines.build.objectives.nsp import planner_kernels

    assert planner_kernels() is not None
    docs = numbered_docs(40, num_sentences=7, max_len=9) + [make_doc("empty", []),
                                                           make_doc("long", [([5] * 70, [True] * 70)])]
    pools = {"the shard": NegativePool(docs[:-2] + docs[-1:]), "others": NegativePool(numbered_docs(5, seed=3)),
             "one": NegativePool(docs[:1]), "none": NegativePool()}
    for seq_len, short, dupe, seed in ((24, 0.1, 1, 0), (16, 0.6, 2, 3), (64, 0.0, 1, 7), (11, 0.9, 3, 1)):
        config = nsp(seq_len, short_seq_prob=short, dupe_factor=dupe, seed=seed)
        for name, pool in pools.items():
            python = _planned(docs, config, pool, monkeypatch, compiled=False)
            assert python[0], (seq_len, name)
            assert _planned(docs, config, pool, monkeypatch, compiled=True) == python, (seq_len, name)


def test_small_shards_are_planned_in_python_without_importing_numba(monkeypatch):
    from pipelines.build.objectives import nsp as nsp_module

    called = []
    monkeypatch.setattr(nsp_module, "planner_kernels", lambda: called.append(1))
    build(numbered_docs(6), nsp())
    assert called == []  # 36 sentences: under COMPILED_FROM_SENTENCES
