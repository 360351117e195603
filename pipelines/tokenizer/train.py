"""Training a tokenizer reproducibly (pure logic; the job is pipelines/tokenizer/job.py, saving
and loading are in load.py).

Families and their special tokens (ids in this order, from 0):
  wordpiece  BERT      [PAD] [UNK] [CLS] [SEP] [MASK]       [CLS] A [SEP] / [CLS] A [SEP] B [SEP]
  bytelevel  RoBERTa   <s> <pad> </s> <unk> <mask>          <s> A </s> / <s> A </s></s> B </s>
  bpe        XLM       RoBERTa's names; XLM's BPE: words split at whitespace and punctuation,
                       the last piece of a word ends in `</w>`, optional lowercasing and
                       accent stripping (XLM's `lowercase_and_remove_accent`)
  unigram    ALBERT    <pad> <unk> [CLS] [SEP] [MASK]       [CLS] A [SEP] / [CLS] A [SEP] B [SEP]
                       trained by the `sentencepiece` library, converted to tokenizer.json
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Iterable, Iterator

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from pipelines.tokenizer import spm
from pipelines.tokenizer.load import BERT_NAMES, ROBERTA_NAMES

log = logging.getLogger(__name__)

KINDS = ("wordpiece", "bpe", "bytelevel", "unigram")
EOW = "</w>"  # XLM's end-of-word mark (its fastBPE vocabularies as transformers' XLMTokenizer reads them)


@dataclass(frozen=True, kw_only=True)
class TokenizerConfig:
    kind: str
    vocab_size: int
    min_frequency: int = 2  # the default of `tokenizers`' BPE/WordPiece examples for BERT/RoBERTa-style training
    lowercase: bool | None = None  # None: lowercase for wordpiece (bert-base-uncased) only
    strip_accents: bool | None = None  # None: as lowercase (BERT's BasicTokenizer, XLM's lowercase_and_remove_accent)
    seed: int = 0  # sentencepiece's sampling of training sentences (unigram)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown tokenizer kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        if self.vocab_size < 16:
            raise ValueError(f"--vocab-size {self.vocab_size} is too small; give at least 16 (BERT uses 30522)")
        if self.vocab_size > 2**32:
            raise ValueError(f"--vocab-size {self.vocab_size} does not fit uint32 ids; give at most 2**32")
        if self.min_frequency < 0:
            raise ValueError(f"--min-frequency must be >= 0, got {self.min_frequency}")
        if self.kind in ("bytelevel", "unigram") and self.strip_accents:
            raise ValueError(f"--strip-accents applies to wordpiece and bpe, not {self.kind}")

    @property
    def do_lowercase(self) -> bool:
        return self.kind == "wordpiece" if self.lowercase is None else self.lowercase

    @property
    def do_strip_accents(self) -> bool:
        return self.do_lowercase if self.strip_accents is None else self.strip_accents


def special_tokens(kind: str) -> dict[str, str]:
    """Role -> token of the family; dict order is id order (ids 0..4)."""
    if kind == "wordpiece":
        return dict(BERT_NAMES)
    if kind in ("bytelevel", "bpe"):
        return dict(ROBERTA_NAMES)
    if kind == "unigram":
        return {"pad": "<pad>", "unk": "<unk>", "cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]"}
    raise ValueError(f"unknown tokenizer kind {kind!r}; choose one of {', '.join(KINDS)}")


def _normalizer(config: TokenizerConfig) -> normalizers.Normalizer | None:
    if config.kind == "wordpiece":
        return normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                          strip_accents=config.strip_accents, lowercase=config.do_lowercase)
    steps = [] if config.kind == "bytelevel" else [normalizers.NFKC()]
    if config.do_lowercase:
        steps.append(normalizers.Lowercase())
    if config.kind == "bpe" and config.do_strip_accents:
        # XLM: NFD, then drop combining marks (category Mn); NFC recomposes what is left (Hangul)
        steps += [normalizers.NFD(), normalizers.StripAccents(), normalizers.NFC()]
    return normalizers.Sequence(steps) if steps else None


def new_tokenizer(config: TokenizerConfig) -> tuple[Tokenizer, trainers.Trainer]:
    """An untrained byte-level BPE tokenizer and its trainer (others: `train_tokenizer`)."""
    specials = list(special_tokens(config.kind).values())
    common = dict(vocab_size=config.vocab_size, special_tokens=specials, show_progress=False,
                  min_frequency=config.min_frequency)
    if config.kind == "bytelevel":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), **common)
    else:
        raise ValueError(f"new_tokenizer makes bytelevel tokenizers, not {config.kind}")
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


# A word's last character, which XLM's BPE marks with `</w>`, is one symbol of its own while
# merges are learned: a private-use character (plane 15), numbered in order of appearance.
_FINAL_BASE, _MAX_FINALS = 0xF0000, 0xFFFE


def _train_xlm_bpe(texts: Iterable[str], config: TokenizerConfig) -> Tokenizer:
    """XLM's BPE, learned reproducibly.

    BpeTrainer with `end_of_word_suffix` numbers its suffixed symbols in hash-map order, so ties
    between equally frequent pairs break differently from one process to the next (as its
    WordPiece sibling, `_train_wordpiece`). Here each word's last character is replaced by a
    character that stands for it with `</w>` before training: every symbol is then in the sorted
    alphabet, and the learned pieces map back to XLM's (`x` + mark -> `x</w>`). Text holding
    plane-15 private-use characters would be misread; web text practically never does.
    """
    normalizer, words = _normalizer(config), pre_tokenizers.Whitespace()  # words and punctuation runs (Moses-like)
    finals: dict[str, str] = {}

    def marked() -> Iterator[str]:
        for text in texts:
            text = normalizer.normalize_str(text) if normalizer is not None else text
            out = []
            for word, _ in words.pre_tokenize_str(text):
                mark = finals.get(word[-1])
                if mark is None:
                    if len(finals) >= _MAX_FINALS:
                        raise ValueError(f"more than {_MAX_FINALS} distinct word-final characters; "
                                         f"train bpe on less varied text or use --kind unigram")
                    mark = finals[word[-1]] = chr(_FINAL_BASE + len(finals))
                out.append(word[:-1] + mark)
            yield " ".join(out)

    specials = list(special_tokens("bpe").values())
    learner = Tokenizer(models.BPE(unk_token="<unk>"))
    learner.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    learner.train_from_iterator(_batched(marked(), 256), trainer=trainers.BpeTrainer(
        vocab_size=config.vocab_size, min_frequency=config.min_frequency, special_tokens=specials,
        show_progress=False))
    back = {mark: char + EOW for char, mark in finals.items()}

    def unmark(piece: str) -> str:
        return "".join(back.get(ch, ch) for ch in piece)

    learned = json.loads(learner.to_str())["model"]
    vocab = {unmark(piece): i for piece, i in learned["vocab"].items()}
    merges = [tuple(unmark(p) for p in (m.split(" ") if isinstance(m, str) else m)) for m in learned["merges"]]
    tok = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>", end_of_word_suffix=EOW))
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = words
    tok.decoder = decoders.BPEDecoder(suffix=EOW)
    return tok


def _train_unigram(texts: Iterable[str], config: TokenizerConfig) -> Tokenizer:
    """ALBERT's SentencePiece unigram, trained by the `sentencepiece` library (tokenizers'
    UnigramTrainer gives another vocabulary in each process) and converted to a `Tokenizer`."""
    specials = list(special_tokens("unigram").values())
    model = spm.train_unigram(_lines(texts), vocab_size=config.vocab_size, specials=specials,
                              lowercase=config.do_lowercase, seed=config.seed)
    return spm.to_tokenizer(spm.parse_model(model))


SPM_LINE_CHARS = 8192  # at most 32 KiB of UTF-8, under spm.MAX_SENTENCE_BYTES


def _lines(texts: Iterable[str]) -> Iterator[str]:
    """Non-empty lines of the texts, long ones cut, for sentencepiece (one sentence per item)."""
    for text in texts:
        for line in text.splitlines():
            line = line.strip()
            for lo in range(0, len(line), SPM_LINE_CHARS):
                yield line[lo:lo + SPM_LINE_CHARS]


def train_tokenizer(texts: Iterable[str], config: TokenizerConfig) -> Tokenizer:
    """Train on an iterator of texts and add the post-processor."""
    if config.kind == "wordpiece":
        tok = _train_wordpiece(texts, config)
    elif config.kind == "unigram":
        tok = _train_unigram(texts, config)
    elif config.kind == "bpe":
        tok = _train_xlm_bpe(texts, config)
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
