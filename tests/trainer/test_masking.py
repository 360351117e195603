"""Masking strategies: rates measured on real batches, what is never touched, whole words and n-grams,
seeding, and resume-equivalence over a real stream."""

from __future__ import annotations

import pickle

import pytest
import torch

from schemas import read_manifest
from shards.storage import expand_urls
from shards.stream import ShardStream, StreamConfig
from trainer.config import VocabInfo
from trainer.data import PrepareInWorker, batch_stream, collate
from trainer.loop import make_loader
import numpy as np

from trainer.masking import (IGNORE_INDEX, PRESETS, BatchRandom, Masker, MaskingConfig, batch_seed, bernoulli,
                             bernoulli_positions,
                             make_generator, mask_seed, masked_lm_loss, masking_config, masking_rng, ngram_units,
                             random_indices, replacement_vocab, select, sfc64_state, torch_generator)
from trainer.objectives.mlm import OBJECTIVE as MLM

SPECIALS = {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}
VOCAB = 1000


@pytest.fixture(scope="module")
def real_batch(large_mlm_shards):
    """Every train example of a 1,200-example mlm shard set, collated: real ids and real word starts."""
    shards = large_mlm_shards
    manifest = read_manifest(str(shards))
    vocab = VocabInfo.from_manifest(manifest)
    stream = ShardStream(expand_urls(str(shards)), StreamConfig(shuffle_buffer=0))
    return collate(list(stream), pad_id=vocab.pad_id), vocab


def run(batch, vocab, preset, seed=0, **overrides):
    masker = Masker(vocab, masking_config(preset, **overrides))
    return masker(batch["input_ids"], batch["attention_mask"], make_generator(seed), word_start=batch["word_start"])


def maskable_of(batch, vocab):
    specials = torch.tensor(sorted(vocab.special_ids.values()))
    return batch["attention_mask"].bool() & ~torch.isin(batch["input_ids"], specials)


def replacement_shares(batch, vocab, masked, labels):
    selected = labels != IGNORE_INDEX
    n = int(selected.sum())
    to_mask = selected & (masked == vocab.mask_id)
    unchanged = selected & (masked == batch["input_ids"])
    return n, int(to_mask.sum()) / n, int(unchanged.sum()) / n, int((selected & ~to_mask & ~unchanged).sum()) / n


def word_index(batch, maskable):
    """Per position the index of its word (a word starts at word_start or after an unmaskable token)."""
    begins = maskable & (batch["word_start"] | torch.nn.functional.pad(~maskable[:, :-1], (1, 0), value=True))
    return begins.long().cumsum(dim=1)


def test_token_masking_rates_on_real_batches(real_batch):
    batch, vocab = real_batch
    masked, labels = run(batch, vocab, "token")
    maskable = maskable_of(batch, vocab)
    n, to_mask, unchanged, random = replacement_shares(batch, vocab, masked, labels)
    total = int(maskable.sum())
    assert total > 20_000 and abs(n / total - 0.15) < 4 * (0.15 * 0.85 / total) ** 0.5  # within 4 sigma
    assert abs(to_mask - 0.8) < 0.02 and abs(random - 0.1) < 0.015
    assert abs(unchanged - 0.1) < 0.015  # a random draw may land on the original id (1 in 157)
    # each token on its own (Bernoulli): the per-row counts spread as a binomial's, n p (1 - p),
    # not as a fixed count's (at most 1/4 for floor(p n + u))
    n_row, k = maskable.sum(dim=1).double(), (labels != IGNORE_INDEX).sum(dim=1).double()
    spread = float(((k - 0.15 * n_row) ** 2).sum() / (0.15 * 0.85 * n_row).sum())
    assert 0.85 < spread < 1.15


def test_specials_and_padding_never_selected_nor_changed(real_batch):
    batch, vocab = real_batch
    for preset in ("token", "whole_word", "ngram", "electra"):
        masked, labels = run(batch, vocab, preset, seed=11)
        untouchable = ~maskable_of(batch, vocab)
        assert bool((batch["attention_mask"] == 0).any()) and bool((untouchable & (batch["attention_mask"] == 1)).any())
        assert bool((labels[untouchable] == IGNORE_INDEX).all()) and torch.equal(masked[untouchable],
                                                                                  batch["input_ids"][untouchable])
        selected = labels != IGNORE_INDEX
        assert torch.equal(labels[selected], batch["input_ids"][selected])
        assert torch.equal(masked[~selected], batch["input_ids"][~selected])
        replaced = selected & (masked != batch["input_ids"]) & (masked != vocab.mask_id)
        assert not bool(torch.isin(masked[replaced], torch.tensor(list(vocab.special_ids.values()))).any())


@pytest.mark.parametrize("preset", ["whole_word", "ngram"])
def test_word_masking_selects_whole_words_at_the_rate(real_batch, preset):
    batch, vocab = real_batch
    _, labels = run(batch, vocab, preset, seed=3)
    maskable = maskable_of(batch, vocab)
    selected = labels != IGNORE_INDEX
    words = word_index(batch, maskable)
    multi = 0
    for row in range(words.shape[0]):
        for word in words[row][maskable[row]].unique():
            tokens = selected[row][(words[row] == word) & maskable[row]]
            assert bool(tokens.all()) or not bool(tokens.any()), f"row {row} word {int(word)} partly selected"
            multi += int(tokens.all() and tokens.numel() > 1)
    assert multi > 100  # words of several pieces happen and are selected whole
    # every unit with probability 0.15, so every token too (units of ~1.3 tokens: a wider spread)
    rate = int(selected.sum()) / int(maskable.sum())
    assert abs(rate - 0.15) < 8 * (0.15 * 0.85 / int(maskable.sum())) ** 0.5


def test_ngram_masking_takes_runs_of_words():
    """n-grams of 1-3 words, p(n) ∝ 1/n: after a selected word the next word is selected far more
    often than under whole-word masking (7/18 of n-gram words are not an n-gram's last), on
    256 sequences of 128 tokens (words of one to three pieces)."""
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(5, VOCAB, (256, 128), generator=gen)
    ids[:, 0], ids[:, -1] = SPECIALS["cls"], SPECIALS["sep"]
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids),
             "word_start": torch.rand(256, 128, generator=gen) < 0.6}
    vocab = VocabInfo(vocab_size=VOCAB, special_ids=SPECIALS)
    maskable = maskable_of(batch, vocab)
    words = word_index(batch, maskable)

    def next_word_also_selected(labels):
        hits = total = 0
        selected = labels != IGNORE_INDEX
        for row in range(words.shape[0]):
            chosen = set(words[row][selected[row]].tolist())
            hits += sum(1 for w in chosen if w + 1 in chosen)
            total += len(chosen)
        return hits / total

    whole_word = next_word_also_selected(run(batch, vocab, "whole_word", seed=5)[1])
    ngram = next_word_also_selected(run(batch, vocab, "ngram", seed=5)[1])
    assert whole_word < 0.2 and ngram > 0.4


def test_ngram_lengths_follow_one_over_n():
    units = ngram_units(400, 128, MaskingConfig(unit="ngram"), np.random.default_rng(0))
    assert units.shape == (400, 128)
    assert bool((np.diff(units.ravel()) >= 0).all())  # consecutive n-grams, numbered across rows
    assert len(set(units[0]) & set(units[1])) == 0  # a row's n-grams are its own
    lengths = []
    for row in units:
        _, counts = np.unique(row, return_counts=True)
        lengths += counts[:-1].tolist()  # the last n-gram may be cut
    counts = np.bincount(lengths, minlength=4)[1:]
    assert counts.sum() > 25_000 and max(lengths) == 3
    assert np.allclose(counts / counts.sum(), [6 / 11, 3 / 11, 2 / 11], atol=0.01)


def test_electra_masking_has_no_random_replacement(real_batch):
    batch, vocab = real_batch
    masked, labels = run(batch, vocab, "electra", seed=7)
    n, to_mask, unchanged, random = replacement_shares(batch, vocab, masked, labels)
    assert n > 3000 and abs(to_mask - 0.85) < 0.02 and abs(unchanged - 0.15) < 0.02 and random == 0.0


def test_causal_labels_are_the_next_token(real_batch):
    batch, vocab = real_batch
    masked, labels = run(batch, vocab, "causal")
    assert torch.equal(masked, batch["input_ids"])
    lengths = batch["attention_mask"].sum(dim=1)
    for row in (0, 1, 2):
        n = int(lengths[row])
        assert labels[row, : n - 1].tolist() == batch["input_ids"][row, 1:n].tolist()
        assert bool((labels[row, n - 1:] == IGNORE_INDEX).all())


def test_max_predictions_caps_each_sequence(real_batch):
    batch, vocab = real_batch
    free = (run(batch, vocab, "token", seed=2)[1] != IGNORE_INDEX).sum(dim=1)
    capped = (run(batch, vocab, "token", seed=2, max_predictions=3)[1] != IGNORE_INDEX).sum(dim=1)
    assert bool((free > 3).any()) and torch.equal(capped, free.clamp(max=3))
    # whole words: kept whole, at most the cap, a subset of what was drawn, the cap filled when a word still fits
    maskable = maskable_of(batch, vocab)
    words = word_index(batch, maskable)
    free_ww = run(batch, vocab, "whole_word", seed=2)[1] != IGNORE_INDEX
    capped_ww = run(batch, vocab, "whole_word", seed=2, max_predictions=3)[1] != IGNORE_INDEX
    assert bool((capped_ww <= free_ww).all()) and int(capped_ww.sum(dim=1).max()) == 3
    for row in range(words.shape[0]):
        chosen = set(words[row][capped_ww[row]].tolist())
        for word in chosen:
            assert bool(capped_ww[row][(words[row] == word) & maskable[row]].all())
        left = 3 - int(capped_ww[row].sum())
        unchosen = set(words[row][free_ww[row]].tolist()) - chosen
        assert all(int(((words[row] == w) & maskable[row]).sum()) > left for w in unchosen)


def test_rows_without_maskable_tokens_and_word_masking_without_word_starts():
    maskable = np.zeros((2, 1000), dtype=bool)
    maskable[1] = True
    chosen = select(maskable, None, MaskingConfig(mask_prob=0.5), np.random.default_rng(0))
    assert not chosen[0].any() and 450 < int(chosen[1].sum()) < 550
    vocab = VocabInfo(vocab_size=VOCAB, special_ids=SPECIALS)
    ids = torch.randint(5, VOCAB, (2, 8))
    with pytest.raises(ValueError, match="word masking needs the shards' word_start column"):
        Masker(vocab, PRESETS["whole_word"])(ids, torch.ones_like(ids), make_generator(0))
    with pytest.raises(ValueError, match="unknown masking 'span'; choose one of token, whole_word, ngram"):
        masking_config("span")


@pytest.mark.parametrize("mask_prob", [0.15, 0.25, 0.5])  # 0.25: 256 p is whole, no tie draws
def test_token_fast_path_draws_and_selects_as_select_does(real_batch, mask_prob):
    """The `token` unit looks at maskability only where a draw came out True; positions, ids and
    the draws consumed are those of the general `select` over the whole batch."""
    batch, vocab = real_batch
    ids, attention = batch["input_ids"].numpy(), batch["attention_mask"].numpy()
    attention = attention * (np.random.default_rng(1).random(attention.shape) < 0.9)  # holes, not just a tail
    masker = Masker(vocab, MaskingConfig(mask_prob=mask_prob))
    for seed in range(3):
        rng = masking_rng(make_generator(seed))
        expected = np.flatnonzero(select(masker.maskable(ids, attention), None, masker.config, rng))
        after = rng.random(4)  # masking_rng reuses one PCG64 per thread: read the general path's state first
        rng = masking_rng(make_generator(seed))
        where, originals = masker.drawn_tokens(ids, attention, rng)
        assert np.array_equal(where, expected) and np.array_equal(originals, ids.ravel()[expected])
        assert np.array_equal(rng.random(4), after)
        assert 0.8 * mask_prob < where.size / np.count_nonzero(masker.maskable(ids, attention)) < 1.2 * mask_prob
    draws = bernoulli_positions(np.random.default_rng(0), 100_003, mask_prob)
    assert np.array_equal(draws, np.flatnonzero(bernoulli(np.random.default_rng(0), 100_003, mask_prob)))


@pytest.mark.parametrize("config", [MaskingConfig(), PRESETS["electra"], MaskingConfig(mask_prob=0.25),
                                    MaskingConfig(mask_prob=0.01, replace_mask=0.5, replace_random=0.5)])
def test_compiled_token_masking_gives_the_numpy_masks(real_batch, config):
    """The numba kernels (`Masker.compiled_tokens`) and the numpy path draw the same numbers and
    give the same masked ids and labels, in the ids' dtype, whatever the attention's dtype; ids
    past the special table and holes in the attention included."""
    pytest.importorskip("numba")
    batch, vocab = real_batch
    ids = batch["input_ids"].clone()
    ids[0, :3] = torch.tensor([VOCAB + 7, -1, vocab.mask_id])  # clipped into the table, as take(mode="clip")
    holes = torch.from_numpy(np.random.default_rng(1).random(ids.shape) < 0.9)
    compiled, plain = Masker(vocab, config), Masker(vocab, config, compiled=False)
    assert compiled.kernels is not None and plain.kernels is None
    compiled = pickle.loads(pickle.dumps(compiled))  # as a spawned DataLoader worker gets it
    for seed, (rows, dtype, attention) in enumerate([(None, torch.int64, batch["attention_mask"] * holes),
                                                     (5, torch.int32, (batch["attention_mask"] * holes).bool()),
                                                     (1, torch.int64, batch["attention_mask"]),
                                                     (0, torch.int64, batch["attention_mask"])]):
        x, a = ids[:rows].to(dtype), attention[:rows]
        source = BatchRandom if seed % 2 else make_generator  # the loader's BatchRandom, or a torch generator
        (got, got_labels), (want, want_labels) = compiled(x, a, source(seed)), plain(x, a, source(seed))
        assert got.dtype == want.dtype == got_labels.dtype == dtype
        assert torch.equal(got, want) and torch.equal(got_labels, want_labels)
        assert torch.equal(x, ids[:rows].to(dtype))  # the input is left as it was
        if rows != 0:
            assert (got_labels != IGNORE_INDEX).any() or config.mask_prob < 0.05


def test_without_numba_the_numpy_path_masks_and_compiled_true_says_so(monkeypatch, real_batch):
    import trainer.masking

    batch, vocab = real_batch
    monkeypatch.setattr(trainer.masking, "kernels", lambda: None)  # as kernels() finds it without numba
    assert Masker(vocab, MaskingConfig()).kernels is None
    with pytest.raises(ValueError, match="compiled masking needs numba"):
        Masker(vocab, MaskingConfig(), compiled=True)
    assert Masker(vocab, PRESETS["whole_word"], compiled=True).kernels is None  # only the token unit is compiled


def test_replacement_vocab_leaves_out_special_ids():
    assert replacement_vocab(10, [0, 4, 9, 42]).tolist() == [1, 2, 3, 5, 6, 7, 8]


def test_same_seed_same_masks_other_seed_other_masks(real_batch):
    batch, vocab = real_batch
    for preset in ("token", "ngram"):
        a, b, c = run(batch, vocab, preset, seed=123), run(batch, vocab, preset, seed=123), run(batch, vocab, preset,
                                                                                               seed=124)
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[1], c[1])


GOLDEN_WORDS = [16931061118487593148, 13587445916651884680]  # masking_rng(BatchRandom(0))'s first words


def test_batch_random_seeds_the_masks_and_makes_a_torch_generator_only_when_asked():
    """A BatchRandom's masks come from its seed (SFC64 at sfc64_state, 12 words discarded; golden
    words: the scheme must not drift, or resumed runs of older checkpoints would see other masks);
    a torch.Generator hands over its next 63-bit draw, so reusing one gives each batch new masks."""
    source = BatchRandom(7490186204407900278)
    assert source._torch is None and mask_seed(source) == 7490186204407900278
    assert torch_generator(source) is source.torch and source.torch.initial_seed() == 7490186204407900278
    reference = np.random.SFC64(0)
    reference.state = {"bit_generator": "SFC64", "state": {"state": sfc64_state(source.seed)}, "has_uint32": 0,
                       "uinteger": 0}
    reference.random_raw(12)
    rng = masking_rng(source)
    assert np.array_equal(rng.bit_generator.random_raw(3), reference.random_raw(3))
    assert masking_rng(BatchRandom(0)).bit_generator.random_raw(2).tolist() == GOLDEN_WORDS
    assert sfc64_state(0).tolist()[3] == 1 and len(set(sfc64_state(0).tolist()[:3])) == 3
    generator = make_generator(5)
    first, second = mask_seed(generator), mask_seed(generator)
    assert first != second and first == mask_seed(make_generator(5)) and 0 <= first < 2**63
    assert torch_generator(generator) is generator


@pytest.mark.parametrize("size", [30_522, 3 << 30])  # 3 << 30: a quarter of the draws rejected
def test_random_indices_are_lemire_draws_with_rejected_ones_drawn_again_in_order(size):
    rng = masking_rng(BatchRandom(11))
    got = random_indices(rng, size, 2_000)
    after = rng.bit_generator.random_raw()
    words = iter(masking_rng(BatchRandom(11)).bit_generator.random_raw(20_000).tolist())
    reject = (1 << 32) % size
    first = [(next(words) >> 32) * size for _ in range(2_000)]
    want = []
    for product in first:  # a rejected draw takes the next unused words, in order
        while product & 0xFFFFFFFF < reject:
            product = (next(words) >> 32) * size
        want.append(product >> 32)
    assert got.tolist() == want and after == next(words)
    rejected = sum(p & 0xFFFFFFFF < reject for p in first)
    assert 0 <= got.min() and got.max() < size and (size < 1 << 31 or 400 < rejected < 600)


def test_batch_seed_is_stable_and_keyed_by_every_coordinate():
    base = batch_seed(0, 0, 0, 0, 0)
    assert base == batch_seed(0, 0, 0, 0, 0)
    assert 0 <= base < 2**63
    variants = {batch_seed(1, 0, 0, 0, 0), batch_seed(0, 1, 0, 0, 0), batch_seed(0, 0, 1, 0, 0),
                batch_seed(0, 0, 0, 1, 0), batch_seed(0, 0, 0, 0, 1), batch_seed(0, 0, 0, 0, 0, "eval")}
    assert len(variants | {base}) == 7
    # golden value: the scheme (blake2b-64 of five little-endian int64s + purpose) must not drift,
    # or resumed runs of older checkpoints would see different masks
    assert batch_seed(0, 0, 0, 0, 0) == 7490186204407900278
    assert batch_seed(1, 2, 3, 4, 5, "eval") == 3867763583024359043


def test_masked_lm_loss_is_zero_without_targets():
    logits = torch.randn(2, 3, 7, requires_grad=True)
    loss = masked_lm_loss(logits, torch.full((2, 3), IGNORE_INDEX))
    assert float(loss.detach()) == 0.0
    loss.backward()  # still differentiable


def _masks_by_batch(stream: ShardStream, vocab: VocabInfo, *, num_workers: int, epoch: int, limit: int):
    """(first worker, first position) -> (labels) for up to `limit` batches, observing each."""
    loader = make_loader(stream, batch_size=8, pad_id=vocab.pad_id, num_workers=num_workers, seed=0)
    masker = Masker(vocab, PRESETS["ngram"])
    out = []
    for batch in loader:
        stream.observe(batch["_worker"], batch["_position"])
        key = (int(batch["_worker"][0]), int(batch["_position"][0]))
        _, labels = masker(batch["input_ids"], batch["attention_mask"], make_generator(batch_seed(0, epoch, 0, *key)),
                           word_start=batch["word_start"])
        out.append((key, batch["input_ids"], labels))
        if len(out) == limit:
            break
    return out


def test_resumed_stream_sees_the_same_masks(mlm_shards):
    manifest = read_manifest(str(mlm_shards))
    vocab = VocabInfo.from_manifest(manifest)
    urls = expand_urls(str(mlm_shards))
    config = StreamConfig(seed=0, shuffle_buffer=16)
    for workers in (0, 2):
        straight = _masks_by_batch(ShardStream(urls, config), vocab, num_workers=workers, epoch=0, limit=100)
        assert len(straight) >= 10
        first = ShardStream(urls, config)
        _masks_by_batch(first, vocab, num_workers=workers, epoch=0, limit=5)
        resumed = ShardStream(urls, config)
        resumed.load_state_dict(first.state_dict())
        rest = _masks_by_batch(resumed, vocab, num_workers=workers, epoch=0, limit=100)
        assert len(rest) == len(straight) - 5
        for (k1, ids1, lab1), (k2, ids2, lab2) in zip(straight[5:], rest):
            assert k1 == k2
            assert torch.equal(ids1, ids2) and torch.equal(lab1, lab2)


def test_batch_stream_masks_in_the_loader_with_the_generator_of_each_batch(mlm_shards):
    """The training path: BatchStream batches masked by PrepareInWorker, keyed (seed, epoch, rank,
    sub-stream, first position) as the per-example stream's batches were, and resumed exactly."""
    vocab = VocabInfo.from_manifest(read_manifest(str(mlm_shards)))
    urls = expand_urls(str(mlm_shards))
    masker = Masker(vocab, PRESETS["token"])

    def masks(stream, num_workers, limit=100):
        out = []
        for batch in make_loader(stream, batch_size=8, pad_id=vocab.pad_id, num_workers=num_workers, seed=0):
            stream.observe(batch)
            out.append(((batch["_worker"], batch["_position"]), batch["input_ids"], batch["labels"]))
            if len(out) == limit:
                break
        return out

    def stream():
        return batch_stream(urls, StreamConfig(seed=0, shuffle_buffer=16), batch_size=8, pad_id=vocab.pad_id,
                            transform=PrepareInWorker(objective=MLM, masker=masker, seed=0, purpose="train"),
                            rank=0, world_size=1, storage_options={})

    for workers in (0, 2):
        straight = masks(stream(), workers)
        assert len(straight) >= 10
        for (worker, position), masked, labels in straight:
            original = torch.where(labels != IGNORE_INDEX, labels, masked)
            again = masker(original, (original != vocab.pad_id).long(),
                           BatchRandom(batch_seed(0, 0, 0, worker, position, "train")))
            assert torch.equal(again[0], masked) and torch.equal(again[1], labels)
        first = stream()
        masks(first, workers, limit=5)
        resumed = stream()
        resumed.load_state_dict(first.state_dict())
        rest = masks(resumed, workers)
        assert [k for k, _, _ in rest] == [k for k, _, _ in straight[5:]]
        assert all(torch.equal(a[1], b[1]) and torch.equal(a[2], b[2]) for a, b in zip(straight[5:], rest))


def test_length_groups_reach_the_batch_stream_and_are_refused_where_they_cannot_apply(mlm_shards):
    from trainer.config import TrainConfig

    vocab = VocabInfo.from_manifest(read_manifest(str(mlm_shards)))
    prepare = PrepareInWorker(objective=MLM, masker=Masker(vocab, PRESETS["token"]), seed=0, purpose="train")
    ds = batch_stream(expand_urls(str(mlm_shards)), StreamConfig(seed=0, shuffle_buffer=16), batch_size=4,
                      pad_id=vocab.pad_id, transform=prepare, rank=0, world_size=1, storage_options={},
                      length_groups=4)
    batches = list(ds)
    assert ds.batch.length_groups == 4 and sum(len(b["_length"]) for b in batches) > 40
    assert all("labels" in b for b in batches)
    with pytest.raises(ValueError, match="--length-groups must be positive, got 0"):
        TrainConfig(model="bert", size="tiny", data="x", output="y", max_steps=1, length_groups=0)
