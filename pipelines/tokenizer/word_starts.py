"""Which tokens start a word, for every tokenizer family (pure; whole-word and n-gram masking read it).

Each family marks words in its pieces, and the references read the marks:

  wordpiece   a piece without the continuation prefix `##` starts a word (google-research/bert
              `create_pretraining_data.py`: BERT's pre-tokenizer makes punctuation words of its own)
  bytelevel   a piece whose text begins with a space (`Ġ`) starts a word (fairseq
              `GPT2BPE.is_beginning_of_word`, used by RoBERTa's whole-word masking): "hello," and
              "don't" are one word each
  metaspace   a SentencePiece-style piece beginning with `▁` starts a word (fairseq
              `SentencepieceBPE.is_beginning_of_word`, XLM-R); unigram and `bpe` of SentencePiece
  end_of_word XLM's BPE marks the last piece of a word with `</w>`: the piece after one starts a word
  offsets     any other tokenizer: a token starts a word when the text before it is whitespace

On top of the marks, a token starts a word where the text really starts one: the first token of
a sentence (sentences are split at whitespace), and a token after a whitespace token that is not a
plain space (a newline `Ċ` or tab `ĉ` of byte-level BPE, which never carries the space mark).
Special and other added tokens stand alone: each starts a word and ends one.

The marks are two boolean tables over the vocabulary, built once per tokenizer, so flags for a
batch of sentences are two numpy gathers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from tokenizers import Tokenizer

FAMILIES = ("wordpiece", "bytelevel", "metaspace", "end_of_word", "offsets")
METASPACE = "\u2581"


@dataclass(frozen=True, eq=False)
class WordStartRule:
    """A family's rule as tables over token ids: `begins[id]` (the piece starts a word) and
    `ends[id]` (the next token starts a word); both None for the `offsets` family."""

    family: str
    begins: np.ndarray | None = None
    ends: np.ndarray | None = None

    def flags(self, ids: np.ndarray, first: np.ndarray) -> np.ndarray:
        """Word-start flags of the tokens `ids` (several sentences concatenated), where `first`
        holds the index of each sentence's first token."""
        if self.begins is None or self.ends is None:
            raise ValueError("the offsets rule needs the texts and token offsets: use offset_word_starts")
        ids = np.asarray(ids, dtype=np.int64)
        out = self.begins[ids]
        if len(ids) > 1:
            out[1:] |= self.ends[ids[:-1]]
        out[np.asarray(first, dtype=np.int64)] = True
        return out


def word_start_family(tokenizer: Tokenizer) -> str:
    """The tokenizer's family (one of FAMILIES), without the rule's tables over the vocabulary."""
    return _family(json.loads(tokenizer.to_str()))[0]


def word_start_rule(tokenizer: Tokenizer) -> WordStartRule:
    """The rule of this tokenizer's family, read from its model, pre-tokenizer and decoder."""
    spec = json.loads(tokenizer.to_str())
    family, marker = _family(spec)
    if family == "offsets":
        return WordStartRule(family)
    size = tokenizer.get_vocab_size(with_added_tokens=True)
    tokens = [""] * size
    for token, index in tokenizer.get_vocab(with_added_tokens=True).items():
        if index < size:
            tokens[index] = token
    begins = np.zeros(size, dtype=bool)
    ends = np.zeros(size, dtype=bool)
    for index, token in enumerate(tokens):
        begins[index], ends[index] = _marks(family, marker, token)
    for added in spec.get("added_tokens") or []:
        if 0 <= added["id"] < size:
            begins[added["id"]] = ends[added["id"]] = True
    return WordStartRule(family, begins, ends)


def _components(part: dict | None) -> list[dict]:
    """A pre-tokenizer, normalizer or decoder and the members of a Sequence, flat."""
    if not part:
        return []
    members = part.get("pretokenizers") or part.get("normalizers") or part.get("decoders")
    if part.get("type") == "Sequence" and members:
        return [c for m in members for c in _components(m)]
    return [part]


def _family(spec: dict) -> tuple[str, str]:
    """(family, its marker) from a tokenizer.json."""
    model = spec.get("model") or {}
    parts = [*_components(spec.get("pre_tokenizer")), *_components(spec.get("decoder"))]
    types = {p.get("type") for p in parts}
    if model.get("type") == "WordPiece":
        return "wordpiece", model.get("continuing_subword_prefix") or "##"
    if "ByteLevel" in types:
        return "bytelevel", ""
    for p in parts:
        if p.get("type") == "Metaspace":
            return "metaspace", p.get("replacement") or METASPACE
    for n in _components(spec.get("normalizer")):  # SentencePiece converted without a pre-tokenizer (Llama)
        if n.get("type") == "Prepend" or (n.get("type") == "Replace" and n.get("content") == METASPACE):
            return "metaspace", METASPACE
    if model.get("type") == "BPE" and model.get("end_of_word_suffix"):
        return "end_of_word", model["end_of_word_suffix"]
    if model.get("type") == "BPE" and model.get("continuing_subword_prefix"):
        return "wordpiece", model["continuing_subword_prefix"]
    return "offsets", ""


def _byte_level_text(token: str) -> str:
    """The text a byte-level piece stands for (bytes that do not decode alone become U+FFFD)."""
    return bytes(_BYTE_OF.get(c, 0x3F) for c in token).decode("utf-8", errors="replace")


def _bytes_to_unicode() -> dict[str, int]:
    """GPT-2's byte <-> printable character table (openai/gpt-2 encoder.py), character -> byte."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[chr(b)] = b
        else:
            chars[chr(256 + extra)] = b
            extra += 1
    return chars


_BYTE_OF = _bytes_to_unicode()
_BYTE_TOKEN_SPACE = {f"<0x{b:02X}>": chr(b) for b in (0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20)}


def _marks(family: str, marker: str, token: str) -> tuple[bool, bool]:
    """(begins a word, next token begins a word) for one piece."""
    if family == "wordpiece":
        return not token.startswith(marker), False
    if family == "end_of_word":
        return False, token.endswith(marker)
    if family == "bytelevel":
        text = _byte_level_text(token)
    else:  # metaspace; byte-fallback pieces <0x0A> stand for their byte
        text = _BYTE_TOKEN_SPACE.get(token, token).replace(marker, " ")
    if not text:
        return False, False
    return text[0].isspace(), text[-1].isspace() and text[-1] != " "


def offset_word_starts(text: str, offsets: Sequence[tuple[int, int]]) -> np.ndarray:
    """Flags for a tokenizer without word marks: a token starts a word at the start of the text
    or after whitespace; tokens that share a start (one character split in bytes) start it once."""
    out = np.zeros(len(offsets), dtype=bool)
    previous_start = -1
    for i, (start, _) in enumerate(offsets):
        out[i] = start != previous_start and (start == 0 or text[start - 1].isspace() or i == 0)
        previous_start = start
    return out
