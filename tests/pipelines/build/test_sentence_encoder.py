"""SentenceEncoder: a group's texts encoded once, joined by a private separator, give the ids, lengths
and word starts of encoding each text alone, for every tokenizer family."""

import json

import numpy as np
import pytest
from tokenizers import AddedToken, Tokenizer

from pipelines.build import tokenize_docs
from pipelines.build.sentences import split_sentences
from pipelines.build.tokenize_docs import SentenceEncoder
from pipelines.tokenizer.load import load_tokenizer
from pipelines.tokenizer.train import TokenizerConfig, train_tokenizer
from pipelines.tokenizer.word_starts import word_start_rule
from tests.conftest import shared_data

TEXT = """The Debian Reference covers many aspects of system administration. It is written for a new user.
Use  two  spaces\tand tabs... and more. Dr. Smith said 3.14 is pi! Isn't it? "Quoted," he said.
Ünïcödé àccents and ligatures ﬁ Ǆ. 日本語の文です。apt-get は便利です。 次の文。
Special text: [MASK] <mask> x[SEP]y <s>z</s> [UNK] <unk>. ▁meta ▁ space.
Eine deutsche Zeile. Noch ein Satz für den Übersetzer."""
ODD = ["A separator \ue000 inside. And after.", "x", "", "  ", ". . ."]


def groups() -> list[list[str]]:
    lines = TEXT.splitlines()
    docs = [split_sentences("\n".join(lines[i:]), "en") for i in range(len(lines))]
    return docs + [[t] for t in ODD] + [ODD, ["", "a"], ["b", ""]]


def alone(tok: Tokenizer, batch: list[list[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The reference: each text encoded by itself."""
    encodings = [tok.encode(t, add_special_tokens=False) for g in batch for t in g]
    ids = np.array([i for e in encodings for i in e.ids], dtype=np.uint32)
    lengths = np.array([len(e.ids) for e in encodings], dtype=np.int64)
    first = np.cumsum(lengths) - lengths
    return ids, word_start_rule(tok).flags(ids, first[lengths > 0]), lengths


def assert_same(encoder: SentenceEncoder, tok: Tokenizer, batch: list[list[str]]) -> None:
    got, want = encoder.encode(batch), alone(tok, batch)
    for name, a, b in zip(("ids", "word_start", "lengths"), got, want):
        assert a.tolist() == b.tolist(), name


def first_scheme(tok: Tokenizer) -> Tokenizer:
    """The tokenizer with its Metaspace pre-tokenizer marking only the input's first word."""
    spec = json.loads(tok.to_str())
    assert spec["pre_tokenizer"]["type"] == "Metaspace"
    spec["pre_tokenizer"]["prepend_scheme"] = "first"
    return Tokenizer.from_str(json.dumps(spec))


def shared(name: str) -> Tokenizer:
    tok, _ = load_tokenizer(str(shared_data("tokenizers", *name.split("/"))))
    return tok


@pytest.fixture(scope="module")
def xlm_bpe() -> Tokenizer:
    texts = [line for line in TEXT.splitlines() for _ in range(3)]
    return train_tokenizer(texts, TokenizerConfig(kind="bpe", vocab_size=120, min_frequency=1))


@pytest.mark.parametrize("name", ["bert-base-uncased-wordpiece", "gpt2-bpe", "sentencepiece/bpe-32000.model",
                                  "sentencepiece/unigram-1000.model", "xlm", "unigram-first"])
def test_joined_groups_encode_as_each_text_alone(name, xlm_bpe):
    tok = xlm_bpe if name == "xlm" else first_scheme(shared("sentencepiece/unigram-1000.model")) \
        if name == "unigram-first" else shared(name)
    encoder = SentenceEncoder(tok)
    assert encoder.joined is not None and encoder.separator == "\ue000"
    batch = groups()
    assert_same(encoder, tok, batch)
    for k in range(len(batch)):  # every group alone too: the first, the last and the only group
        assert_same(encoder, tok, batch[k:k + 1])
    assert encoder.encode([])[0].tolist() == []


def test_metaspace_first_groups_holding_an_added_token_are_encoded_text_by_text():
    tok = first_scheme(shared("sentencepiece/unigram-1000.model"))
    encoder = SentenceEncoder(tok)
    batch = [["one two.", "<s>three</s>four", "five"], ["six.", "seven"]]
    # joined, the pieces after an added token are marked as a word start; alone they are not
    texts = [encoder.separator.join(g) for g in batch]
    joined = [i for e in encoder.joined.encode_batch(texts, add_special_tokens=False)
              for i in e.ids if i != encoder.sep_id]
    assert joined != alone(tok, batch)[0].tolist()
    assert encoder.added is not None
    assert_same(encoder, tok, batch)


def test_a_separator_the_vocabulary_holds_is_not_used():
    tok = shared("bert-base-uncased-wordpiece")
    tok.add_tokens([AddedToken("\ue000", normalized=False)])
    encoder = SentenceEncoder(tok)
    assert encoder.separator == "\ue001"
    assert_same(encoder, tok, groups())


def test_tokenizers_that_differ_joined_are_encoded_text_by_text(monkeypatch):
    tok = first_scheme(shared("sentencepiece/unigram-1000.model"))
    # without the prepend_scheme fix, the probe texts differ joined and alone
    monkeypatch.setattr(tokenize_docs, "_pre_tokenizers", lambda part: [])
    encoder = SentenceEncoder(tok)
    assert encoder.joined is None
    assert_same(encoder, tok, groups())


def test_missing_separators_fall_back_to_each_text_alone():
    tok = shared("bert-base-uncased-wordpiece")
    encoder = SentenceEncoder(tok)
    encoder.sep_id = tok.token_to_id("[PAD]")  # as if the separators had not come out
    assert encoder._joined(groups()) is None
    assert_same(encoder, tok, groups())


def test_offsets_family_encodes_text_by_text():
    from tokenizers import models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "a": 1, "b": 2, ".": 3}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    encoder = SentenceEncoder(tok)
    assert encoder.rule.family == "offsets" and encoder.joined is None
    ids, word_start, lengths = encoder.encode([["a b.", "b"], ["a"]])
    assert ids.tolist() == [1, 2, 3, 2, 1] and lengths.tolist() == [3, 1, 1]
    assert word_start.tolist() == [True, True, False, True, True]


def test_a_tokenizer_that_truncates_encodes_text_by_text():
    tok = shared("bert-base-uncased-wordpiece")
    tok.enable_truncation(3)
    encoder = SentenceEncoder(tok)
    assert encoder.joined is None
    assert_same(encoder, tok, groups())
