"""DocBatch: the documents that travel between the build's Beam stages, end to end in one set of arrays."""

import pickle

import numpy as np

from pipelines.build.job import SmallestRanks
from pipelines.build.objectives.negative_pool import NegativePool, PoolCandidates
from pipelines.build.tokenize_docs import DocBatch, make_doc, tokenize_batch
from tests.pipelines.build.objective_docs import numbered_docs


def same_docs(a, b) -> bool:
    return len(a) == len(b) and all(
        x.doc_id == y.doc_id and x.lang == y.lang and x.ids.tolist() == y.ids.tolist()
        and x.word_start.tolist() == y.word_start.tolist() and x.offsets.tolist() == y.offsets.tolist()
        for x, y in zip(a, b))


def test_doc_batch_holds_documents_and_selects_any_of_them_in_any_order():
    docs = numbered_docs(5, seed=3)
    docs[2] = make_doc("doc-002", [([7, 8, 9], [True, False, True])], lang="de")
    batch = DocBatch.of(docs)
    assert len(batch) == 5 and batch.token_counts().tolist() == [d.num_tokens for d in docs]
    assert batch.sentence_counts().tolist() == [d.num_sentences for d in docs]
    assert same_docs(list(batch.docs()), docs)
    for keep in ([4, 0, 2], [1], [], [3, 3]):
        assert same_docs(list(batch.select(keep).docs()), [docs[k] for k in keep])
    again = pickle.loads(pickle.dumps(batch.select([4, 2])))
    assert same_docs(list(again.docs()), [docs[4], docs[2]])
    assert len(DocBatch.of([])) == 0 and list(DocBatch.of([]).docs()) == []


def test_doc_batches_join_end_to_end():
    docs = numbered_docs(7, seed=4) + [make_doc("empty-ish", [([3], [True])], lang="de")]
    parts = [DocBatch.of(docs[:3]), DocBatch.of([]), DocBatch.of(docs[3:4]), DocBatch.of(docs[4:])]
    joined = DocBatch.join(parts)
    assert same_docs(list(joined.docs()), docs) and joined.langs[-1] == "de"
    assert len(DocBatch.join([])) == 0 and DocBatch.join(parts[:1]) is parts[0]


def test_pool_candidates_keep_the_smallest_ranks_through_pickling_and_combining():
    docs = numbered_docs(12, seed=1)
    ranks = np.random.default_rng(0).permutation(12).astype(np.uint64) * np.uint64(2**60 // 12)
    ranks[7] = ranks[2] = 1  # a tie among the smallest: the smaller id first
    parts = [PoolCandidates(ranks[i:i + 4], DocBatch.of(docs[i:i + 4])) for i in range(0, 12, 4)]
    combine = SmallestRanks(5)
    accumulators = []
    for part in reversed(parts):  # doc-007 comes before doc-002
        accumulator = combine.add_input(combine.create_accumulator(), pickle.loads(pickle.dumps(part)))
        accumulators.append(pickle.loads(pickle.dumps(combine.compact(accumulator))))
    out = combine.extract_output(combine.merge_accumulators(accumulators))
    best = sorted(range(12), key=lambda i: (int(ranks[i]), docs[i].doc_id))[:5]
    assert 2 in best and 7 in best and best.index(2) + 1 == best.index(7)
    assert out.ranks.tolist() == [int(ranks[i]) for i in best]
    assert same_docs(list(out.windows.docs()), [docs[i] for i in best])
    pool = pickle.loads(pickle.dumps(NegativePool.of_batch(out.windows)))
    assert same_docs(list(pool.docs), [docs[i] for i in best]) and pool.others(docs[best[0]].doc_id) == 4
    assert len(combine.extract_output(combine.create_accumulator())) == 0


def test_tokenize_batch_keeps_languages_and_drops_documents_of_no_tokens_between_others():
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers

    vocab = {t: i for i, t in enumerate(["[UNK]", "hello", "world", "##s", "."])}
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.normalizer = normalizers.Replace(Regex("x"), "")  # "xx" is text that encodes to nothing
    batch, skipped = tokenize_batch(tok, [("a", "hello worlds. world.", "en"), ("e", " \n ", "en"),
                                          ("z", "xx xxx", "de"), ("b", "hello", "de")])
    assert skipped == {"empty_text": 1, "no_tokens": 1}
    assert batch.doc_ids == ("a", "b") and batch.langs == ("en", "de")
    a, b = batch.docs()
    assert a.ids.tolist() == [1, 2, 3, 4, 2, 4] and a.offsets.tolist() == [0, 4, 6]
    assert a.word_start.tolist() == [True, True, False, True, True, True]
    assert b.ids.tolist() == [1] and b.offsets.tolist() == [0, 1] and b.lang == "de"
