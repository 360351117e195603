"""Dynamic masking: rates, what is never touched, seeding, and resume-equivalence over a real stream."""

from __future__ import annotations

import torch

from schemas import read_manifest
from shards.storage import expand_urls
from shards.stream import ShardStream, StreamConfig
from trainer.config import VocabInfo
from trainer.loop import make_loader
from trainer.masking import (IGNORE_INDEX, MaskingConfig, batch_seed, make_generator, mask_tokens, masked_lm_loss,
                             replacement_vocab, select_positions)

SPECIALS = {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}
VOCAB = 1000


def synthetic_batch(rows: int = 512, width: int = 128, seed: int = 7):
    """[CLS] tokens [SEP] [PAD]..., with random lengths and a few [UNK]s inside."""
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, VOCAB, (rows, width), generator=gen)
    lengths = torch.randint(10, width + 1, (rows,), generator=gen)
    attention = (torch.arange(width)[None, :] < lengths[:, None]).long()
    ids[torch.rand(rows, width, generator=gen) < 0.02] = SPECIALS["unk"]
    ids[:, 0] = SPECIALS["cls"]
    ids[torch.arange(rows), lengths - 1] = SPECIALS["sep"]
    ids[attention == 0] = SPECIALS["pad"]
    return ids, attention


def run_mask(ids, attention, seed=0, config=MaskingConfig()):
    return mask_tokens(ids, attention, special_ids=SPECIALS.values(), vocab_size=VOCAB, mask_id=SPECIALS["mask"],
                       config=config, generator=make_generator(seed))


def test_rates_match_bert_recipe():
    ids, attention = synthetic_batch()
    masked, labels = run_mask(ids, attention)
    maskable = attention.bool() & ~torch.isin(ids, torch.tensor(list(SPECIALS.values())))
    selected = labels != IGNORE_INDEX
    n_sel = int(selected.sum())
    assert abs(n_sel / int(maskable.sum()) - 0.15) < 0.005
    became_mask = selected & (masked == SPECIALS["mask"])
    unchanged = selected & (masked == ids)
    random = selected & ~became_mask & ~unchanged
    assert abs(int(became_mask.sum()) / n_sel - 0.8) < 0.02
    # a random draw can land on the original id (1 in 995): "unchanged" slightly above 10%
    assert abs(int(unchanged.sum()) / n_sel - 0.1) < 0.015
    assert abs(int(random.sum()) / n_sel - 0.1) < 0.015


def test_per_row_count_is_probabilistic_rounding_of_p_times_n():
    ids, attention = synthetic_batch(rows=256)
    _, labels = run_mask(ids, attention, seed=3)
    maskable = attention.bool() & ~torch.isin(ids, torch.tensor(list(SPECIALS.values())))
    n = maskable.sum(dim=1).double()
    k = (labels != IGNORE_INDEX).sum(dim=1).double()
    assert bool(((k == torch.floor(0.15 * n)) | (k == torch.floor(0.15 * n) + 1)).all())
    assert bool((k == torch.floor(0.15 * n) + 1).any()) and bool((k == torch.floor(0.15 * n)).any())


def test_specials_and_padding_never_selected_nor_changed():
    ids, attention = synthetic_batch()
    masked, labels = run_mask(ids, attention, seed=11)
    special = torch.isin(ids, torch.tensor(list(SPECIALS.values())))
    assert bool((special | (attention == 0)).any())
    untouchable = special | (attention == 0)
    assert bool((labels[untouchable] == IGNORE_INDEX).all())
    assert torch.equal(masked[untouchable], ids[untouchable])
    selected = labels != IGNORE_INDEX
    assert torch.equal(labels[selected], ids[selected])
    assert torch.equal(masked[~selected], ids[~selected])


def test_random_replacements_never_special():
    ids, attention = synthetic_batch()
    masked, labels = run_mask(ids, attention, seed=5)
    replaced = (labels != IGNORE_INDEX) & (masked != ids) & (masked != SPECIALS["mask"])
    assert int(replaced.sum()) > 300
    assert not bool(torch.isin(masked[replaced], torch.tensor(list(SPECIALS.values()))).any())
    assert bool((masked[replaced] < VOCAB).all())
    vocab = replacement_vocab(10, [0, 4, 9, 42])
    assert vocab.tolist() == [1, 2, 3, 5, 6, 7, 8]


def test_same_seed_same_masks_other_seed_other_masks():
    ids, attention = synthetic_batch(rows=64)
    a = run_mask(ids, attention, seed=123)
    b = run_mask(ids, attention, seed=123)
    c = run_mask(ids, attention, seed=124)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])


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


def test_select_positions_handles_rows_without_maskable_tokens():
    maskable = torch.tensor([[False, False, False], [True, True, True]])
    chosen = select_positions(maskable, 0.5, make_generator(0))
    assert not bool(chosen[0].any())
    assert int(chosen[1].sum()) in (1, 2)


def test_masked_lm_loss_is_zero_without_targets():
    logits = torch.randn(2, 3, 7, requires_grad=True)
    loss = masked_lm_loss(logits, torch.full((2, 3), IGNORE_INDEX))
    assert float(loss.detach()) == 0.0
    loss.backward()  # still differentiable


def _masks_by_batch(stream: ShardStream, vocab: VocabInfo, *, num_workers: int, epoch: int, limit: int):
    """(first worker, first position) -> (labels) for up to `limit` batches, observing each."""
    loader = make_loader(stream, batch_size=8, pad_id=vocab.pad_id, num_workers=num_workers, seed=0)
    out = []
    for batch in loader:
        stream.observe(batch["_worker"], batch["_position"])
        key = (int(batch["_worker"][0]), int(batch["_position"][0]))
        seed = batch_seed(0, epoch, 0, *key)
        _, labels = mask_tokens(batch["input_ids"], batch["attention_mask"], special_ids=vocab.special_ids.values(),
                                vocab_size=vocab.vocab_size, mask_id=vocab.mask_id, config=MaskingConfig(),
                                generator=make_generator(seed))
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
