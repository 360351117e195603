"""generator_kernels: numpy's PCG64(SeedSequence) and common.Draws' draws, compiled."""

import numpy as np
import pytest

from pipelines.build.objectives.common import doc_bit_generator, doc_draws, entropy_words

gk = pytest.importorskip("pipelines.build.objectives.generator_kernels", exc_type=ImportError)


def test_raw_outputs_are_numpys_for_any_entropy():
    rng = np.random.default_rng(5)
    cases = [np.zeros(9, np.uint32), np.full(9, 0xFFFFFFFF, np.uint32), np.arange(4, dtype=np.uint32)]
    cases += [rng.integers(0, 2**32, size=n, dtype=np.uint64).astype(np.uint32) for n in (4, 5, 9, 9, 9, 16)]
    for words in cases:
        assert np.array_equal(gk.raw_outputs(words, 300), np.random.PCG64(words).random_raw(300)), words


def test_entropy_words_seed_each_documents_generator():
    ids = ["a", "doc-0001", "é文", ""]
    words = entropy_words(2**40 + 7, ids)
    assert words.shape == (4, 9) and words.dtype == np.uint32 and (words[:, 0] == 7).all()
    for doc_id, row in zip(ids, words):
        reference = doc_bit_generator(2**40 + 7, doc_id).random_raw(20)
        assert np.array_equal(gk.raw_outputs(row, 20), reference)
    assert entropy_words(0, []).shape == (0, 9)


def test_draws_match_common_draws_in_any_interleaving():
    rng = np.random.default_rng(0)
    for seed in range(25):
        ours, reference = np.empty(gk.GENERATOR_WORDS, np.uint64), doc_draws(seed, f"d{seed}")
        gk.new_generator(entropy_words(seed, [f"d{seed}"])[0], ours)
        for _ in range(60):
            kind = rng.integers(3)
            if kind == 0:
                assert gk.random(ours) == reference.random()
            elif kind == 1:
                low = int(rng.integers(-5, 5))
                high = low + int(rng.choice([1, 2, 3, 7, 1000, 2**31 + 3, 2**32 - 1]))
                assert gk.integers(ours, low, high) == reference.integers(low, high), (low, high)
            else:
                n = int(rng.integers(0, 200))
                assert gk.fronts(ours, n) == reference.fronts(n)
