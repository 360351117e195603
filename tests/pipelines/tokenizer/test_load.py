"""Existing vocabularies as `--tokenizer`: each of the four shared ones encodes like the library it
came from, with the family's special tokens found or added (pipelines/tokenizer/load.py, spm.py)."""

import json
import shutil

import pytest

from pipelines.tokenizer import spm
from pipelines.tokenizer.load import load_tokenizer, open_tokenizer, tokenizer_for_build
from pipelines.tokenizer.word_starts import word_start_rule
from shards.tokenizer import FOLDER_FILES
from tests.conftest import shared_data

SPECIALS = ("cls", "sep", "pad", "mask", "unk")


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Real text in several languages and scripts, with odd whitespace and digits."""
    out = [line for line in shared_data("text", "botchan.txt").read_text().splitlines() if line][:150]
    fortunes = shared_data("text", "fortunes-5lang.jsonl").read_text().splitlines()
    out += [json.loads(line)["text"] for line in fortunes[::40]]
    for lang in ("de", "fr", "ja"):
        pairs = shared_data("parallel", f"debian-reference.en-{lang}.tsv").read_text().splitlines()
        out += [p.split("\t")[1] for p in pairs[:80] if "\t" in p]
    return out + ["Hello  world", "  leading", "tabs\there", "x 1234567 y", "emoji 😀 ok", "東京タワー", "a\nb"]


def ids_of(tok, texts):
    return [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]


def test_bert_vocab_txt_encodes_like_bert_tokenizer_fast(texts, tmp_path):
    from transformers import BertTokenizerFast

    vocab = shared_data("tokenizers", "bert-base-uncased-wordpiece", "vocab.txt")
    shutil.copy(vocab, tmp_path / "vocab.txt")
    reference = BertTokenizerFast.from_pretrained(str(tmp_path))
    tok, info = load_tokenizer(str(vocab))
    assert ids_of(tok, texts) == [reference(t, add_special_tokens=False)["input_ids"] for t in texts]
    assert info["special_ids"] == {"cls": 101, "sep": 102, "pad": 0, "mask": 103, "unk": 100}
    assert info["vocab_size"] == 30522 and info["url"] == str(vocab)
    assert tok.encode("hello", "world").ids == reference("hello", "world")["input_ids"]
    _, folder_info = load_tokenizer(str(tmp_path))  # a folder holding only vocab.txt
    assert folder_info == {**info, "url": str(tmp_path)}


def test_gpt2_vocab_json_and_merges_encode_like_gpt2_tokenizer_fast(texts):
    from transformers import GPT2TokenizerFast

    folder = shared_data("tokenizers", "gpt2-bpe")
    reference = GPT2TokenizerFast.from_pretrained(str(folder))
    tok, info = load_tokenizer(str(folder))
    assert ids_of(tok, texts) == [reference(t)["input_ids"] for t in texts]
    assert tok.decode(tok.encode(texts[0], add_special_tokens=False).ids) == texts[0]
    # GPT-2 has only <|endoftext|>: RoBERTa's tokens are added after its 50,257 pieces
    assert info["special_ids"] == {"cls": 50257, "pad": 50258, "sep": 50259, "unk": 50260, "mask": 50261}
    assert info["vocab_size"] == 50262
    pair = tok.encode("Hi", "there")
    assert pair.tokens == ["<s>", "Hi", "</s>", "</s>", "there", "</s>"]
    _, json_info = load_tokenizer(str(folder / "vocab.json"))
    assert json_info == {**info, "url": str(folder / "vocab.json")}


@pytest.mark.parametrize("name", ["unigram-1000.model", "bpe-32000.model"])
def test_sentencepiece_models_encode_like_sentencepiece(texts, name):
    import sentencepiece

    path = shared_data("tokenizers", "sentencepiece", name)
    reference = sentencepiece.SentencePieceProcessor(model_file=str(path))
    tok, info = load_tokenizer(str(path))
    assert ids_of(tok, texts) == reference.encode(texts)
    known = [ids for ids in reference.encode(texts) if reference.unk_id() not in ids]  # sentencepiece shows <unk> as ⁇
    assert len(known) > 100 and [tok.decode(ids) for ids in known] == reference.decode(known)
    size = reference.get_piece_size()
    # <unk> <s> </s> are found; <pad> and <mask> are added after the pieces (XLM-R's names)
    assert info["special_ids"] == {"cls": 1, "sep": 2, "unk": 0, "pad": size, "mask": size + 1}
    assert word_start_rule(tok).family == "metaspace"
    assert tok.encode("A", "B").tokens[0] == "<s>"


def test_sentencepiece_reader_rejects_other_bytes(tmp_path):
    with pytest.raises(ValueError, match="not a SentencePiece"):
        spm.parse_model(b"\x0a\xff\xff")
    (tmp_path / "bad.model").write_bytes(b"not a model at all")
    with pytest.raises(ValueError, match="not a SentencePiece"):
        load_tokenizer(str(tmp_path / "bad.model"))


def test_build_saves_a_converted_vocabulary_as_a_folder_auto_tokenizer_loads(tmp_path):
    from transformers import AutoTokenizer

    model = shared_data("tokenizers", "sentencepiece", "unigram-1000.model")
    info = tokenizer_for_build(str(model), str(tmp_path / "shards"))
    folder = tmp_path / "shards" / "tokenizer"
    assert info["url"] == "tokenizer" and info["special_ids"]["mask"] == 1001  # relative to the shard set
    config = json.loads((folder / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert json.loads((folder / "shardlm_tokenizer.json").read_text())["source"] == str(model)
    auto = AutoTokenizer.from_pretrained(str(folder))
    assert (auto.cls_token, auto.sep_token, auto.mask_token, auto.pad_token) == ("<s>", "</s>", "<mask>", "<pad>")
    tok, again, converted = open_tokenizer(str(folder))
    assert not converted and again == {**info, "url": str(folder)}
    assert auto("Hello world")["input_ids"] == tok.encode("Hello world").ids
    # a tokenizer.json with its special tokens is used as it is: copied into the shard set, byte for byte
    assert tokenizer_for_build(str(folder), str(tmp_path / "other")) == info
    copied = tmp_path / "other" / "tokenizer"
    assert {p.name: p.read_bytes() for p in copied.iterdir()} == \
        {p.name: p.read_bytes() for p in folder.iterdir() if p.name in FOLDER_FILES}


def test_shardlm_build_with_a_sentencepiece_model(tmp_path, make_documents):
    """End to end: a .model as --tokenizer; the shards name the converted folder, and their word
    starts are the ▁ rule's (mlm packs whole sentences, so no segment is cut)."""
    import pyarrow as pa

    from pipelines.build.job import main as build
    from shards import iter_chunks

    model = shared_data("tokenizers", "sentencepiece", "unigram-1000.model")
    texts = ["It was a fine day, wasn't it? The master said so.", "Botchan went home.\nHe slept well."] * 5
    docs = make_documents(str(tmp_path / "docs"), texts)
    manifest = build(["--input", docs, "--tokenizer", str(model), "--objective", "mlm", "--seq-len", "64",
                      "--output", str(tmp_path / "shards"), "--num-shards", "1", "--valid-fraction", "0"])
    assert manifest["tokenizer"]["url"] == "tokenizer"  # relative to the shard set
    tok, info = load_tokenizer(str(tmp_path / "shards" / "tokenizer"))
    assert {**info, "url": "tokenizer"} == manifest["tokenizer"] and info["special_ids"]["mask"] == 1001
    rows = [r for e in manifest["shards"] for _, t in iter_chunks(str(tmp_path / "shards" / e["url"]))
            for r in pa.Table.to_pylist(t)]
    assert rows
    specials = set(info["special_ids"].values())
    for r in rows:
        pieces = [tok.id_to_token(i) for i in r["input_ids"]]
        expected = [i in specials or p.startswith("▁") for i, p in zip(r["input_ids"], pieces)]
        # a sentence's first piece starts a word even without ▁ (none here: sentencepiece prefixes one)
        assert r["word_start"] == expected
    assert any(not w for r in rows for w in r["word_start"])  # continuation pieces exist
