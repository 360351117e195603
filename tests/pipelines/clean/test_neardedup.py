import random
from collections import defaultdict

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.clean.minhash import NearDedupConfig, candidate_pairs, components, text_sketch
from pipelines.clean.neardedup import NEAR_DUPLICATE, NearDedup, keep_or_drop, large_star, resolve_node, small_star
from pipelines.clean.readers import Drop

_VOCAB = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar "
          "papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu red green blue black "
          "white orange purple yellow brown pink gray silver gold copper iron tin lead zinc nickel").split()


def text(seed: int, num_words: int = 120) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(_VOCAB) + rng.choice(_VOCAB) for _ in range(num_words)]


def edited(words: list[str], positions: range) -> list[str]:
    return [w + "x" if i in positions else w for i, w in enumerate(words)]


def row(doc_id: str, words: list[str] | str) -> dict:
    return {"id": doc_id, "url": None, "text": words if isinstance(words, str) else " ".join(words)}


# A chain a ~ b ~ c of 200-word documents: b is a with words 0-15 changed, c is b with words
# 100-115 changed. Jaccard of their 5-gram sets: a-b 0.85, b-c 0.82, a-c 0.69, and with the
# default configuration a and c are not a candidate pair: only connected components merge them.
BASE = text(1, 200)
A = row("000a", BASE)
B = row("000b", edited(BASE, range(0, 16)))
C = row("000c", edited(edited(BASE, range(0, 16)), range(100, 116)))
D = row("000d", text(2))
E = row("000e", "")              # no words: passes through
F = row("000f", "Two words")     # shorter than one shingle: one shingle of its words
G = row("0001", "two, WORDS!")   # the same words after simplification: a near duplicate of F


def _edges(rows, config):
    sketches = {r["id"]: text_sketch(r["text"], config) for r in rows}
    return candidate_pairs({k: v for k, v in sketches.items() if v is not None}, config)


@pytest.mark.parametrize("verify", ["exact", "signature", "none"])
def test_chain_is_linked_pairwise_but_not_end_to_end(verify):
    edges = _edges([A, B, C, D, E, F, G], NearDedupConfig(verify=verify, min_similarity=0.8))
    assert edges == {("000a", "000b"), ("000b", "000c"), ("0001", "000f")}


def test_verification_cuts_candidates_below_the_threshold():
    edges = _edges([A, B, C, D, E, F, G], NearDedupConfig(min_similarity=0.83))
    assert edges == {("000a", "000b"), ("0001", "000f")}


def _rounds(edges: set) -> set:
    for step in (large_star, small_star):
        nb = defaultdict(list)
        for a, b in edges:
            nb[a].append(b)
            nb[b].append(a)
        edges = {e for u, vs in nb.items() for e in step((u, vs))}
    return edges


def test_star_steps_converge_to_stars_on_the_smallest_id():
    edges = {("1", "2"), ("2", "3"), ("3", "4"), ("4", "5"), ("6", "7")}
    for _ in range(3):
        edges = _rounds(edges)
    assert edges == {("1", "2"), ("1", "3"), ("1", "4"), ("1", "5"), ("6", "7")}
    assert {n: c for n, c in components("1234567", edges).items()} == \
        {"1": "1", "2": "1", "3": "1", "4": "1", "5": "1", "6": "6", "7": "6"}


def test_large_and_small_star_on_one_node():
    assert sorted(large_star(("3", ["1", "5", "4"]))) == [("1", "4"), ("1", "5")]
    assert sorted(small_star(("3", ["2", "1", "5"]))) == [("1", "2"), ("1", "3")]
    assert list(small_star(("1", ["2"]))) == []


def test_resolve_node_marks_nodes_with_a_smaller_neighbor():
    assert list(resolve_node(("2", ["1"]))) == [("2", True)]
    assert list(resolve_node(("1", ["2", "3"]))) == []


def test_keep_or_drop():
    assert list(keep_or_drop(("a", {"row": [A], "dup": []}))) == [A]
    assert list(keep_or_drop(("a", {"row": [A], "dup": [True]}))) == [Drop(reason=NEAR_DUPLICATE)]


@pytest.mark.parametrize("verify", ["exact", "none"])
def test_near_dedup_on_a_test_pipeline(verify):
    config = NearDedupConfig(verify=verify)
    rows = [A, B, C, D, E, F, G]
    with BeamTestPipeline() as p:
        out = p | beam.Create(rows) | NearDedup(config)
        kept = out | "Kept" >> beam.Filter(lambda x: isinstance(x, dict)) | "Ids" >> beam.Map(lambda r: r["id"])
        drops = out | "Drops" >> beam.Filter(lambda x: isinstance(x, Drop)) | "Reasons" >> beam.Map(lambda d: d.reason)
        # a, b, c are one component (a survives); g (0001) < f: f is dropped.
        assert_that(kept, equal_to(["000a", "000d", "000e", "0001"]), label="CheckKept")
        assert_that(drops, equal_to([NEAR_DUPLICATE] * 3), label="CheckDrops")


def test_near_duplicate_drops_carry_the_document_only_when_asked():
    row = {"id": "0" * 16, "url": "http://a/", "source": "a.jsonl", "text": "the text"}
    assert list(keep_or_drop(("k", {"row": [row], "dup": [True]}))) == [Drop(reason="near_duplicate")]
    [drop] = keep_or_drop(("k", {"row": [row], "dup": [True]}), 1.0)
    assert drop.document == {"id": "0" * 16, "url": "http://a/", "source": "a.jsonl", "text": "the text"}
    [unsampled] = keep_or_drop(("k", {"row": [{**row, "id": "f" * 16}], "dup": [True]}), 0.5)
    assert unsampled.document is None
