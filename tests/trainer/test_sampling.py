"""Language sampling q ∝ p^alpha: the shares seen in training on a five-language shard set match q
within 2 points, the draws resume exactly, and models without sampling refuse --lang-alpha."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
import torch

from tests.trainer.conftest import tokenizer_entry, write_language_shard_set
from trainer.config import TrainConfig
from trainer.sampling import sampling_probabilities

FIVE = ("de", "en", "fr", "sw", "ur")
SHARES = [0.50, 0.25, 0.15, 0.07, 0.03]


@pytest.fixture(scope="module")
def five_language_shards(tmp_path_factory, tokenizer_dir):
    folder, fast = tokenizer_dir
    return write_language_shard_set(tmp_path_factory.mktemp("mlm-five"), "mlm", fast, tokenizer_entry(folder, fast),
                                    languages=FIVE, shares=SHARES, train_shards=2, per_shard=200, valid=8,
                                    chunk_size=50)


def test_q_follows_p_to_the_alpha():
    q = sampling_probabilities({"en": 90, "sw": 10}, 0.5)
    assert q["sw"] == pytest.approx(10 ** 0.5 / (10 ** 0.5 + 90 ** 0.5))
    assert sampling_probabilities({"en": 90, "sw": 10}, 1.0) == pytest.approx({"en": 0.9, "sw": 0.1})
    assert sampling_probabilities({"en": 90, "sw": 10, "ur": 0}, 0.0) == pytest.approx({"en": 0.5, "sw": 0.5})


def _run(shards, out, **extra):
    from trainer.run import setup

    return setup(TrainConfig(model="xlm", size="tiny", data=str(shards), output=str(out), max_steps=1,
                             batch_size=32, device="cpu", shuffle_buffer=64, **extra))


@pytest.mark.parametrize("alpha", [0.5, 0.3])
def test_language_shares_seen_in_training_match_q(alpha, five_language_shards, tmp_path):
    from trainer.loop import iterate_batches

    run = _run(five_language_shards, tmp_path / "o", lang_alpha=alpha)
    manifest = run.data.manifest
    q = sampling_probabilities({c: manifest["counts"][f"examples/lang/{c}"] for c in FIVE}, alpha)
    p = {c: s for c, s in zip(FIVE, SHARES)}
    assert abs(q["ur"] - p["ur"]) > 0.05  # sampling changes the shares: the test can tell
    seen: Counter = Counter()
    batches = iterate_batches(run)
    for _, batch in itertools.islice(batches, 200):
        run.stream.observe(batch["_worker"], batch["_position"])
        seen.update(batch["lang"].tolist())
    batches.close()
    total = sum(seen.values())
    shares = {code: seen[k] / total for k, code in enumerate(FIVE)}
    for code in FIVE:
        assert shares[code] == pytest.approx(q[code], abs=0.02), (code, shares, q)


def test_language_sampling_resumes_exactly(five_language_shards, tmp_path):
    from trainer.loop import iterate_batches

    def take(run, n):
        out = []
        batches = iterate_batches(run)
        for _, batch in itertools.islice(batches, n):
            run.stream.observe(batch["_worker"], batch["_position"])
            out.append(batch["input_ids"])
        batches.close()
        return out

    straight = _run(five_language_shards, tmp_path / "a")
    expected = take(straight, 30)  # small languages run through several of their epochs
    first = _run(five_language_shards, tmp_path / "b")
    head = take(first, 12)
    state = first.stream.state_dict()
    resumed = _run(five_language_shards, tmp_path / "c")
    resumed.stream.load_state_dict(state)
    got = head + take(resumed, 18)
    assert len(got) == len(expected)
    assert all(torch.equal(a, b) for a, b in zip(got, expected))


def test_lang_alpha_is_refused_where_it_cannot_apply(mlm_shards, tmp_path):
    from trainer.run import setup

    with pytest.raises(ValueError, match=r"^roberta takes no --lang-alpha; drop it"):
        setup(TrainConfig(model="roberta", size="tiny", data=str(mlm_shards), output=str(tmp_path / "o"),
                          max_steps=1, device="cpu", lang_alpha=0.5))
