"""Masking cost per batch: every trainer.masking preset beside two earlier implementations with a fixed
count per sequence (two full argsorts and the replacement vocabulary rebuilt per batch; one top-k)
and transformers' DataCollatorForLanguageModeling.

    PYTHONPATH=. .venv/bin/python benchmarks/masking.py [--batch 32] [--seq-len 128] [--repeat 200]

Runs on one thread (torch.set_num_threads(1)): the figure is examples per CPU second. Prints a
markdown table (docs/benchmarks.md, "Masking").
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, where benchmarks/trainer.py would
# shadow the trainer package: take the folder off.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import torch

from trainer.config import VocabInfo
from trainer.masking import IGNORE_INDEX, PRESETS, BatchRandom, Masker, make_generator

SPECIALS = {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}


def previous_mask_tokens(input_ids, attention_mask, vocab_size, generator, mask_prob=0.15):
    """The masking this project used before (kept here for comparison only)."""
    specials = torch.tensor(sorted(SPECIALS.values()))
    maskable = attention_mask.bool() & ~torch.isin(input_ids, specials)
    rows, width = maskable.shape
    n = maskable.sum(dim=1)
    u = torch.rand(rows, generator=generator)
    k = torch.floor(mask_prob * n.double() + u.double()).long().clamp(max=n)
    scores = torch.rand(rows, width, generator=generator).masked_fill(~maskable, 2.0)
    ranks = scores.argsort(dim=1, stable=True).argsort(dim=1, stable=True)
    selected = (ranks < k.unsqueeze(1)) & maskable
    action = torch.rand(input_ids.shape, generator=generator)
    keep = torch.ones(vocab_size, dtype=torch.bool)
    for sid in SPECIALS.values():
        keep[sid] = False
    vocab = torch.nonzero(keep).flatten()
    random_ids = vocab[torch.randint(vocab.numel(), input_ids.shape, generator=generator)]
    masked = input_ids.clone()
    masked[selected & (action < 0.8)] = SPECIALS["mask"]
    to_random = selected & (action >= 0.8) & (action < 0.9)
    masked[to_random] = random_ids[to_random]
    labels = torch.full_like(input_ids, IGNORE_INDEX)
    labels[selected] = input_ids[selected]
    return masked, labels


def topk_mask_tokens(input_ids, attention_mask, replacement, generator, mask_prob=0.15):
    """The token masking of commit 0e17588 (kept here for comparison only): floor(p n + u) per
    sequence, the lowest random scores found with one top-k, torch's generator."""
    specials = torch.zeros(max(replacement.max().item() + 1, 5), dtype=torch.bool)
    specials[list(SPECIALS.values())] = True
    maskable = attention_mask.bool() & ~specials.index_select(0, input_ids.reshape(-1)).view_as(input_ids)
    rows, width = maskable.shape
    n = maskable.sum(dim=1)
    u = torch.rand(rows, generator=generator, dtype=torch.float64)
    k = torch.floor(mask_prob * n.double() + u).long().clamp(max=n)
    scores = torch.rand(rows, width, generator=generator, dtype=torch.float64).masked_fill_(~maskable, 2.0)
    lowest = scores.topk(int(k.max()), dim=1, largest=False).values
    selected = (scores <= lowest.gather(1, (k - 1).clamp(min=0)[:, None])) & maskable & (k > 0)[:, None]
    where = selected.reshape(-1).nonzero().squeeze(1)
    originals = input_ids.reshape(-1).index_select(0, where)
    action = torch.rand(where.shape, generator=generator)
    draws = replacement.index_select(0, torch.randint(replacement.numel(), where.shape, generator=generator))
    replaced = torch.where(action < 0.8, SPECIALS["mask"], torch.where(action < 0.9, draws, originals))
    masked = input_ids.reshape(-1).clone().index_copy_(0, where, replaced).view_as(input_ids)
    return masked, input_ids.masked_fill(~selected, IGNORE_INDEX)


def make_batch(rows, width, vocab_size, seed=0):
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab_size, (rows, width), generator=gen)
    lengths = torch.randint(width // 2, width + 1, (rows,), generator=gen)
    attention = (torch.arange(width)[None, :] < lengths[:, None]).long()
    ids[:, 0] = SPECIALS["cls"]
    ids[torch.arange(rows), lengths - 1] = SPECIALS["sep"]
    ids[attention == 0] = SPECIALS["pad"]
    word_start = torch.rand(rows, width, generator=gen) < 0.75  # about 1.3 pieces per word
    return ids, attention, word_start


def per_second(fn, batch_rows, repeat, rounds=3):
    """Examples per CPU second, the best of `rounds` (the machine is shared: the best is the least disturbed)."""
    fn(0)  # warm-up
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for i in range(repeat):
            fn(i)
        best = min(best, time.process_time() - start)
    return batch_rows * repeat / best


def hf_collator(vocab_size):
    from tokenizers import Tokenizer, models
    from transformers import DataCollatorForLanguageModeling, PreTrainedTokenizerFast

    vocab = {f"t{i}": i for i in range(vocab_size)}
    names = {"pad": "[PAD]", "unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]"}
    for key, sid in SPECIALS.items():
        vocab[names[key]] = sid
        vocab.pop(f"t{sid}")
    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="[UNK]")),
                                  **{f"{k}_token": v for k, v in names.items()})
    return DataCollatorForLanguageModeling(tok, mlm_probability=0.15, return_tensors="pt")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--vocab-size", type=int, default=30_522)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    ids, attention, word_start = make_batch(args.batch, args.seq_len, args.vocab_size)
    vocab = VocabInfo(vocab_size=args.vocab_size, special_ids=SPECIALS)
    rows = []
    rows.append(("exact count, 2 argsorts, vocabulary per batch (before 0e17588)",
                 per_second(lambda i: previous_mask_tokens(ids, attention, args.vocab_size, make_generator(i)),
                            args.batch, args.repeat)))
    replacement = torch.from_numpy(Masker(vocab, PRESETS["token"]).replacement)
    rows.append(("exact count, one top-k (`token` at 0e17588)",
                 per_second(lambda i: topk_mask_tokens(ids, attention, replacement, make_generator(i)),
                            args.batch, args.repeat)))
    for name, config in PRESETS.items():
        masker = Masker(vocab, config)
        rows.append((f"trainer.masking `{name}`",
                     per_second(lambda i: masker(ids, attention, BatchRandom(i), word_start=word_start),
                                args.batch, args.repeat)))
        if masker.compiled:  # the same masks by the numpy path (what runs without numba)
            plain = Masker(vocab, config, compiled=False)
            rows.append((f"trainer.masking `{name}`, numpy path",
                         per_second(lambda i: plain(ids, attention, BatchRandom(i), word_start=word_start),
                                    args.batch, args.repeat)))
    collator = hf_collator(args.vocab_size)
    special = ~(attention.bool() & (ids > 4))
    rows.append(("transformers DataCollatorForLanguageModeling.torch_mask_tokens",
                 per_second(lambda i: collator.torch_mask_tokens(ids.clone(), special_tokens_mask=special),
                            args.batch, args.repeat)))
    print(f"batch {args.batch} x {args.seq_len}, vocabulary {args.vocab_size}, one thread, best of 3 x {args.repeat} batches\n")
    print("| masking | examples / CPU s |\n| --- | --- |")
    for name, rate in rows:
        print(f"| {name} | {rate:,.0f} |")


if __name__ == "__main__":
    main()
