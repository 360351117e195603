"""Schemas of the training examples stored in shard chunks, one per objective.

Token ids are stored unmasked and include the model family's special tokens
([CLS] A [SEP] B [SEP] for a pair, <s> ... </s> for a packed sequence); padding
is never stored. Per-token columns have the length of `input_ids`.
"""

import pyarrow as pa

OBJECTIVES = ("mlm", "nsp")


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
                 metadata={"doc": "id of the document the example starts in"}),
    ]


def examples_schema(objective: str, vocab_size: int) -> pa.Schema:
    """The Arrow schema of one objective's examples for a vocabulary of this size."""
    ids = token_dtype(vocab_size)
    fields = _common_fields(ids)
    if objective == "mlm":
        pass
    elif objective == "nsp":
        fields += [
            pa.field("segment_b_start", pa.int32(), nullable=False,
                     metadata={"doc": "index of the first token of segment B (after the first [SEP])"}),
            pa.field("next_sentence_label", pa.int8(), nullable=False,
                     metadata={"doc": "0: B follows A in the document; 1: B is a random segment"}),
        ]
    else:
        raise ValueError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")
    return pa.schema(fields, metadata={"kind": "examples", "objective": objective})
