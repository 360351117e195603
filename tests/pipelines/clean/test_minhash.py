import hashlib
import random
import string

import numpy as np
import pytest

from pipelines.clean.minhash import (NearDedupConfig, as_array, band_keys, candidate_pairs, candidate_probability,
                               components, fmix64, jaccard, payload_similarity, permutation_seeds, shingle_hashes,
                               signature, similarity, simplify, star_edges, text_signature, text_sketch, verified,
                               word_hashes, words)

CONFIG = NearDedupConfig()


def test_simplify_and_words_follow_datatrove():
    assert simplify("Ünïcödé  A-B 12.5%") == "unicode  ab 0"
    assert words("Héllo, World! It's 2024 — the café's 3 cats; 日本語") == \
        ["hello", "world", "its", "0", "the", "cafes", "0", "cats", "日", "本", "語"]
    assert words(" ... ") == []


def test_hashes_are_fixed_values():
    # Golden values: every worker and every run must compute the same signatures.
    assert fmix64(np.array([0, 1], dtype=np.uint64)).tolist() == [0, 0xB456BCFC34C2CB2C]
    assert word_hashes(["a", "a"]).tolist() == [int.from_bytes(hashlib.blake2b(b"a", digest_size=8).digest(), "little")] * 2
    assert shingle_hashes(["a", "b", "c"], 5).tolist() == [11226672049524863730]
    assert shingle_hashes(list("abcdef"), 5).shape == (2,)
    assert shingle_hashes([], 5).shape == (0,)
    assert permutation_seeds(1, 112)[:2].tolist() == [8399862246016496942, 7082963854303001249]
    sig = text_signature("one two three four five six", CONFIG)
    assert len(sig) == 8 * 112
    assert as_array(sig)[:3].tolist() == [11501392884062960729, 2636992963615434725, 6153729278661950216]
    assert band_keys(sig, CONFIG)[0].hex() == "00001889dda6f08cafe9"
    assert [k[:2] for k in band_keys(sig, CONFIG)] == [i.to_bytes(2, "big") for i in range(14)]


def test_shingles_depend_on_word_order():
    assert shingle_hashes(list("abcde"), 5).tolist() != shingle_hashes(list("edcba"), 5).tolist()


def test_signature_is_the_min_over_shingles_in_any_order_and_chunking():
    shingles = np.arange(10_000, dtype=np.uint64) * np.uint64(2654435761)
    sig = signature(shingles, CONFIG)
    assert np.array_equal(sig, signature(shingles[::-1].copy(), CONFIG))
    assert np.array_equal(sig, np.minimum(signature(shingles[:5000], CONFIG), signature(shingles[5000:], CONFIG)))
    with pytest.raises(ValueError, match="empty shingle set"):
        signature(np.zeros(0, dtype=np.uint64), CONFIG)


def test_text_signature_of_text_without_words_is_none():
    assert text_signature("", CONFIG) is None
    assert text_signature("!!! ---", CONFIG) is None
    assert text_signature("Same words.", CONFIG) == text_signature("same, WORDS", CONFIG)


def test_similarity_estimates_jaccard():
    rng = random.Random(0)
    vocab = ["".join(rng.choices(string.ascii_lowercase, k=6)) for _ in range(3000)]
    base = [rng.choice(vocab) for _ in range(1000)]
    other = [rng.choice(vocab) if i % 40 == 0 else w for i, w in enumerate(base)]
    grams = [set(zip(*(ws[i:] for i in range(5)))) for ws in (base, other)]
    true = jaccard(*grams)
    estimate = similarity(text_signature(" ".join(base), CONFIG), text_signature(" ".join(other), CONFIG))
    assert round(true, 3) == 0.783
    assert abs(estimate - true) < 0.08  # 2 standard deviations of a 112-hash estimate


def test_candidate_probability_of_fineweb_bands():
    assert round(candidate_probability(0.8, 14, 8), 3) == 0.924
    assert round(candidate_probability(0.5, 14, 8), 3) == 0.053


def test_star_edges_and_candidate_pairs():
    assert sorted(star_edges(["c", "a", "b"])) == [("a", "b"), ("a", "c")]
    assert list(star_edges([])) == []
    same = text_sketch("a b c d e f g", CONFIG)
    sketches = {"x": same, "y": same, "z": text_sketch("something else entirely here now", CONFIG)}
    assert candidate_pairs(sketches, CONFIG) == {("x", "y")}


def test_payloads_and_verification():
    a, b = "one two three four five six seven", "one two three four five six eight"  # 2 of 4 shingles shared
    exact = NearDedupConfig(verify="exact", min_similarity=0.3)
    (_, pa), (_, pb) = text_sketch(a, exact), text_sketch(b, exact)
    assert len(pa) == 3 * 8 and payload_similarity(pa, pb, exact) == 2 / 4
    assert verified(pa, pb, exact) and not verified(pa, pb, NearDedupConfig(min_similarity=0.6))
    sig_config = NearDedupConfig(verify="signature")
    sa, sb = text_sketch(a, sig_config), text_sketch(b, sig_config)
    assert sa[0] == sa[1] and payload_similarity(sa[1], sb[1], sig_config) == similarity(sa[0], sb[0])
    none = NearDedupConfig(verify="none")
    assert text_sketch(a, none)[1] == b"" and verified(b"", b"", none)


def test_components_union_find():
    assert components("abcde", [("b", "c"), ("d", "c"), ("a", "e")]) == \
        {"a": "a", "b": "b", "c": "b", "d": "b", "e": "a"}
    assert jaccard([], []) == 1.0


def test_config_is_checked():
    assert NearDedupConfig().num_perm == 112
    with pytest.raises(ValueError, match="num_bands"):
        NearDedupConfig(num_bands=0)
    with pytest.raises(ValueError, match="min_similarity"):
        NearDedupConfig(min_similarity=1.5)
    with pytest.raises(ValueError, match="verify must be one of exact, signature, none"):
        NearDedupConfig(verify="fuzzy")
