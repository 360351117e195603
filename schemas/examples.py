"""Schemas of the training examples stored in shard chunks: the table of objectives.

`OBJECTIVES` maps each objective `shardlm build --objective` writes to its extra Arrow columns
and a one-line description. It is the one list of objectives: the build job's choices, help
text and builder registry (pipelines/build/objectives/) and the trainer's shard check read it.
Adding an objective is one line here plus one builder module.

Token ids are stored unmasked and include the model family's special tokens
([CLS] A [SEP] B [SEP] for a pair, <s> ... </s> for a packed sequence); padding
is never stored. Per-token columns have the length of `input_ids`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

LANG_ID = pa.uint8()  # language ids index the manifest's `languages` table
MAX_LANGUAGES = 256


@dataclass(frozen=True)
class Objective:
    """One row of the table: the columns an objective's examples add to the common ones.

    `languages`: "never", "always" (every example carries language ids), or "optional" (they do
    when the shard set is built per language, `shardlm build --per-language`).
    """

    description: str
    fields: tuple[pa.Field, ...] = ()
    languages: str = "never"
    language_fields: tuple[pa.Field, ...] = ()


SEGMENT_B_START = pa.field("segment_b_start", pa.int32(), nullable=False,
                           metadata={"doc": "index of the first token of segment B (after the first separator)"})
LANG = pa.field("lang", LANG_ID, nullable=False,
                metadata={"doc": "language id of the example (the manifest's `languages` maps codes to ids)"})
LANGS = pa.field("langs", pa.list_(LANG_ID), nullable=False,
                 metadata={"doc": "language id of every token (the manifest's `languages` maps codes to ids)"})


def _label(name: str, doc: str) -> pa.Field:
    return pa.field(name, pa.int8(), nullable=False, metadata={"doc": doc})


OBJECTIVES: dict[str, Objective] = {
    "mlm": Objective("packed sentences for masked LM (RoBERTa FULL-/DOC-SENTENCES; XLM, XLM-R per language)",
                     languages="optional", language_fields=(LANG,)),
    "nsp": Objective("sentence pairs with next-sentence labels (BERT)",
                     (SEGMENT_B_START, _label("next_sentence_label",
                                              "0: B follows A in the document; 1: B is a random segment"))),
    "sop": Objective("consecutive segment pairs with sentence-order labels (ALBERT)",
                     (SEGMENT_B_START, _label("sentence_order_label",
                                              "0: A then B as in the document; 1: the two are swapped"))),
    "tlm": Objective("translation pairs from a parallel corpus with per-token language ids (XLM TLM)",
                     (SEGMENT_B_START, LANGS), languages="always"),
    "clm": Objective("per-language token streams for causal LM (XLM CLM)", languages="always",
                     language_fields=(LANG,)),
}


def token_dtype(vocab_size: int) -> pa.DataType:
    """uint16 when every id fits, else uint32."""
    if vocab_size <= 0:
        raise ValueError(f"vocab_size must be positive, got {vocab_size}")
    return pa.uint16() if vocab_size <= 2**16 else pa.uint32()


def _common_fields(ids: pa.DataType) -> list[pa.Field]:
    return [
        pa.field("input_ids", pa.list_(ids), nullable=False,
                 metadata={"doc": "unmasked token ids with special tokens, no padding"}),
        pa.field("word_start", pa.list_(pa.bool_()), nullable=False,
                 metadata={"doc": "true where a token starts a word (special tokens: true)"}),
        pa.field("doc_id", pa.string(), nullable=False,
                 metadata={"doc": "id of the document (or sentence pair) the example starts in"}),
    ]


def get_objective(objective: str) -> Objective:
    try:
        return OBJECTIVES[objective]
    except KeyError:
        raise ValueError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}") from None


def with_languages(objective: str, per_language: bool = False) -> bool:
    """Whether this objective's examples carry language ids (always, or optional and asked for)."""
    mode = get_objective(objective).languages
    return mode == "always" or (mode == "optional" and per_language)


def objective_fields(objective: str, per_language: bool = False) -> tuple[pa.Field, ...]:
    """The columns an objective adds to input_ids, word_start and doc_id."""
    spec = get_objective(objective)
    extra = spec.language_fields if with_languages(objective, per_language) else ()
    return spec.fields + extra


def examples_schema(objective: str, vocab_size: int, per_language: bool = False) -> pa.Schema:
    """The Arrow schema of one objective's examples for a vocabulary of this size."""
    fields = _common_fields(token_dtype(vocab_size)) + list(objective_fields(objective, per_language))
    return pa.schema(fields, metadata={"kind": "examples", "objective": objective})


def objective_columns(objective: str, per_language: bool = False) -> tuple[str, ...]:
    """Every column name of an objective's examples (what a shard check can require)."""
    return ("input_ids", "word_start", "doc_id", *(f.name for f in objective_fields(objective, per_language)))
