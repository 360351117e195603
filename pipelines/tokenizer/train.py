"""Training a tokenizer with Hugging Face `tokenizers`, saving it for `transformers`,
and loading it back for `shardlm build` (pure logic; the job is pipelines/tokenizer/job.py).

Families and their special tokens (ids in this order, from 0):
  wordpiece  BERT      [PAD] [UNK] [CLS] [SEP] [MASK]       [CLS] A [SEP] / [CLS] A [SEP] B [SEP]
  bytelevel  RoBERTa   <s> <pad> </s> <unk> <mask>          <s> A </s> / <s> A </s></s> B </s>
  bpe        RoBERTa names, Metaspace (SentencePiece-style) pre-tokenizer
  unigram    ALBERT    <pad> <unk> [CLS] [SEP] [MASK]       [CLS] A [SEP] / [CLS] A [SEP] B [SEP]
"""

from __future__ import annotations

import hashlib
import logging
import json
import os
import posixpath
import tempfile
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import fsspec
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from shards.storage import check_url, join

log = logging.getLogger(__name__)

KINDS = ("wordpiece", "bpe", "bytelevel", "unigram")
TOKENIZER_FILE = "tokenizer.json"
INFO_FILE = "shardlm_tokenizer.json"
# Names tried, in order, when finding a role's token in any tokenizer (BERT/ALBERT first, then RoBERTa/XLM-R).
ROLE_NAMES = {
    "cls": ("[CLS]", "<s>"),
    "sep": ("[SEP]", "</s>"),
    "pad": ("[PAD]", "<pad>"),
    "mask": ("[MASK]", "<mask>"),
    "unk": ("[UNK]", "<unk>"),
}


@dataclass(frozen=True, kw_only=True)
class TokenizerConfig:
    kind: str
    vocab_size: int
    min_frequency: int = 2  # the default of `tokenizers`' BPE/WordPiece examples for BERT/RoBERTa-style training
    lowercase: bool | None = None  # None: lowercase for wordpiece (bert-base-uncased) only

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown tokenizer kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        if self.vocab_size < 16:
            raise ValueError(f"--vocab-size {self.vocab_size} is too small; give at least 16 (BERT uses 30522)")
        if self.vocab_size > 2**32:
            raise ValueError(f"--vocab-size {self.vocab_size} does not fit uint32 ids; give at most 2**32")
        if self.min_frequency < 0:
            raise ValueError(f"--min-frequency must be >= 0, got {self.min_frequency}")

    @property
    def do_lowercase(self) -> bool:
        return self.kind == "wordpiece" if self.lowercase is None else self.lowercase


def special_tokens(kind: str) -> dict[str, str]:
    """Role -> token of the family; dict order is id order (ids 0..4)."""
    if kind == "wordpiece":
        return {"pad": "[PAD]", "unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]"}
    if kind in ("bytelevel", "bpe"):
        return {"cls": "<s>", "pad": "<pad>", "sep": "</s>", "unk": "<unk>", "mask": "<mask>"}
    if kind == "unigram":
        return {"pad": "<pad>", "unk": "<unk>", "cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]"}
    raise ValueError(f"unknown tokenizer kind {kind!r}; choose one of {', '.join(KINDS)}")


def _metaspace() -> tuple[pre_tokenizers.PreTokenizer, decoders.Decoder]:
    return (pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always"),
            decoders.Metaspace(replacement="\u2581", prepend_scheme="always"))


def _normalizer(config: TokenizerConfig) -> normalizers.Normalizer | None:
    if config.kind == "wordpiece":
        return normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                          strip_accents=None, lowercase=config.do_lowercase)
    steps = [] if config.kind == "bytelevel" else [normalizers.NFKC()]
    if config.do_lowercase:
        steps.append(normalizers.Lowercase())
    return normalizers.Sequence(steps) if steps else None


def new_tokenizer(config: TokenizerConfig) -> tuple[Tokenizer, trainers.Trainer]:
    """An untrained tokenizer of a BPE or Unigram family and its trainer (WordPiece: `_train_wordpiece`)."""
    specials = list(special_tokens(config.kind).values())
    common = dict(vocab_size=config.vocab_size, special_tokens=specials, show_progress=False)
    if config.kind == "bytelevel":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(min_frequency=config.min_frequency,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), **common)
    elif config.kind == "bpe":
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.pre_tokenizer, tok.decoder = _metaspace()
        trainer = trainers.BpeTrainer(min_frequency=config.min_frequency, **common)
    else:  # unigram: UnigramTrainer has no min_frequency
        tok = Tokenizer(models.Unigram())
        tok.pre_tokenizer, tok.decoder = _metaspace()
        trainer = trainers.UnigramTrainer(unk_token="<unk>", **common)
    normalizer = _normalizer(config)
    if normalizer is not None:
        tok.normalizer = normalizer
    return tok, trainer


def _post_processor(kind: str, tok: Tokenizer) -> processors.PostProcessor:
    sp = special_tokens(kind)
    cls, sep = sp["cls"], sp["sep"]
    ids = {t: tok.token_to_id(t) for t in (cls, sep)}
    if kind == "bytelevel":
        return processors.RobertaProcessing((sep, ids[sep]), (cls, ids[cls]),
                                            trim_offsets=True, add_prefix_space=True)
    if kind == "bpe":  # RoBERTa's pair layout: <s> A </s></s> B </s>
        return processors.TemplateProcessing(single=f"{cls} $A {sep}", pair=f"{cls} $A {sep} {sep} $B {sep}",
                                             special_tokens=list(ids.items()))
    return processors.TemplateProcessing(single=f"{cls} $A {sep}", pair=f"{cls} $A {sep} $B:1 {sep}:1",
                                         special_tokens=list(ids.items()))


_WORD_START = "\u2581"  # marks the first piece of a word while a WordPiece vocabulary is learned
# Extra BPE merges allowed for joining the word-start mark to a word's first character: about
# one per distinct word-initial character (some dozens for alphabetic scripts; CJK has more).
WORD_START_ROOM = 2000


def wordpiece_vocab(bpe_vocab: dict[str, int], specials: list[str], vocab_size: int) -> dict[str, int]:
    """A WordPiece vocabulary from BPE pieces learned on word-start-marked words.

    A marked piece (`\u2581foo`) begins a word (`foo`), an unmarked one continues it (`##foo`);
    every character is kept alone and as a continuation so that no word of the training text
    becomes [UNK]. Order: special tokens, characters, continuation characters, then merges in
    the order they were learned; cut at `vocab_size` (never below the characters).
    """
    pieces = []
    for token, _ in sorted(bpe_vocab.items(), key=lambda item: item[1]):
        if token in specials:
            continue
        if token.startswith(_WORD_START):
            if len(token) > 1:
                pieces.append(token[1:])
        else:
            pieces.append("##" + token)
    chars = sorted({p.removeprefix("##") for p in pieces if len(p.removeprefix("##")) == 1})
    ordered = list(dict.fromkeys([*specials, *chars, *("##" + c for c in chars), *pieces]))
    return {t: i for i, t in enumerate(ordered[:max(vocab_size, len(specials) + 2 * len(chars))])}


def _train_wordpiece(texts: Iterable[str], config: TokenizerConfig) -> Tokenizer:
    """WordPiece, learned reproducibly.

    tokenizers' WordPieceTrainer numbers its `##x` symbols in hash-map order, which changes from
    process to process and with it how ties between equally frequent pairs break
    (huggingface/tokenizers#1794): two runs gave different vocabularies. It is a BPE trainer with
    a continuation prefix; the same merges are learned by BpeTrainer over words whose first
    character carries a word-start mark, whose alphabet is numbered in sorted order (the same
    input then gives the same vocabulary, tests/pipelines/tokenizer/test_tokenizer.py). Marked pieces turn
    into word-initial pieces, unmarked ones into `##` pieces (`wordpiece_vocab`). Marking a word
    costs one merge per character that starts a word, so the BPE is trained with room for
    `WORD_START_ROOM` of them and the vocabulary cut to `vocab_size` in merge order (texts are
    streamed once, never held in memory).
    """
    specials = list(special_tokens("wordpiece").values())
    bpe = Tokenizer(models.BPE(unk_token="[UNK]"))
    bpe.normalizer = _normalizer(config)
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.BertPreTokenizer(),
        pre_tokenizers.Metaspace(replacement=_WORD_START, prepend_scheme="always", split=False)])
    trainer = trainers.BpeTrainer(vocab_size=config.vocab_size + WORD_START_ROOM, min_frequency=config.min_frequency,
                                  special_tokens=specials, show_progress=False)
    bpe.train_from_iterator(_batched(texts, 256), trainer=trainer)
    vocab = wordpiece_vocab(bpe.get_vocab(), specials, config.vocab_size)
    if len(vocab) < config.vocab_size:
        log.warning("the WordPiece vocabulary has %d pieces, fewer than --vocab-size %d: the corpus "
                    "offers no more merges (or more than %d characters start words)",
                    len(vocab), config.vocab_size, WORD_START_ROOM)
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]", continuing_subword_prefix="##"))
    tok.normalizer = _normalizer(config)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    return tok


def train_tokenizer(texts: Iterable[str], config: TokenizerConfig) -> Tokenizer:
    """Train on an iterator of texts and add the post-processor."""
    if config.kind == "wordpiece":
        tok = _train_wordpiece(texts, config)
    else:
        tok, trainer = new_tokenizer(config)
        tok.train_from_iterator(_batched(texts, 256), trainer=trainer)
    missing = [t for t in special_tokens(config.kind).values() if tok.token_to_id(t) is None]
    if missing:
        raise ValueError(f"trained tokenizer lacks special tokens {missing}; this is a bug in shardlm")
    tok.post_processor = _post_processor(config.kind, tok)
    return tok


def _batched(texts: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for text in texts:
        batch.append(text)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def special_ids(tok: Tokenizer) -> dict[str, int]:
    """Role -> id for cls/sep/pad/mask/unk, found by the BERT or RoBERTa token names."""
    out: dict[str, int] = {}
    for role, names in ROLE_NAMES.items():
        ids = [tok.token_to_id(n) for n in names if tok.token_to_id(n) is not None]
        if not ids:
            raise ValueError(f"tokenizer has no {role} token (tried {', '.join(names)}); "
                             f"train one with `shardlm tokenizer` or add the special tokens")
        out[role] = ids[0]
    return out


def save_tokenizer(tok: Tokenizer, config: TokenizerConfig, output: str,
                   storage_options: dict | None = None) -> list[str]:
    """Save a `transformers` tokenizer folder to `output` (any fsspec URL); returns the file names."""
    from transformers import PreTrainedTokenizerFast  # heavy import: only where a folder is saved

    sp = special_tokens(config.kind)
    mask: str | AddedToken = sp["mask"]
    extra: dict[str, Any] = {"model_input_names": ["input_ids", "token_type_ids", "attention_mask"]}
    if config.kind in ("bytelevel", "bpe"):  # RoBERTa: <mask> absorbs the space before it
        mask = AddedToken(sp["mask"], lstrip=True, rstrip=False, special=True, normalized=False)
        extra = {"bos_token": sp["cls"], "eos_token": sp["sep"],
                 "model_input_names": ["input_ids", "attention_mask"]}
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token=sp["unk"], pad_token=sp["pad"],
                                   cls_token=sp["cls"], sep_token=sp["sep"], mask_token=mask, **extra)
    info = {"kind": config.kind, "vocab_size": tok.get_vocab_size(with_added_tokens=True),
            "lowercase": config.do_lowercase, "special_ids": special_ids(tok)}
    with tempfile.TemporaryDirectory(prefix="shardlm-tokenizer-") as tmp:
        fast.save_pretrained(tmp)
        with open(os.path.join(tmp, INFO_FILE), "w", encoding="utf-8") as f:
            json.dump(info, f, indent=2, sort_keys=True)
        names = sorted(os.listdir(tmp))
        for name in names:
            with open(os.path.join(tmp, name), "rb") as src, \
                    fsspec.open(_join(output, name), "wb", **(storage_options or {})) as dst:
                dst.write(src.read())
    return names


def _join(folder: str, name: str) -> str:
    return join(check_url(folder), name)


def tokenizer_json_url(url: str) -> str:
    """`--tokenizer` is a folder or a tokenizer.json URL."""
    return url if url.rstrip("/").endswith(".json") else _join(url, TOKENIZER_FILE)


def load_tokenizer(url: str, storage_options: dict | None = None) -> tuple[Tokenizer, dict[str, Any]]:
    """Load a tokenizer folder or tokenizer.json URL; returns it (padding and truncation off)
    and the info the shard-set manifest stores: {url, sha256, vocab_size, special_ids}."""
    json_url = tokenizer_json_url(url)
    fs, path = fsspec.core.url_to_fs(json_url, **(storage_options or {}))
    if not fs.exists(path):
        raise FileNotFoundError(f"{json_url} does not exist; give --tokenizer a folder written by "
                                f"`shardlm tokenizer` or a tokenizer.json URL")
    with fs.open(path, "rb") as f:
        data = f.read()
    try:
        tok = Tokenizer.from_str(data.decode("utf-8"))
    except Exception as err:  # noqa: BLE001 - tokenizers raises a bare Exception on bad JSON
        raise ValueError(f"{json_url} is not a Hugging Face tokenizer.json: {err}") from err
    tok.no_padding()
    tok.no_truncation()
    # The canonical URL (absolute path, or protocol://...), so a relative --tokenizer still
    # resolves when the trainer runs from another directory.
    canonical = fs.unstrip_protocol(path) if "://" in url else fs._strip_protocol(path)
    if url.rstrip("/") != json_url:  # a folder was given: name the folder
        canonical = posixpath.dirname(canonical)
    info = {"url": canonical, "sha256": hashlib.sha256(data).hexdigest(),
            "vocab_size": tok.get_vocab_size(with_added_tokens=True), "special_ids": special_ids(tok)}
    return tok, info
