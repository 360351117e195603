import pyarrow as pa
import pytest

from schemas import DOCUMENTS_SCHEMA, OBJECTIVES, examples_schema, token_dtype


def test_token_dtype_is_uint16_up_to_65536_and_uint32_above():
    assert token_dtype(1) == pa.uint16()
    assert token_dtype(30522) == pa.uint16()
    assert token_dtype(65536) == pa.uint16()  # ids 0..65535 all fit
    assert token_dtype(65537) == pa.uint32()
    assert token_dtype(250002) == pa.uint32()


@pytest.mark.parametrize("vocab_size", [0, -5])
def test_token_dtype_refuses_non_positive_vocab(vocab_size):
    with pytest.raises(ValueError, match=f"vocab_size must be positive, got {vocab_size}"):
        token_dtype(vocab_size)


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_examples_schema_input_ids_follow_the_vocab_size(objective):
    assert examples_schema(objective, 65536).field("input_ids").type == pa.list_(pa.uint16())
    assert examples_schema(objective, 65537).field("input_ids").type == pa.list_(pa.uint32())
    assert examples_schema(objective, 100).metadata == {b"kind": b"examples", b"objective": objective.encode()}


def test_nsp_schema_fields_and_dtypes():
    schema = examples_schema("nsp", 3000)
    assert schema.names == ["input_ids", "word_start", "doc_id", "segment_b_start", "next_sentence_label"]
    assert schema.field("word_start").type == pa.list_(pa.bool_())
    assert schema.field("doc_id").type == pa.string()
    assert schema.field("segment_b_start").type == pa.int32()
    assert schema.field("next_sentence_label").type == pa.int8()
    assert not any(f.nullable for f in schema)


def test_mlm_schema_has_only_the_common_fields():
    assert examples_schema("mlm", 3000).names == ["input_ids", "word_start", "doc_id"]


def test_unknown_objective_names_the_choices():
    with pytest.raises(ValueError, match=r"unknown objective 'bogus'; choose one of mlm, nsp"):
        examples_schema("bogus", 100)


def test_documents_schema_field_names_and_kind():
    assert DOCUMENTS_SCHEMA.names == [
        "id", "url", "text", "lang", "lang_score", "source", "timestamp",
        "num_chars", "num_words", "num_lines", "num_lines_removed", "mean_word_length",
    ]
    assert DOCUMENTS_SCHEMA.metadata == {b"kind": b"documents"}
    assert DOCUMENTS_SCHEMA.field("timestamp").type == pa.timestamp("s", tz="UTC")
    assert not DOCUMENTS_SCHEMA.field("id").nullable
    assert DOCUMENTS_SCHEMA.field("url").nullable
