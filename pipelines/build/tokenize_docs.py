"""Batched tokenization of documents into sentences of token ids with word-start flags (pure).

A batch's documents are encoded once each, their sentences joined by a separator the encoding
splits at (`SentenceEncoder`): the ids of encoding each sentence alone, at less cost.

A tokenized document keeps its tokens flat (numpy arrays) with sentence offsets, which is
compact to hold in memory. Between Beam stages documents travel in batches (`DocBatch`: the
arrays of many documents end to end), so that Beam's per-element work and pickling are paid
once per batch, not once per document.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from itertools import chain
from typing import Iterable, Iterator, Sequence

import numpy as np
from tokenizers import AddedToken, Encoding, Tokenizer

from pipelines.build.sentences import split_sentences
from pipelines.tokenizer.word_starts import WordStartRule, offset_word_starts, word_start_rule


@dataclass(frozen=True, kw_only=True, eq=False)
class TokenizedDoc:
    """A document as sentences: sentence i is ids[offsets[i]:offsets[i+1]]."""

    doc_id: str
    ids: np.ndarray  # uint32, all sentences concatenated, no special tokens
    word_start: np.ndarray  # bool, same length as ids
    offsets: np.ndarray  # int64, num_sentences + 1 entries, offsets[0] == 0
    lang: str = "und"  # the documents dataset's language code; `src-tgt` for a translation pair

    @property
    def num_sentences(self) -> int:
        return len(self.offsets) - 1

    @property
    def num_tokens(self) -> int:
        return int(self.offsets[-1])

    def sentence(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.offsets[i], self.offsets[i + 1]
        return self.ids[lo:hi], self.word_start[lo:hi]

    def sentence_lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


@dataclass(frozen=True, eq=False)
class DocBatch:
    """Tokenized documents end to end: document k is sentences doc_sentences[k]:doc_sentences[k+1],
    sentence i is tokens sentence_offsets[i]:sentence_offsets[i+1] of ids and word_start."""

    doc_ids: tuple[str, ...]
    langs: tuple[str, ...]
    ids: np.ndarray  # uint32
    word_start: np.ndarray  # bool
    sentence_offsets: np.ndarray  # int64, sentences + 1 token offsets, [0] == 0
    doc_sentences: np.ndarray  # int64, documents + 1 sentence offsets, [0] == 0

    @classmethod
    def of(cls, docs: Sequence[TokenizedDoc]) -> DocBatch:
        """The documents in one batch (their arrays copied end to end)."""
        if not docs:
            return cls((), (), np.zeros(0, np.uint32), np.zeros(0, bool), np.zeros(1, np.int64), np.zeros(1, np.int64))
        tokens = np.cumsum([0] + [d.num_tokens for d in docs], dtype=np.int64)
        sentences = np.cumsum([0] + [d.num_sentences for d in docs], dtype=np.int64)
        offsets = np.concatenate([[0], *(d.offsets[1:] + t for d, t in zip(docs, tokens))]).astype(np.int64)
        return cls(tuple(d.doc_id for d in docs), tuple(d.lang for d in docs),
                   np.concatenate([d.ids for d in docs]).astype(np.uint32),
                   np.concatenate([d.word_start for d in docs]).astype(bool), offsets, sentences)

    @classmethod
    def join(cls, batches: Sequence[DocBatch]) -> DocBatch:
        """The batches' documents in one batch, in order."""
        if len(batches) == 1:
            return batches[0]
        if not batches:
            return cls.of([])
        tokens = np.cumsum([0] + [len(b.ids) for b in batches[:-1]], dtype=np.int64)
        sentences = np.cumsum([0] + [len(b.sentence_offsets) - 1 for b in batches[:-1]], dtype=np.int64)
        return cls(tuple(chain.from_iterable(b.doc_ids for b in batches)),
                   tuple(chain.from_iterable(b.langs for b in batches)),
                   np.concatenate([b.ids for b in batches]), np.concatenate([b.word_start for b in batches]),
                   np.concatenate([[0], *(b.sentence_offsets[1:] + t for b, t in zip(batches, tokens))]).astype(np.int64),
                   np.concatenate([[0], *(b.doc_sentences[1:] + s for b, s in zip(batches, sentences))]).astype(np.int64))

    def __len__(self) -> int:
        return len(self.doc_ids)

    def token_counts(self) -> np.ndarray:
        """Tokens of each document."""
        return np.diff(self.sentence_offsets[self.doc_sentences])

    def sentence_counts(self) -> np.ndarray:
        return np.diff(self.doc_sentences)

    def docs(self) -> Iterator[TokenizedDoc]:
        """The documents, their arrays views into the batch's."""
        bounds = self.doc_sentences.tolist()
        for k, (doc_id, lang) in enumerate(zip(self.doc_ids, self.langs)):
            offsets = self.sentence_offsets[bounds[k]:bounds[k + 1] + 1]
            lo, hi = int(offsets[0]), int(offsets[-1])
            yield TokenizedDoc(doc_id=doc_id, ids=self.ids[lo:hi], word_start=self.word_start[lo:hi],
                               offsets=offsets - lo, lang=lang)

    def select(self, keep: Sequence[int]) -> DocBatch:
        """The documents at indices `keep`, in that order."""
        keep = np.asarray(keep, dtype=np.int64)
        if len(keep) == len(self) and np.array_equal(keep, np.arange(len(self))):
            return self
        first, last = self.doc_sentences[keep], self.doc_sentences[keep + 1]
        sentences = index_ranges(first, last)  # the kept sentences, in order
        lengths = np.diff(self.sentence_offsets)[sentences]
        tokens = index_ranges(self.sentence_offsets[first], self.sentence_offsets[last])
        offsets = np.zeros(len(sentences) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        doc_sentences = np.zeros(len(keep) + 1, dtype=np.int64)
        np.cumsum(last - first, out=doc_sentences[1:])
        return DocBatch(tuple(self.doc_ids[k] for k in keep.tolist()), tuple(self.langs[k] for k in keep.tolist()),
                        self.ids[tokens], self.word_start[tokens], offsets, doc_sentences)


def index_ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The integers of [starts[i], ends[i]) for every i, end to end."""
    lengths = ends - starts
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    keep = lengths > 0
    starts, lengths = starts[keep], lengths[keep]
    step = np.ones(total, dtype=np.int64)
    heads = np.cumsum(lengths)[:-1]
    step[0] = starts[0]
    step[heads] = starts[1:] - (starts[:-1] + lengths[:-1]) + 1
    return np.cumsum(step)


def make_doc(doc_id: str, sentences: Sequence[tuple[Sequence[int], Sequence[bool]]],
             lang: str = "und") -> TokenizedDoc:
    """Build a TokenizedDoc from (ids, word_start) per sentence (tests, small inputs)."""
    lengths = [len(ids) for ids, _ in sentences]
    offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64)
    ids = np.fromiter((t for s, _ in sentences for t in s), dtype=np.uint32, count=int(offsets[-1]))
    ws = np.fromiter((bool(w) for _, s in sentences for w in s), dtype=bool, count=int(offsets[-1]))
    return TokenizedDoc(doc_id=doc_id, ids=ids, word_start=ws, offsets=offsets, lang=lang)


def tokenize_documents(tokenizer: Tokenizer | SentenceEncoder,
                       docs: Iterable[tuple[str, str] | tuple[str, str, str]],
                       rule: WordStartRule | None = None) -> tuple[list[TokenizedDoc], Counter]:
    """`tokenize_batch` as a list of documents."""
    batch, skipped = tokenize_batch(tokenizer, docs, rule)
    return list(batch.docs()), skipped


def tokenize_batch(tokenizer: Tokenizer | SentenceEncoder, docs: Iterable[tuple[str, str] | tuple[str, str, str]],
                   rule: WordStartRule | None = None) -> tuple[DocBatch, Counter]:
    """Split (doc_id, text) or (doc_id, text, lang) tuples into sentences and encode them in one batch.

    `lang` (the documents dataset's ISO 639-1 code; "und" when absent) picks the sentence
    splitter's rules and is the documents' lang. Returns the tokenized documents (input order)
    and a Counter of skipped documents by reason: `empty_text` (no sentence) or `no_tokens`
    (sentences that encode to nothing). Sentences that encode to no token are dropped. Word
    starts follow the tokenizer family's rule (`pipelines.tokenizer.word_starts`); pass a
    `SentenceEncoder` (or `rule`) to build it once per tokenizer.
    """
    encoder = tokenizer if isinstance(tokenizer, SentenceEncoder) else SentenceEncoder(tokenizer, rule)
    skipped: Counter = Counter()
    doc_ids: list[str] = []
    langs: list[str] = []
    groups: list[list[str]] = []
    for doc_id, text, *lang in docs:
        sentences = split_sentences(text or "", lang[0] if lang else None)
        if sentences:
            doc_ids.append(doc_id)
            langs.append(lang[0] if lang else "und")
            groups.append(sentences)
        else:
            skipped["empty_text"] += 1
    ids, word_start, lengths = encoder.encode(groups)
    counts = [len(g) for g in groups]
    owner = np.repeat(np.arange(len(counts)), counts)
    kept = lengths > 0
    per_doc = np.bincount(owner[kept], minlength=len(counts))
    if not per_doc.all():
        skipped["no_tokens"] += int((per_doc == 0).sum())
        keep = per_doc > 0
        doc_ids = [d for d, k in zip(doc_ids, keep.tolist()) if k]
        langs = [lang for lang, k in zip(langs, keep.tolist()) if k]
        per_doc = per_doc[keep]
    offsets = np.zeros(int(kept.sum()) + 1, dtype=np.int64)
    np.cumsum(lengths[kept], out=offsets[1:])
    doc_sentences = np.zeros(len(per_doc) + 1, dtype=np.int64)
    np.cumsum(per_doc, out=doc_sentences[1:])
    return DocBatch(tuple(doc_ids), tuple(langs), ids, word_start, offsets, doc_sentences), skipped


# Private-use characters tried, in order, as the separator of a group's texts in one encoding.
SEPARATORS = tuple(map(chr, range(0xE000, 0xE100)))
# Texts that every tokenizer must encode alike alone and joined before joining is used: spaces,
# punctuation, digits, accents, CJK, tabs, and the text of the families' special tokens.
PROBE = (("Hello, world!", "  Two  spaces\tand a tab.", "don't 3.14 x", "Ünïcödé ﬁ Ǆ.", "日本語の文です。",
          "▁meta ▁ space", "end.", "e"),
         ("x [MASK] <mask> [SEP]x", "<s>y</s> [UNK]", "<unk>z"))


class SentenceEncoder:
    """Encodes groups of texts (a document's sentences, a pair's two sides) into each text's ids.

    Each encoding carries a fixed cost: a document's sentences encoded one string each cost more
    than the document encoded whole (docs/benchmarks.md, the build section). A group is therefore
    encoded once, its texts joined by a separator: a private-use character that a private copy
    of the tokenizer knows as a special added token. Added tokens split the input before
    normalisation and pre-tokenisation, so each text is encoded as it is alone, and the ids split
    at the separator's id. Where that does not hold it is not used:
    - the `offsets` family reads each text's token offsets, and a tokenizer that truncates or
      pads would cut or pad the group instead of each text: one encoding per text;
    - a Metaspace pre-tokenizer with prepend_scheme "first" marks only the input's first word;
      the private copy prepends to every piece ("always"), which matches a text alone as long as
      the text holds no added token: a group whose encoding has one is encoded text by text;
    - a group whose text holds the separator character is encoded text by text;
    - a tokenizer whose probe texts (PROBE) differ joined and alone is encoded text by text.
    The ids are the same either way (tests/pipelines/build/test_sentence_encoder.py).
    """

    def __init__(self, tokenizer: Tokenizer, rule: WordStartRule | None = None):
        self.tokenizer = tokenizer
        self.rule = rule or word_start_rule(tokenizer)
        self.joined: Tokenizer | None = None
        self.separator = ""
        self.sep_id = -1
        self.added: np.ndarray | None = None  # added-token ids that send a group to per-text encoding
        if self.rule.family != "offsets" and tokenizer.truncation is None and tokenizer.padding is None:
            self._join_copy()

    def _join_copy(self) -> None:
        spec = json.loads(self.tokenizer.to_str())
        first = [p for p in _pre_tokenizers(spec.get("pre_tokenizer"))
                 if p.get("type") == "Metaspace" and p.get("prepend_scheme") == "first"]
        for p in first:
            p["prepend_scheme"] = "always"
        added = self.tokenizer.get_added_tokens_decoder()
        taken = [t.content for t in added.values()]
        separator = next((c for c in SEPARATORS if self.tokenizer.token_to_id(c) is None
                          and not any(c in t for t in taken)), None)
        if separator is None:
            return
        joined = Tokenizer.from_str(json.dumps(spec)) if first else Tokenizer.from_str(self.tokenizer.to_str())
        joined.add_special_tokens([AddedToken(separator, special=True, normalized=False)])
        self.joined, self.separator, self.sep_id = joined, separator, joined.token_to_id(separator)
        if first:
            size = joined.get_vocab_size(with_added_tokens=True)
            self.added = np.zeros(size, dtype=bool)
            self.added[[i for i in added if i < size]] = True
        alone = self._per_text(PROBE)
        together = self._joined(PROBE)
        if together is None or not all(np.array_equal(a, b) for a, b in zip(alone, together)):
            self.joined = None

    def encode(self, groups: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All texts' ids end to end (no special tokens), their word-start flags (each text's first
        token starts a word) and each text's length (a text of no token: 0), texts in order."""
        encoded = None if self.joined is None else self._joined(groups)
        if encoded is None:
            if self.rule.family == "offsets":  # one encoding per text, with offsets
                texts = [t for g in groups for t in g]
                encodings = self.tokenizer.encode_batch(texts, add_special_tokens=False) if texts else []
                return _flatten(encodings, texts, self.rule)
            encoded = self._per_text(groups)
        ids, lengths = encoded
        first = np.cumsum(lengths) - lengths
        return ids, self.rule.flags(ids, first[lengths > 0]), lengths

    def _per_text(self, groups: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
        """(ids, lengths) encoding each text alone (encode_batch_fast: the same ids, no offsets)."""
        texts = [t for g in groups for t in g]
        encodings = self.tokenizer.encode_batch_fast(texts, add_special_tokens=False) if texts else []
        return _ids_and_lengths(encodings)

    def _joined(self, groups: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray] | None:
        """(ids, lengths) encoding each group once, its texts joined by the separator (groups that
        cannot be: text by text); None if the encodings do not hold the separators expected."""
        sep = self.separator
        counts = np.fromiter(map(len, groups), dtype=np.int64, count=len(groups))
        texts = [sep.join(g) for g in groups]
        # a group joins when it has texts and they hold no separator: looked at once for the batch
        if counts.all() and "".join(texts).count(sep) == int(counts.sum()) - len(groups):
            joinable = np.ones(len(groups), dtype=bool)
        else:
            joinable = np.fromiter((len(g) > 0 and text.count(sep) == len(g) - 1 for g, text in zip(groups, texts)),
                                   dtype=bool, count=len(groups))
        if not joinable.all():
            texts = [text for text, j in zip(texts, joinable.tolist()) if j]
        encodings = self.joined.encode_batch_fast(texts, add_special_tokens=False) if texts else []
        ids, group_lengths = _ids_and_lengths(encodings)
        at_sep = ids == self.sep_id
        seps = np.flatnonzero(at_sep)
        n = counts[joinable]
        if len(seps) != int(n.sum()) - len(n):
            return None
        # each text ends at a separator, or at the end of its group's encoding for the group's last
        last = np.zeros(int(n.sum()), dtype=bool)
        last[np.cumsum(n) - 1] = True
        ends = np.empty(len(last), dtype=np.int64)
        ends[last] = np.cumsum(group_lengths)
        ends[~last] = seps
        starts = np.zeros(len(last), dtype=np.int64)
        starts[1:] = ends[:-1] + ~last[:-1]
        lengths = ends - starts
        ids = ids[~at_sep]
        use = joinable.copy()  # groups whose joined encoding is kept
        if self.added is not None and len(ids):  # prepend_scheme "first": groups holding an added token
            marked = np.flatnonzero(self.added[ids])
            if len(marked):
                group_end = np.cumsum(lengths)[np.cumsum(n) - 1]
                owners = np.searchsorted(group_end, marked, side="right")
                use[np.flatnonzero(joinable)[owners]] = False
        if use.all():
            return ids, lengths
        alone_ids, alone_lengths = self._per_text([g for g, u in zip(groups, use.tolist()) if not u])
        return _merge(counts, joinable, use, (ids, lengths), (alone_ids, alone_lengths))


def _merge(counts: np.ndarray, joinable: np.ndarray, use: np.ndarray, joined: tuple[np.ndarray, np.ndarray],
           alone: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(ids, lengths) of every group's texts in group order: the `use` groups' from `joined` (the
    encodings of the `joinable` groups, in order), the others' from `alone` (in order)."""
    from_joined = (part for part, kept in zip(_by_group(*joined, counts[joinable]), use[joinable].tolist()) if kept)
    from_alone = iter(_by_group(*alone, counts[~use]))
    parts = [next(from_joined) if u else next(from_alone) for u in use.tolist()]
    return np.concatenate([ids for ids, _ in parts]), np.concatenate([lengths for _, lengths in parts])


def _by_group(ids: np.ndarray, lengths: np.ndarray, counts: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(ids, lengths) of texts end to end -> one (ids, lengths) per group of `counts` texts."""
    text_ends = np.cumsum(counts)
    token_ends = np.concatenate([[0], np.cumsum(lengths)])[text_ends]
    return list(zip(np.split(ids, token_ends[:-1]), np.split(lengths, text_ends[:-1])))


def _pre_tokenizers(part: dict | None) -> list[dict]:
    """A pre-tokenizer and the members of a Sequence, flat (the dicts themselves, to edit)."""
    if not part:
        return []
    if part.get("type") == "Sequence":
        return [p for member in part.get("pretokenizers") or [] for p in _pre_tokenizers(member)]
    return [part]


def _ids_and_lengths(encodings: list[Encoding]) -> tuple[np.ndarray, np.ndarray]:
    """All encodings' ids end to end, and each encoding's length."""
    lengths = np.fromiter(map(len, encodings), dtype=np.int64, count=len(encodings))  # len(e) == len(e.ids)
    # each e.ids builds a Python list: once per encoding
    ids = np.fromiter(chain.from_iterable([e.ids for e in encodings]), dtype=np.uint32, count=int(lengths.sum()))
    return ids, lengths


def _flatten(encodings: list[Encoding], texts: list[str], rule: WordStartRule
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All encodings' ids, their word-start flags from the texts and offsets (the `offsets`
    family), and each encoding's length."""
    ids, lengths = _ids_and_lengths(encodings)
    flags = [offset_word_starts(t, e.offsets) for t, e in zip(texts, encodings)]
    word_start = np.concatenate(flags) if flags else np.zeros(0, dtype=bool)
    return ids, word_start, lengths
