import pyarrow as pa
import pytest

from schemas import DOCUMENTS_SCHEMA, OBJECTIVES, examples_schema, objective_columns, token_dtype, with_languages


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


def test_the_objective_table_gives_each_objective_its_columns():
    assert list(OBJECTIVES) == ["mlm", "nsp", "sop", "tlm", "clm"]
    assert all(spec.description for spec in OBJECTIVES.values())
    assert objective_columns("sop") == ("input_ids", "word_start", "doc_id", "segment_b_start", "sentence_order_label")
    assert objective_columns("tlm") == ("input_ids", "word_start", "doc_id", "segment_b_start", "langs")
    assert objective_columns("clm") == ("input_ids", "word_start", "doc_id", "lang")
    assert objective_columns("mlm") == ("input_ids", "word_start", "doc_id")
    assert objective_columns("mlm", per_language=True) == ("input_ids", "word_start", "doc_id", "lang")
    assert objective_columns("nsp", per_language=True) == objective_columns("nsp")  # never per language
    assert examples_schema("tlm", 100).field("langs").type == pa.list_(pa.uint8())
    assert examples_schema("clm", 100).field("lang").type == pa.uint8()
    assert examples_schema("sop", 100).field("sentence_order_label").type == pa.int8()
    assert [with_languages(o) for o in OBJECTIVES] == [False, False, False, True, True]
    for objective in OBJECTIVES:
        for per_language in (False, True):
            assert examples_schema(objective, 100, per_language).names == list(objective_columns(objective,
                                                                                                 per_language))
