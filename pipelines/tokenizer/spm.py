"""SentencePiece models: read a `.model` file into a Hugging Face `Tokenizer`, and train a unigram
model reproducibly with the `sentencepiece` library (pure, no Beam).

A `.model` file is a protobuf `ModelProto` (google/sentencepiece `sentencepiece_model.proto`). Only
the fields a tokenizer needs are read, straight from the protobuf wire format, so no protobuf
runtime is involved (the generated module of sentencepiece 0.2.3 wants protobuf 7, Beam pins < 7).
The conversion follows what `transformers`' SpmConverter / LlamaConverter do: a `Unigram` model
with its scores, or a `BPE` model whose merges are recovered from the pieces (a pair merges with
the rank of the piece it makes), the model's own normalization (its precompiled character map),
the meta space `▁` and byte fallback.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

META = "\u2581"
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6  # SentencePiece.Type
UNIGRAM, BPE = 1, 2  # TrainerSpec.ModelType


@dataclass
class SpmModel:
    """The parts of a ModelProto a tokenizer needs (defaults as in sentencepiece_model.proto)."""

    pieces: list[tuple[str, float, int]] = field(default_factory=list)  # (piece, score, type)
    model_type: int = UNIGRAM
    byte_fallback: bool = False
    split_digits: bool = False
    unk_id: int = 0
    precompiled_charsmap: bytes = b""
    add_dummy_prefix: bool = True
    remove_extra_whitespaces: bool = True


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of a protobuf message: ints for varints and 32/64-bit fields
    (raw little-endian), bytes for length-delimited fields."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = int.from_bytes(data[pos:pos + 8], "little"), pos + 8
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos:pos + size], pos + size
        elif wire == 5:
            value, pos = int.from_bytes(data[pos:pos + 4], "little"), pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if pos > len(data):
            raise ValueError("truncated field")
        yield number, value


def parse_model(data: bytes) -> SpmModel:
    """Read a serialized ModelProto; raises ValueError when it is not one."""
    model = SpmModel()
    try:
        for number, value in _fields(data):
            if number == 1 and isinstance(value, bytes):  # pieces
                piece, score, kind = "", 0.0, NORMAL
                for n, v in _fields(value):
                    if n == 1:
                        piece = v.decode("utf-8")
                    elif n == 2:
                        score = struct.unpack("<f", v.to_bytes(4, "little"))[0]
                    elif n == 3:
                        kind = v
                model.pieces.append((piece, score, kind))
            elif number == 2 and isinstance(value, bytes):  # trainer_spec
                for n, v in _fields(value):
                    if n == 3:
                        model.model_type = v
                    elif n == 35:
                        model.byte_fallback = bool(v)
                    elif n == 25:
                        model.split_digits = bool(v)
                    elif n == 40:
                        model.unk_id = v
            elif number == 3 and isinstance(value, bytes):  # normalizer_spec
                for n, v in _fields(value):
                    if n == 2:
                        model.precompiled_charsmap = v
                    elif n == 3:
                        model.add_dummy_prefix = bool(v)
                    elif n == 4:
                        model.remove_extra_whitespaces = bool(v)
    except (ValueError, UnicodeDecodeError, struct.error) as err:
        raise ValueError(f"not a SentencePiece model ({err})") from err
    if not model.pieces or model.model_type not in (UNIGRAM, BPE):
        raise ValueError("not a SentencePiece unigram or BPE model (no pieces, or a word/char model)")
    return model


def bpe_merges(pieces: list[tuple[str, float, int]]) -> list[tuple[str, str]]:
    """The merges of a SentencePiece BPE model: every split of a piece into two pieces, ranked by the
    score of the piece they make (then by the ids of the two halves)."""
    ids = {p: i for i, (p, _, kind) in enumerate(pieces) if kind in (NORMAL, USER_DEFINED, UNUSED)}
    ranked = []
    for piece, index in ids.items():
        halves = [(piece[:k], piece[k:]) for k in range(1, len(piece)) if piece[:k] in ids and piece[k:] in ids]
        halves.sort(key=lambda h: (ids[h[0]], ids[h[1]]))
        ranked.extend((-pieces[index][1], index, left, right) for left, right in halves)
    ranked.sort(key=lambda r: (r[0], r[1]))
    return [(left, right) for _, _, left, right in ranked]


def to_tokenizer(model: SpmModel) -> Tokenizer:
    """A `tokenizers.Tokenizer` that encodes as the SentencePiece model does."""
    if model.model_type == UNIGRAM:
        vocab = [(p, score) for p, score, _ in model.pieces]
        tok = Tokenizer(models.Unigram(vocab, unk_id=model.unk_id, byte_fallback=model.byte_fallback))
    else:
        vocab = {p: i for i, (p, _, _) in enumerate(model.pieces)}
        tok = Tokenizer(models.BPE(vocab, bpe_merges(model.pieces), unk_token=model.pieces[model.unk_id][0],
                                   byte_fallback=model.byte_fallback, fuse_unk=True))
    steps: list[normalizers.Normalizer] = []
    if model.precompiled_charsmap:
        steps.append(normalizers.Precompiled(model.precompiled_charsmap))
    if model.remove_extra_whitespaces:
        steps += [normalizers.Strip(left=False, right=True), normalizers.Replace(Regex(" {2,}"), " ")]
    prepend = "always" if model.add_dummy_prefix else "never"
    if model.model_type == UNIGRAM:
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme=prepend)
        decoder = decoders.Metaspace(replacement=META, prepend_scheme=prepend)
    else:  # BPE pieces may hold runs of meta spaces: no split at each space (as LlamaConverter)
        steps += [normalizers.Prepend(META)] if model.add_dummy_prefix else []
        steps.append(normalizers.Replace(" ", META))
        if model.split_digits:
            tok.pre_tokenizer = pre_tokenizers.Digits(individual_digits=True)
        decoder = decoders.Sequence([decoders.Replace(META, " "), *([decoders.Strip(" ", 1, 0)]
                                                                   if model.add_dummy_prefix else [])])
    if steps:
        tok.normalizer = normalizers.Sequence(steps)
    tok.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Fuse(), decoder]) \
        if model.byte_fallback else decoder
    tok.add_special_tokens([AddedToken(p, special=True, normalized=False)
                            for p, _, kind in model.pieces if kind == CONTROL])
    tok.add_tokens([AddedToken(p, normalized=False) for p, _, kind in model.pieces if kind == USER_DEFINED])
    return tok


# ----------------------------------------------------------------------------- training

# Each EM step sums expected counts per thread, so the vocabulary depends on the thread count:
# fixed here, never the machine's core count.
TRAIN_THREADS = 4
# The sentences the trainer keeps (a seeded reservoir sample beyond this): sentencepiece's
# `input_sentence_size`, as XLM-R and ALBERT sampled their SentencePiece training text.
MAX_TRAIN_SENTENCES = 10_000_000
MAX_SENTENCE_BYTES = 1 << 16  # longer lines are cut by the caller, not skipped (sentencepiece's default: 4192)


def train_unigram(lines: Iterable[str], *, vocab_size: int, specials: list[str], lowercase: bool,
                  seed: int = 0) -> bytes:
    """Train a SentencePiece unigram model (ALBERT's settings) and return the `.model` bytes.

    `specials` are the family's tokens in id order: `<pad>` and `<unk>` first, then control
    symbols. Reproducible: fixed thread count and sampling seed, inputs in the order given.
    """
    import sentencepiece as spm

    pad, unk, *controls = specials
    spm.set_random_generator_seed(seed)
    out = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=out, model_type="unigram", vocab_size=vocab_size,
        hard_vocab_limit=False, character_coverage=0.9995,  # sentencepiece's default for a multilingual corpus
        normalization_rule_name="nmt_nfkc_cf" if lowercase else "nmt_nfkc",
        pad_id=0, pad_piece=pad, unk_id=1, unk_piece=unk, bos_id=-1, eos_id=-1, control_symbols=controls,
        num_threads=TRAIN_THREADS, input_sentence_size=MAX_TRAIN_SENTENCES, shuffle_input_sentence=True,
        max_sentence_length=MAX_SENTENCE_BYTES, minloglevel=2)
    return out.getvalue()
