import hashlib
import json

import fsspec
import pytest

from pipelines.tokenizer.job import main
from pipelines.tokenizer.load import load_tokenizer
from pipelines.tokenizer.train import TokenizerConfig, special_tokens
from schemas import NotCommittedError
from tests.conftest import shared_data


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def train(docs: str, out: str, kind: str, vocab: int = 400, *extra: str) -> str:
    return main(["--input", docs, "--kind", kind, "--vocab-size", str(vocab), "--output", out, *extra])


def test_wordpiece_folder_loads_with_auto_tokenizer(documents_dataset, tmp_path):
    from transformers import AutoTokenizer

    out = train(documents_dataset, str(tmp_path / "tok"), "wordpiece")
    tok = AutoTokenizer.from_pretrained(out)
    assert (tok.pad_token, tok.unk_token, tok.cls_token, tok.sep_token, tok.mask_token) == \
        ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
    assert (tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id) == \
        (0, 1, 2, 3, 4)
    enc = tok("Alice visited the bridge", "Bob opened a box")
    tokens = tok.convert_ids_to_tokens(enc["input_ids"])
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and tokens.count("[SEP]") == 2
    assert "alice" in tokens  # lowercased by default for wordpiece
    assert enc["token_type_ids"][-1] == 1 and enc["token_type_ids"][0] == 0
    hello = tok("hello")["input_ids"]
    assert hello[0] == tok.cls_token_id and hello[-1] == tok.sep_token_id and len(hello) >= 3
    info = json.loads((tmp_path / "tok" / "shardlm_tokenizer.json").read_text())
    assert info["kind"] == "wordpiece" and info["special_ids"] == {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}


def test_bytelevel_folder_is_roberta_like(documents_dataset, tmp_path):
    from transformers import AutoTokenizer

    out = train(documents_dataset, str(tmp_path / "tok"), "bytelevel", 400)
    tok = AutoTokenizer.from_pretrained(out)
    assert [tok.convert_tokens_to_ids(t) for t in ("<s>", "<pad>", "</s>", "<unk>", "<mask>")] == [0, 1, 2, 3, 4]
    assert (tok.cls_token, tok.sep_token, tok.bos_token, tok.eos_token, tok.mask_token) == \
        ("<s>", "</s>", "<s>", "</s>", "<mask>")
    ids = tok("Alice visited the bridge")["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2
    assert "Alice" in tok.decode(ids)  # byte-level BPE is cased and lossless
    _, info = load_tokenizer(out)
    assert info["special_ids"] == {"cls": 0, "pad": 1, "sep": 2, "unk": 3, "mask": 4}
    assert info["vocab_size"] == 400


@pytest.mark.parametrize("kind, cls", [("bpe", "<s>"), ("unigram", "[CLS]")])
def test_bpe_and_unigram_folders(documents_dataset, tmp_path, kind, cls):
    from transformers import AutoTokenizer

    out = train(documents_dataset, str(tmp_path / kind), kind, 200)
    tok = AutoTokenizer.from_pretrained(out)
    tokens = tok.convert_ids_to_tokens(tok("Carol opened the box")["input_ids"])
    assert tokens[0] == cls and tok.mask_token_id is not None and tok.pad_token_id is not None
    assert list(special_tokens(kind).values()) == tok.convert_ids_to_tokens([0, 1, 2, 3, 4])


def test_load_tokenizer_info_from_folder_or_json(documents_dataset, tmp_path):
    out = train(documents_dataset, str(tmp_path / "tok"), "wordpiece", 300, "--min-frequency", "1")
    data = (tmp_path / "tok" / "tokenizer.json").read_bytes()
    tok, info = load_tokenizer(out)
    assert info == {"url": out, "sha256": hashlib.sha256(data).hexdigest(), "vocab_size": tok.get_vocab_size(),
                    "special_ids": {"cls": 2, "sep": 3, "pad": 0, "mask": 4, "unk": 1}}
    json_url = f"{out}/tokenizer.json"
    _, info2 = load_tokenizer(json_url)
    assert info2 == {**info, "url": json_url}
    assert tok.encode("hello", add_special_tokens=True).tokens[0] == "[CLS]"


def test_output_to_any_fsspec_url_and_max_documents(documents_dataset):
    out = train(documents_dataset, "memory://shardlm-test/tok", "wordpiece", 300, "--max-documents", "5",
                "--no-lowercase")
    fs = fsspec.filesystem("memory")
    assert {p.rsplit("/", 1)[1] for p in fs.ls("/shardlm-test/tok", detail=False)} >= \
        {"tokenizer.json", "tokenizer_config.json", "shardlm_tokenizer.json"}
    tok, _ = load_tokenizer(out)
    assert "Alice" in tok.get_vocab() or "A" in tok.get_vocab()  # cased
    fs.rm("/shardlm-test", recursive=True)


def test_real_bert_tokenizer_json_loads_without_padding():
    path = shared_data("tokenizers", "bert-base-uncased-wordpiece", "tokenizer.json")
    tok, info = load_tokenizer(str(path))
    assert info["special_ids"] == {"cls": 101, "sep": 102, "pad": 0, "mask": 103, "unk": 100}
    assert info["vocab_size"] == 30522
    assert len(tok.encode("hello world").ids) == 4  # padding and truncation are off


def test_errors_name_the_problem(tmp_path, documents_dataset):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        train(str(tmp_path / "nowhere"), str(tmp_path / "tok"), "wordpiece")
    (tmp_path / "unfinished").mkdir()
    with pytest.raises(NotCommittedError, match="did not finish"):
        train(str(tmp_path / "unfinished"), str(tmp_path / "tok"), "wordpiece")
    with pytest.raises(ValueError, match="too small"):
        TokenizerConfig(kind="wordpiece", vocab_size=3)
    with pytest.raises(FileNotFoundError, match="tokenizer.json does not exist"):
        load_tokenizer(str(tmp_path / "nowhere"))
    with pytest.raises(SystemExit):
        train(documents_dataset, str(tmp_path / "tok"), "sentencepiece")


def test_manifest_url_is_canonical_for_a_relative_path(documents_dataset, tmp_path, monkeypatch):
    train(documents_dataset, str(tmp_path / "tok"), "wordpiece", 300, "--min-frequency", "1")
    monkeypatch.chdir(tmp_path)
    _, folder_info = load_tokenizer("tok")
    _, file_info = load_tokenizer("./tok/tokenizer.json")
    assert folder_info["url"] == str(tmp_path / "tok")  # the trainer may run from another directory
    assert file_info["url"] == str(tmp_path / "tok" / "tokenizer.json")


def test_wordpiece_vocab_from_word_start_marked_pieces():
    from pipelines.tokenizer.train import wordpiece_vocab

    learned = {"[PAD]": 0, "[UNK]": 1, "\u2581": 2, "a": 3, "b": 4, "\u2581a": 5, "ab": 6, "\u2581ab": 7, "\u2581b": 8}
    assert wordpiece_vocab(learned, ["[PAD]", "[UNK]"], 10) == {
        "[PAD]": 0, "[UNK]": 1, "a": 2, "b": 3, "##a": 4, "##b": 5, "##ab": 6, "ab": 7}
    assert list(wordpiece_vocab(learned, ["[PAD]", "[UNK]"], 7)) == ["[PAD]", "[UNK]", "a", "b", "##a", "##b", "##ab"]
    assert len(wordpiece_vocab(learned, ["[PAD]", "[UNK]"], 3)) == 6  # never fewer than the characters


@pytest.mark.parametrize("kind", ["wordpiece", "bpe", "bytelevel", "unigram"])
def test_training_is_reproducible_across_processes(documents_dataset, tmp_path, kind):
    import subprocess
    import sys

    outputs = []
    for run in ("one", "two"):  # separate processes: each has its own hash-map seeds
        out = tmp_path / run
        subprocess.run([sys.executable, "-m", "pipelines.tokenizer", "--input", documents_dataset, "--kind",
                        kind, "--vocab-size", "120", "--min-frequency", "1", "--output", str(out)],
                       check=True, capture_output=True)
        outputs.append((out / "tokenizer.json").read_bytes())
    assert outputs[0] == outputs[1]
    assert len(json.loads(outputs[0])["model"]["vocab"]) > 60  # a vocabulary was learned, not just specials


def test_written_config_names_a_class_transformers_4_and_5_know(documents_dataset, tmp_path):
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    out = train(documents_dataset, str(tmp_path / "tok"), "unigram", 150)
    config = json.loads((tmp_path / "tok" / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast" and "backend" not in config
    tok = AutoTokenizer.from_pretrained(out)
    assert isinstance(tok, PreTrainedTokenizerFast)
    assert tok.convert_ids_to_tokens(tok("Alice opened it", "Bob too")["input_ids"])[0] == "[CLS]"


def test_bpe_is_xlm_style_with_lowercase_and_accent_stripping(tmp_path, make_documents):
    texts = ["L'été à Paris était très chaud. Été, ÉTÉ, ete !"] * 20 + ["Über München fährt der Zug."] * 20
    docs = make_documents(str(tmp_path / "docs"), texts)
    tok, _ = load_tokenizer(train(docs, str(tmp_path / "tok"), "bpe", 200, "--lowercase"))
    assert tok.encode("Été").tokens == tok.encode("ete").tokens == ["<s>", "ete</w>", "</s>"]
    assert tok.encode("Über").tokens == tok.encode("uber").tokens
    assert tok.decode(tok.encode("L'été à Paris", add_special_tokens=False).ids) == "l ' ete a paris"
    cased, _ = load_tokenizer(train(docs, str(tmp_path / "cased"), "bpe", 200))
    assert cased.encode("Été", add_special_tokens=False).tokens != cased.encode("ete", add_special_tokens=False).tokens
    assert cased.encode("Paris", add_special_tokens=False).tokens[-1].endswith("</w>")
    with pytest.raises(ValueError, match="--strip-accents applies to wordpiece and bpe"):
        TokenizerConfig(kind="bytelevel", vocab_size=100, strip_accents=True)
