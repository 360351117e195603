"""Tiny shard sets for trainer tests: a WordPiece tokenizer trained on the spot, mlm and nsp shards."""

from __future__ import annotations

import hashlib

import random
from pathlib import Path

import pyarrow as pa
import pytest

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ("the a cat dog bird fish runs jumps sleeps eats sees likes over under near big small red "
         "blue green quick slow happy sad tree house river stone sun moon").split()
SEQ_LEN = 32


def sentences(n: int, seed: int, words: tuple[str, ...] | list[str] = WORDS) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(words) for _ in range(rng.randint(3, 8))) + " ." for _ in range(n)]


def made_up_words(n: int, seed: int) -> list[str]:
    """Words the tokenizer never saw: WordPiece splits them into several pieces."""
    rng = random.Random(seed)
    return ["".join(rng.choice("bcdfghjklmnpqrstvwxz") + rng.choice("aeiou") for _ in range(rng.randint(2, 4)))
            for _ in range(n)]


def train_tokenizer(folder: Path):
    """A WordPiece tokenizer (vocab ~200) saved as a transformers folder; returns the fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=200, special_tokens=SPECIALS)
    tok.train_from_iterator(sentences(500, seed=1) + ["".join(chr(c) for c in range(97, 123))], trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]")
    fast.save_pretrained(str(folder))
    return fast


def tokenizer_entry(folder: Path, fast) -> dict:
    ids = {k: fast.convert_tokens_to_ids(t) for k, t in
           (("pad", "[PAD]"), ("unk", "[UNK]"), ("cls", "[CLS]"), ("sep", "[SEP]"), ("mask", "[MASK]"))}
    sha256 = hashlib.sha256((folder / "tokenizer.json").read_bytes()).hexdigest()
    return {"url": str(folder), "sha256": sha256, "vocab_size": len(fast), "special_ids": ids}


def _word_starts(fast, ids: list[int]) -> list[bool]:
    return [not t.startswith("##") for t in fast.convert_ids_to_tokens(ids)]


def make_examples(objective: str, fast, n: int, seed: int, words=WORDS, seq_len: int = SEQ_LEN) -> dict[str, list]:
    """Rows of `n` examples: packed single sequences (mlm), sentence pairs with NSP labels, or
    consecutive pairs with sentence-order labels (sop: label 1 swaps A and B)."""
    rng = random.Random(seed)
    cls, sep = fast.cls_token_id, fast.sep_token_id
    group = 3 if seq_len == SEQ_LEN else seq_len // 5  # sentences packed into one mlm example
    sents = [fast.encode(s, add_special_tokens=False) for s in sentences(group * n, seed, words)]
    cols: dict[str, list] = {"input_ids": [], "word_start": [], "doc_id": []}
    label_column = {"nsp": "next_sentence_label", "sop": "sentence_order_label"}.get(objective)
    if label_column:
        cols.update({"segment_b_start": [], label_column: []})
    for i in range(n):
        if objective == "mlm":
            body = sum(sents[group * i: group * (i + 1)], [])[: seq_len - 2]
            ids = [cls] + body + [sep]
        else:
            label = rng.randint(0, 1)  # 0: B follows A (HF convention), 1: random B (nsp) / swapped (sop)
            a = sents[3 * i][:13]
            if objective == "sop":
                b = sents[3 * i + 1][:14]
                a, b = (b, a) if label else (a, b)
            else:
                b = (sents[3 * i + 1] if label == 0 else sents[rng.randrange(len(sents))])[:14]
            ids = [cls] + a + [sep] + b + [sep]
            cols["segment_b_start"].append(len(a) + 2)
            cols[label_column].append(label)
        cols["input_ids"].append(ids)
        cols["word_start"].append(_word_starts(fast, ids))
        cols["doc_id"].append(f"doc-{seed}-{i}")
    return cols


def write_shard_set(folder: Path, objective: str, fast, tok_entry: dict, *, train_shards: int = 2,
                    per_shard: int = 48, valid: int = 32, chunk_size: int = 16, words=WORDS,
                    seq_len: int = SEQ_LEN) -> Path:
    """`train-*.tar` and `valid-000000.tar` plus one manifest listing both splits."""
    from schemas import examples_schema, write_manifest
    from shards.writer import rechunk, shard_set_manifest, write_shard

    schema = examples_schema(objective, tok_entry["vocab_size"])
    infos = []
    plan = [("train", i, per_shard) for i in range(train_shards)] + [("valid", 0, valid)]
    for split, index, n in plan:
        table = pa.table(make_examples(objective, fast, n, seed=1000 * (split == "valid") + index, words=words,
                                         seq_len=seq_len), schema=schema)
        infos.append(write_shard(str(folder), split, index, rechunk(table, chunk_size)))
    manifest = shard_set_manifest(objective=objective, seq_len=seq_len, tokenizer=tok_entry, schema=schema,
                                  shards=infos, created_by={"tool": "tests/trainer"})
    write_manifest(str(folder), manifest)
    return folder


def make_task(model: str, vocab, *, size: str = "tiny", seq_len: int = SEQ_LEN, seed: int = 0):
    """A freshly initialised task of a registered model, as `shardlm train` builds it."""
    import torch

    from trainer.config import TrainConfig
    from trainer.models import get_model_spec
    from trainer.models.spec import BuildContext

    spec = get_model_spec(model)
    config = TrainConfig(model=model, size=size, data="unused", output="unused", max_steps=1)
    torch.manual_seed(seed)
    return spec.build_task(BuildContext(size=spec.sizes[size], vocab=vocab, seq_len=seq_len, config=config))


@pytest.fixture(name="make_task")
def make_task_fixture():
    return make_task


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tok")
    fast = train_tokenizer(folder)
    return folder, fast


@pytest.fixture(scope="session")
def nsp_shards(tmp_path_factory, tokenizer_dir):
    folder, fast = tokenizer_dir
    return write_shard_set(tmp_path_factory.mktemp("nsp"), "nsp", fast, tokenizer_entry(folder, fast))


@pytest.fixture(scope="session")
def sop_shards(tmp_path_factory, tokenizer_dir):
    folder, fast = tokenizer_dir
    return write_shard_set(tmp_path_factory.mktemp("sop"), "sop", fast, tokenizer_entry(folder, fast))


@pytest.fixture(scope="session")
def mlm_shards(tmp_path_factory, tokenizer_dir):
    folder, fast = tokenizer_dir
    return write_shard_set(tmp_path_factory.mktemp("mlm"), "mlm", fast, tokenizer_entry(folder, fast))


@pytest.fixture(scope="session")
def large_mlm_shards(tmp_path_factory, tokenizer_dir):
    """1,200 train examples, a third of their words made up (several WordPiece pieces each): enough
    tokens to measure masking rates within a point, and words that whole-word masking must keep whole."""
    folder, fast = tokenizer_dir
    words = list(WORDS) + made_up_words(len(WORDS) // 2, seed=3)
    return write_shard_set(tmp_path_factory.mktemp("mlm-large"), "mlm", fast, tokenizer_entry(folder, fast),
                           train_shards=2, per_shard=600, valid=16, chunk_size=200, words=words)


def train_unigram_tokenizer(folder: Path):
    """A SentencePiece-style unigram tokenizer (vocab ~120, `▁` marks word starts) with the same
    special tokens as the WordPiece one, saved as a transformers folder (XLM-R's kind of vocabulary)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=120, special_tokens=SPECIALS, unk_token="[UNK]")
    tok.train_from_iterator(sentences(500, seed=1), trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]")
    fast.save_pretrained(str(folder))
    return fast


@pytest.fixture(scope="session")
def unigram_mlm_shards(tmp_path_factory):
    """mlm shards encoded with a unigram vocabulary (XLM-R)."""
    folder = tmp_path_factory.mktemp("unigram-tok")
    fast = train_unigram_tokenizer(folder)
    return write_shard_set(tmp_path_factory.mktemp("mlm-unigram"), "mlm", fast, tokenizer_entry(folder, fast))


LANGUAGES = ("de", "en", "fr")  # the manifest's table: ids in code order, as shardlm build writes it


def make_language_examples(objective: str, fast, n: int, seed: int, lang_ids: list[int]) -> dict[str, list]:
    """XLM's examples: tlm pairs `[CLS] A [SEP] [SEP] B [SEP]` with per-token `langs` (A in one
    language, B in the next) and `segment_b_start` at B's block; clm windows and per-language mlm
    sequences with the example's `lang` (lang_ids[i] for example i)."""
    cls, sep = fast.cls_token_id, fast.sep_token_id
    sents = [fast.encode(s, add_special_tokens=False) for s in sentences(3 * n, seed)]
    cols: dict[str, list] = {"input_ids": [], "word_start": [], "doc_id": []}
    cols.update({"segment_b_start": [], "langs": []} if objective == "tlm" else {"lang": []})
    for i in range(n):
        lang = lang_ids[i]
        if objective == "tlm":
            a, b = sents[3 * i][:13], sents[3 * i + 1][:14]
            ids = [cls] + a + [sep, sep] + b + [sep]
            b_start = len(a) + 2
            cols["segment_b_start"].append(b_start)
            cols["langs"].append([lang] * b_start + [(lang + 1) % len(LANGUAGES)] * (len(ids) - b_start))
        else:
            body = (sents[3 * i] + sents[3 * i + 1] + sents[3 * i + 2])[: SEQ_LEN - 2]
            ids = [cls] + body + [sep] if objective == "mlm" else (body + [sep] * 2)[:SEQ_LEN]
            cols["lang"].append(lang)
        cols["input_ids"].append(ids)
        cols["word_start"].append(_word_starts(fast, ids))
        cols["doc_id"].append(f"doc-{seed}-{i}")
    return cols


def write_language_shard_set(folder: Path, objective: str, fast, tok_entry: dict, *, languages=LANGUAGES,
                             shares: list[float] | None = None, train_shards: int = 2, per_shard: int = 48,
                             valid: int = 32, chunk_size: int = 16) -> Path:
    """A shard set whose examples carry language ids (tlm, clm, or mlm --per-language) and whose
    manifest has the `languages` table and per-language example counts. `shares`: the fraction of
    examples in each language (default equal), examples of a language kept together as the build's
    per-language packing does."""
    from schemas import examples_schema, write_manifest
    from shards.writer import rechunk, shard_set_manifest, write_shard

    schema = examples_schema(objective, tok_entry["vocab_size"], per_language=True)
    shares = shares or [1.0 / len(languages)] * len(languages)
    infos, lang_counts = [], {code: 0 for code in languages}
    plan = [("train", i, per_shard) for i in range(train_shards)] + [("valid", 0, valid)]
    for split, index, n in plan:
        bounds = [round(n * sum(shares[: k + 1])) for k in range(len(languages))]
        lang_ids = [next(k for k, bound in enumerate(bounds) if i < bound) for i in range(n)]
        rows = make_language_examples(objective, fast, n, seed=1000 * (split == "valid") + index, lang_ids=lang_ids)
        if split == "train":
            for k in lang_ids:
                lang_counts[languages[k]] += 1
        infos.append(write_shard(str(folder), split, index, rechunk(pa.table(rows, schema=schema), chunk_size)))
    counts = {f"examples/lang/{code}": c for code, c in lang_counts.items()}
    manifest = shard_set_manifest(objective=objective, seq_len=SEQ_LEN, tokenizer=tok_entry, schema=schema,
                                  shards=infos, created_by={"tool": "tests/trainer"}, counts=counts)
    manifest["languages"] = {code: k for k, code in enumerate(languages)}
    write_manifest(str(folder), manifest)
    return folder


@pytest.fixture(scope="session")
def tlm_shards(tmp_path_factory, tokenizer_dir):
    folder, fast = tokenizer_dir
    return write_language_shard_set(tmp_path_factory.mktemp("tlm"), "tlm", fast, tokenizer_entry(folder, fast))


@pytest.fixture(scope="session")
def clm_shards(tmp_path_factory, tokenizer_dir):
    folder, fast = tokenizer_dir
    return write_language_shard_set(tmp_path_factory.mktemp("clm"), "clm", fast, tokenizer_entry(folder, fast))


@pytest.fixture(scope="session")
def language_mlm_shards(tmp_path_factory, tokenizer_dir):
    folder, fast = tokenizer_dir
    return write_language_shard_set(tmp_path_factory.mktemp("mlm-lang"), "mlm", fast, tokenizer_entry(folder, fast))


@pytest.fixture(scope="session")
def long_mlm_shards(tmp_path_factory, tokenizer_dir):
    """mlm shards of seq_len 64 (twice the others'), same tokenizer: a second training phase."""
    folder, fast = tokenizer_dir
    return write_shard_set(tmp_path_factory.mktemp("mlm-64"), "mlm", fast, tokenizer_entry(folder, fast),
                           seq_len=64)


def run_records(output: Path) -> list[dict]:
    """A run's metrics.jsonl records without their wall-clock field (equal across exact resumes)."""
    import json

    return [{k: v for k, v in json.loads(line).items() if k != "elapsed_s"}
            for line in (output / "metrics.jsonl").read_text().splitlines()]


def aligned(model):
    """`from_pretrained` leaves weights in the safetensors file's memory map, at addresses that are not
    64-byte aligned, and CPU kernels then round some dot products differently (last-bit differences in
    the heads). Copies of the same values in fresh (aligned) memory compute exactly as the trainer's."""
    for param in model.parameters():
        param.data = param.data.clone()
    return model.eval()
