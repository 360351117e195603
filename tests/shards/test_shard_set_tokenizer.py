"""shards.tokenizer: the one place a shard set's tokenizer reference is resolved and verified."""

import hashlib
import json

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from shards.tokenizer import (TOKENIZER_FOLDER, load_shard_set_tokenizer, shard_set_tokenizer_files, tokenizer_url,
                              write_shard_set_tokenizer)

VOCAB = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4, "wool": 5, "market": 6}


def tokenizer_bytes() -> bytes:
    tok = Tokenizer(models.WordLevel(VOCAB, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.enable_padding(length=8)  # the build encodes without padding, whatever the file says
    return tok.to_str().encode()


def spec_of(data: bytes, url: str = TOKENIZER_FOLDER) -> dict:
    return {"url": url, "sha256": hashlib.sha256(data).hexdigest(), "vocab_size": len(VOCAB), "special_ids": {}}


def test_a_relative_reference_resolves_against_the_shard_set_and_moves_with_it(tmp_path):
    data = tokenizer_bytes()
    files = {"tokenizer.json": data, "tokenizer_config.json": b'{"tokenizer_class": "PreTrainedTokenizerFast"}'}
    assert write_shard_set_tokenizer(files, str(tmp_path / "set")) == "tokenizer"
    spec = spec_of(data)
    (tmp_path / "set").rename(tmp_path / "moved")
    assert tokenizer_url(str(tmp_path / "moved"), spec) == str(tmp_path / "moved" / "tokenizer")
    assert shard_set_tokenizer_files(str(tmp_path / "moved"), spec) == files
    tok = load_shard_set_tokenizer(str(tmp_path / "moved"), spec)
    assert tok.encode("wool market").ids == [5, 6]  # padding off


def test_absolute_references_of_older_manifests_are_used_as_written(tmp_path):
    data = tokenizer_bytes()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "tokenizer.json").write_bytes(data)
    for url in (str(tmp_path / "elsewhere"), str(tmp_path / "elsewhere" / "tokenizer.json")):
        assert shard_set_tokenizer_files(str(tmp_path / "set"), spec_of(data, url)) == {"tokenizer.json": data}


def test_a_changed_or_missing_tokenizer_is_refused(tmp_path):
    data = tokenizer_bytes()
    write_shard_set_tokenizer({"tokenizer.json": data}, str(tmp_path))
    with pytest.raises(ValueError, match="has changed since the shards were built"):
        load_shard_set_tokenizer(str(tmp_path), {**spec_of(data), "sha256": "0" * 64})
    with pytest.raises(FileNotFoundError, match=r"no tokenizer\.json there\); the shard set's manifest names it"):
        shard_set_tokenizer_files(str(tmp_path), spec_of(data, "gone"))


def test_a_rebuild_replaces_the_old_files(tmp_path):
    write_shard_set_tokenizer({"tokenizer.json": b"{}", "special_tokens_map.json": b"{}"}, str(tmp_path))
    data = tokenizer_bytes()
    write_shard_set_tokenizer({"tokenizer.json": data}, str(tmp_path))
    assert sorted(p.name for p in (tmp_path / "tokenizer").iterdir()) == ["tokenizer.json"]
    assert json.loads((tmp_path / "tokenizer" / "tokenizer.json").read_bytes())["model"]["type"] == "WordLevel"


def test_on_s3(s3_bucket):
    data = tokenizer_bytes()
    write_shard_set_tokenizer({"tokenizer.json": data}, f"{s3_bucket}/set", {})
    assert load_shard_set_tokenizer(f"{s3_bucket}/set", spec_of(data), {}).encode("market").ids == [6]
