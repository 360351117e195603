"""The objective table and what every builder shares (registry, truncation, Arrow conversion)."""

from collections import Counter
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pytest

from pipelines.build.objectives import BUILDERS, BuildOptions, get_builder, load_builder
from pipelines.build.objectives.common import (
    Draws, ExampleColumns, PairPlan, ShardContext, doc_draws, doc_rng, examples_table, truncate_bounds)
from pipelines.build.objectives.negative_pool import NegativePool
from pipelines.build.tokenize_docs import make_doc
from schemas import OBJECTIVES, examples_schema, objective_columns
from tests.pipelines.build.objective_docs import CLS, SEP, numbered_docs


def test_every_objective_of_the_schema_table_has_a_builder_and_columns():
    assert list(BUILDERS) == list(OBJECTIVES)
    for name, builder in BUILDERS.items():
        assert builder.name == name
        options = BuildOptions(seq_len=32, cls_id=CLS, sep_id=SEP, languages={"und": 0})
        docs = numbered_docs(4)
        if builder.reads == "parallel":
            continue  # pairs: tests/pipelines/build/test_tlm.py
        context = ShardContext(negative_pool=NegativePool(docs))
        examples = list(builder.build(docs, builder.make_config(options), Counter(), context))
        assert examples
        per_language = "lang" in examples[0]
        assert set(examples[0]) == set(objective_columns(name, per_language))
        table = examples_table(examples, examples_schema(name, 30_000, per_language))
        assert table.num_rows == len(examples)


def test_a_table_row_without_its_builder_module_names_the_missing_file():
    """BUILDERS is loaded from the table's rows: adding an objective is its row and its module."""
    assert load_builder("sop") is BUILDERS["sop"]
    with pytest.raises(ImportError, match=r"schemas.OBJECTIVES lists 'mlm2' but pipelines/build/objectives/mlm2.py"):
        load_builder("mlm2")
    with pytest.raises(ImportError, match=r"objectives/common.py has no BUILDER named 'common'"):
        load_builder("common")  # a module without a BUILDER of its name


def test_unknown_objective_names_the_choices():
    with pytest.raises(ValueError, match=r"unknown --objective 'wat'; choose one of mlm, nsp, sop, tlm, clm"):
        get_builder("wat")


def test_doc_rng_depends_on_seed_and_id_only():
    assert doc_rng(1, "a").random() == doc_rng(1, "a").random()
    assert doc_rng(1, "a").random() != doc_rng(2, "a").random()
    assert doc_rng(1, "a").random() != doc_rng(1, "b").random()


def test_doc_rng_state_is_pcg64_of_the_seed_and_the_ids_digest_words():
    """The streams every built shard depends on: PCG64 seeded with [seed mod 2^32, sha256 words]."""
    import hashlib
    for seed, doc_id in [(0, "a"), (7, "0123456789abcdef"), (2**40 + 5, "pool\x00x"), (2**32 - 1, "é")]:
        digest = hashlib.sha256(f"{seed}\x00{doc_id}".encode("utf-8")).digest()
        words = [seed & 0xFFFFFFFF, *np.frombuffer(digest, dtype=np.uint32).tolist()]
        assert doc_rng(seed, doc_id).bit_generator.state == np.random.PCG64(words).state


def _truncate_one_at_a_time(a, b, max_num_tokens, rng):
    """google-research/bert's truncate_seq_pair, literally (the reference for truncate_bounds)."""
    a, b = list(a), list(b)
    while len(a) + len(b) > max_num_tokens:
        side = a if len(a) > len(b) else b
        if rng.random() < 0.5:
            del side[0]
        else:
            side.pop()
    return a, b


@pytest.mark.parametrize("len_a, len_b, limit", [(30, 3, 10), (3, 30, 10), (20, 20, 7), (5, 4, 9), (1, 900, 40),
                                                 (64, 63, 2), (4, 5, 9)])
def test_truncate_bounds_draws_like_the_reference_loop(len_a, len_b, limit):
    for seed in range(20):
        a, b = list(range(len_a)), list(range(100, 100 + len_b))
        draws, rng_ref = doc_draws(seed, "t"), doc_rng(seed, "t")
        a_lo, a_hi, b_lo, b_hi = truncate_bounds(len_a, len_b, limit, draws)
        assert (a[a_lo:a_hi], b[b_lo:b_hi]) == _truncate_one_at_a_time(a, b, limit, rng_ref)
        assert draws.random() == rng_ref.random()  # the same number of draws


def test_draws_are_the_generators_values_in_its_order():
    """Draws repeats numpy's Generator.random() and .integers() over the same PCG64 outputs, through
    any interleaving: ranges of one value (no draw), small and large ranges (Lemire's rejection),
    2**32 values, and runs of random() (also past the raw block of 64 outputs)."""
    plan = np.random.default_rng(123)
    highs = [1, 2, 3, 7, 10, 1_000_003, 2**31 + 5, 3 * 2**30, 2**32 - 1, 2**32]
    for trial in range(300):
        seed = int(plan.integers(2**62))
        rng, draws = np.random.Generator(np.random.PCG64(seed)), Draws(np.random.PCG64(seed))
        for _ in range(int(plan.integers(1, 120))):
            kind = int(plan.integers(4))
            if kind == 0:
                assert draws.random() == rng.random()
            elif kind == 1:
                low = int(plan.integers(0, 5))
                high = low + int(plan.integers(1, 10))
                assert draws.integers(low, high) == rng.integers(low, high)
            elif kind == 2:
                high = highs[int(plan.integers(len(highs)))]
                assert draws.integers(high) == rng.integers(high)
            else:
                n = int(plan.integers(0, 150))
                assert draws.fronts(n) == int(np.count_nonzero(rng.random(n) < 0.5))
    with pytest.raises(ValueError, match="range"):
        Draws(np.random.PCG64(0)).integers(2**33)


def test_pair_plan_gathers_each_example_from_its_sources():
    first = (np.array([1, 2, 3, 4], dtype=np.uint32), np.array([True, False, True, True]))
    second = (np.array([7, 8, 9], dtype=np.uint32), np.array([False, True, False]))
    plan = PairPlan([first, second])
    plan.add("x", 0, 1, 3, 1, 0, 2, value=1)
    plan.add("y", 1, 2, 3, 0, 3, 4)
    examples = list(plan.examples(CLS, SEP, "label"))
    assert [(e["input_ids"].tolist(), e["word_start"].tolist(), e["doc_id"], e["segment_b_start"], e["label"])
            for e in examples] == [
        ([CLS, 2, 3, SEP, 7, 8, SEP], [True, False, True, True, False, True, True], "x", 4, 1),
        ([CLS, 9, SEP, 4, SEP], [True, False, True, True, True], "y", 3, 0)]
    plan = PairPlan([first], seps=2)
    plan.add("z", 0, 0, 1, 0, 1, 2)
    assert next(iter(plan.examples(CLS, SEP)))["input_ids"].tolist() == [CLS, 1, SEP, SEP, 2, SEP]
    assert list(PairPlan([first]).examples(CLS, SEP)) == []


def test_pair_plan_gathers_the_same_in_blocks_of_any_size_and_rows_added_either_way(monkeypatch):
    from pipelines.build.objectives import common

    rng = np.random.default_rng(2)
    sources = [(rng.integers(0, 500, 60).astype(np.uint32), rng.random(60) < 0.5) for _ in range(2)]
    rows = []
    for _ in range(40):
        a_lo, b_lo = rng.integers(0, 50, 2)
        rows.append((int(rng.integers(2)), int(a_lo), int(a_lo + rng.integers(0, 10)),
                     int(rng.integers(2)), int(b_lo), int(b_lo + rng.integers(0, 10)), int(rng.integers(2))))
    one_by_one, in_blocks = PairPlan(sources), PairPlan(sources)
    for k, row in enumerate(rows):
        one_by_one.add(f"d{k}", *row)
    in_blocks.add("d0", *rows[0])  # a row, then a block, then a row: kept in that order
    in_blocks.add_rows(np.array(rows[1:-1]), [f"d{k}" for k in range(1, 39)])
    in_blocks.add("d39", *rows[-1])
    whole = [a.tolist() for a in one_by_one.arrays(CLS, SEP)]
    for block in (1, 3, 40):
        monkeypatch.setattr(common, "GATHER_EXAMPLES", block)
        assert [a.tolist() for a in one_by_one.arrays(CLS, SEP)] == whole
        assert [a.tolist() for a in in_blocks.arrays(CLS, SEP)] == whole
    assert in_blocks.doc_ids == one_by_one.doc_ids and in_blocks.rows().tolist() == [list(r) for r in rows]
    with pytest.raises(ValueError, match="2 rows but 1 document ids"):
        in_blocks.add_rows(np.array(rows[:2]), ["x"])


def test_examples_table_matches_schema():
    doc = make_doc("d", [([5, 6, 7], [True, False, True])])
    examples = [{"input_ids": np.array([CLS, 5, SEP, 6, 7, SEP], dtype=np.uint32),
                 "word_start": np.ones(6, dtype=bool), "doc_id": doc.doc_id, "segment_b_start": 3,
                 "next_sentence_label": 1}]
    schema = examples_schema("nsp", 30000)
    table = examples_table(examples, schema)
    assert table.schema == schema and table.num_rows == 1
    row = table.to_pylist()[0]
    assert row == {"input_ids": [CLS, 5, SEP, 6, 7, SEP], "word_start": [True] * 6, "doc_id": "d",
                   "segment_b_start": 3, "next_sentence_label": 1}
    assert examples_table([], schema).num_rows == 0
    with pytest.raises(pa.ArrowInvalid, match="70000 not in range"):  # an id over uint16: never a silent wrap
        examples_table([{**examples[0], "input_ids": np.array([70000], dtype=np.uint32)}], schema)


LANGS = {"de": 0, "en": 1, "fr": 2}


def _inputs(builder):
    """Documents in three languages (per-language streams: several parts joined), or sentence pairs."""
    if builder.reads == "parallel":
        return [make_doc(f"p{k}", [(list(range(10, 11 + k)), [True] * (k + 1)),
                                   (list(range(50, 52 + 2 * k)), [j % 2 == 0 for j in range(2 * k + 2)])],
                         lang=("en-de", "fr-en")[k % 2]) for k in range(9)]
    return [replace(d, lang=("de", "en", "fr")[k % 3]) for k, d in enumerate(numbered_docs(9, max_len=14))]


def _count_per_example(examples, languages):
    """job.example_counts' figures, example by example (the reference for the columnar counts)."""
    codes = {i: code for code, i in languages.items()}
    counter = Counter({"example_tokens/train": sum(len(e["input_ids"]) for e in examples)})
    for e in examples:
        if "lang" in e:
            counter[f"examples/lang/{codes[e['lang']]}"] += 1
            counter[f"tokens/lang/{codes[e['lang']]}"] += len(e["input_ids"])
        if "langs" in e:
            for i in sorted(set(e["langs"].tolist())):
                counter[f"examples/lang/{codes[i]}"] += 1
                counter[f"tokens/lang/{codes[i]}"] += int(np.count_nonzero(e["langs"] == i))
    return counter


@pytest.mark.parametrize("name, options", [
    ("mlm", {}), ("mlm", {"packing": "doc", "per_language": True}), ("mlm", {"per_language": True}),
    ("nsp", {"dupe_factor": 2}), ("sop", {"dupe_factor": 2}), ("tlm", {"pair_overflow": "truncate"}),
    ("clm", {}), ("clm", {"packing": "doc"})])
def test_builder_columns_make_the_per_example_table_and_counts(name, options):
    """A builder's columns convert at once to the table that examples_table makes example by example
    from the dicts they yield; each example's slice is framed by its special tokens and its
    per-example values belong to it (a wrong offset or a shifted column breaks these); the
    counts read from the columns equal those counted example by example."""
    from pipelines.build.job import example_counts
    builder = BUILDERS[name]
    docs = _inputs(builder)
    config = builder.make_config(BuildOptions(seq_len=24, cls_id=CLS, sep_id=SEP, languages=LANGS, **options))
    columns = builder.build(docs, config, Counter(), ShardContext(negative_pool=NegativePool(docs)))
    examples = list(columns)
    assert len(examples) == len(columns) > 5
    schema = examples_schema(name, 30_000, options.get("per_language", False))
    table = examples_table(columns, schema)
    assert table.equals(examples_table(examples, schema))
    lang_of = {d.doc_id: d.lang for d in docs}
    for e in examples:
        ids = e["input_ids"].tolist()
        assert len(ids) == len(e["word_start"]) <= 24
        if name == "clm":
            assert SEP in ids
        else:
            assert ids[0] == CLS and ids[-1] == SEP and ids.count(CLS) == 1
        if "segment_b_start" in e:
            assert ids[e["segment_b_start"] - 1] == SEP and CLS < ids[1] != SEP
        if "lang" in e:
            assert e["lang"] == LANGS[lang_of[e["doc_id"]]]
        if "langs" in e:
            src, tgt = (LANGS[code] for code in lang_of[e["doc_id"]].split("-"))
            b = e["segment_b_start"]
            assert e["langs"].tolist() == [src] * b + [tgt] * (len(ids) - b)
    if name == "tlm":  # every pair's first token is the pair's own (10 + its number)
        assert [e["input_ids"][1] for e in examples] == [10] * len(examples)
    if name in ("mlm", "clm"):  # the examples tile the documents' tokens in order (specials aside)
        body = [t for e in examples for t in e["input_ids"].tolist() if t not in (CLS, SEP)]
        assert sorted(body) == sorted(t for d in docs for t in d.ids.tolist())
    counts = example_counts(columns, "train", LANGS)
    assert list(counts.items()) == list(_count_per_example(examples, LANGS).items())


def test_columns_cast_like_the_schema_and_check_their_lengths():
    """Ids over the schema's token type, and values out of a column's type, raise (a checked cast,
    never a silent wrap); columns whose lengths disagree with the offsets are refused."""
    schema = examples_schema("nsp", 30_000)

    def columns(ids, b_start=3, label=1):
        return ExampleColumns(np.array([0, len(ids)]), {"input_ids": np.array(ids, dtype=np.uint32),
                                                        "word_start": np.ones(len(ids), dtype=bool)},
                              {"doc_id": ["d"], "segment_b_start": np.array([b_start]),
                               "next_sentence_label": np.array([label])})

    good = columns([CLS, 5, SEP, 65535, SEP])
    assert good.table(schema).to_pylist() == [{"input_ids": [CLS, 5, SEP, 65535, SEP], "word_start": [True] * 5,
                                              "doc_id": "d", "segment_b_start": 3, "next_sentence_label": 1}]
    with pytest.raises(pa.ArrowInvalid, match="70000 not in range"):
        columns([CLS, 70000, SEP]).table(schema)
    assert columns([CLS, 70000, SEP]).table(examples_schema("nsp", 80_000)).num_rows == 1
    with pytest.raises(pa.ArrowInvalid, match="200 not in range"):
        columns([CLS, 5, SEP], label=200).table(schema)
    with pytest.raises(pa.ArrowInvalid, match="-129 not in range"):
        columns([CLS, 5, SEP], label=-129).table(schema)
    with pytest.raises(pa.ArrowInvalid, match="2147483648 not in range"):
        columns([CLS, 5, SEP], b_start=2**31).table(schema)
    with pytest.raises(ValueError, match="token column word_start holds 2 values for 3 tokens"):
        ExampleColumns(np.array([0, 3]), {"input_ids": np.zeros(3), "word_start": np.zeros(2)}, {})
    with pytest.raises(ValueError, match="column doc_id holds 2 values for 1 examples"):
        ExampleColumns(np.array([0, 3]), {"input_ids": np.zeros(3)}, {"doc_id": ["a", "b"]})
    assert ExampleColumns.concat([]).table(schema) == schema.empty_table()
    both = ExampleColumns.concat([good, columns([CLS, 7, SEP], label=0)])
    assert [(e["input_ids"].tolist(), e["next_sentence_label"]) for e in both] == [
        ([CLS, 5, SEP, 65535, SEP], 1), ([CLS, 7, SEP], 0)]
