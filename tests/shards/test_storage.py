"""shards.storage: URL expansion (braces, globs, folders, manifests), refused schemes, storage options."""

from __future__ import annotations

import fsspec
import pyarrow as pa
import pytest

from schemas import DOCUMENTS_SCHEMA, NotCommittedError, SCHEMA_VERSION, encode_schema, examples_schema, write_manifest
from shards.storage import expand_urls, join, open_url, parse_storage_options
from shards.writer import ShardInfo, ShardSetWriter, shard_set_manifest

SCHEMA = examples_schema("mlm", 100)


def small_table(n: int) -> pa.Table:
    return pa.table({"input_ids": [[1, 2]] * n, "word_start": [[True, True]] * n, "doc_id": ["d"] * n}).cast(SCHEMA)


def two_split_set(folder: str) -> None:
    """A manifest listing train and valid shards (the files need not exist for expansion)."""
    shards = [ShardInfo(url=f"{split}-{i:06d}.tar", split=split, examples=1, bytes=1, sha256="0")
              for split, count in (("valid", 1), ("train", 2)) for i in range(count)]
    write_manifest(folder, shard_set_manifest(objective="mlm", seq_len=8, tokenizer={}, schema=SCHEMA,
                                              shards=shards, created_by={"tool": "test"}))


def test_braces_expand_without_touching_storage():
    assert expand_urls("s3://nowhere/train-{000000..000002}.tar") == [
        "s3://nowhere/train-000000.tar", "s3://nowhere/train-000001.tar", "s3://nowhere/train-000002.tar"]
    assert expand_urls("gs://b/{train,valid}-000000.tar") == ["gs://b/train-000000.tar", "gs://b/valid-000000.tar"]
    assert expand_urls(["a/x.tar", "b/y-{0..1}.tar"]) == ["a/x.tar", "b/y-0.tar", "b/y-1.tar"]


def test_globs_match_sorted_and_keep_the_protocol(tmp_path):
    for name in ("t-2.tar", "t-0.tar", "t-1.tar", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    expected = [str(tmp_path / f"t-{i}.tar") for i in range(3)]
    assert expand_urls(str(tmp_path / "t-*.tar")) == expected
    assert expand_urls(f"file://{tmp_path}/t-?.tar") == [f"file://{p}" for p in expected]
    assert expand_urls(str(tmp_path / "t-{0,2}*.tar")) == [expected[0], expected[2]]
    with pytest.raises(FileNotFoundError, match=r"no shards match .*/u-\*\.tar"):
        expand_urls(str(tmp_path / "u-*.tar"))


def test_glob_on_s3(s3_bucket):
    with ShardSetWriter(f"{s3_bucket}/set", objective="mlm", seq_len=8, tokenizer={}, schema=SCHEMA,
                        max_shard_bytes=1, chunk_size=2) as writer:
        writer.write(small_table(4))
    expected = [f"{s3_bucket}/set/train-000000.tar", f"{s3_bucket}/set/train-000001.tar"]
    assert expand_urls(f"{s3_bucket}/set/*.tar") == expected
    assert expand_urls(f"{s3_bucket}/set") == expected


def test_folder_and_manifest_url_list_the_split(tmp_path):
    folder = str(tmp_path / "set")
    two_split_set(folder)
    train = [f"{folder}/train-000000.tar", f"{folder}/train-000001.tar"]
    assert expand_urls(folder) == train
    assert expand_urls(folder + "/") == train
    assert expand_urls(f"{folder}/manifest.json") == train
    assert expand_urls(folder, split="valid") == [f"{folder}/valid-000000.tar"]
    assert expand_urls(folder, split=None) == train + [f"{folder}/valid-000000.tar"]
    with pytest.raises(FileNotFoundError, match="no shards match"):
        expand_urls(folder, split="test")


def test_manifest_on_memory_filesystem():
    folder = "memory://storage-test/set"
    two_split_set(folder)
    try:
        assert expand_urls(folder) == [f"{folder}/train-000000.tar", f"{folder}/train-000001.tar"]
    finally:
        fsspec.filesystem("memory").rm("/storage-test", recursive=True)


def test_folder_without_manifest_is_an_unfinished_job(tmp_path):
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "train-000000.tar").write_bytes(b"")
    with pytest.raises(NotCommittedError, match=r"set has no manifest\.json: the job writing it did not finish"):
        expand_urls(str(tmp_path / "set"))
    with pytest.raises(FileNotFoundError, match="missing does not exist"):
        expand_urls(str(tmp_path / "missing"))


def test_a_documents_dataset_is_not_a_shard_set(tmp_path):
    manifest = {"kind": "documents", "schema_version": SCHEMA_VERSION, "arrow_schema": encode_schema(DOCUMENTS_SCHEMA),
                "rows": 0, "files": [], "stats": {"read": 0, "kept": 0}, "created_by": {}}
    write_manifest(str(tmp_path), manifest)
    with pytest.raises(ValueError, match="is a documents dataset, not a shard set; run `shardlm build`"):
        expand_urls(str(tmp_path))


@pytest.mark.parametrize("spec", ["pipe:curl -s http://x/a.tar", ["ok.tar", "pipe:cat a.tar"]])
def test_pipe_urls_are_refused(spec):
    with pytest.raises(ValueError, match="pipe: URLs run shell commands"):
        expand_urls(spec)


def test_open_url_refuses_pipe_and_reads_memory():
    with pytest.raises(ValueError, match="pipe: URLs run shell commands"):
        open_url("pipe:cat /etc/passwd")
    fsspec.filesystem("memory").pipe("/storage-test/blob", b"abc")
    try:
        with open_url("memory://storage-test/blob") as f:
            assert f.read() == b"abc"
    finally:
        fsspec.filesystem("memory").rm("/storage-test", recursive=True)


def test_parse_storage_options():
    assert parse_storage_options(None) == {} and parse_storage_options("") == {}
    assert parse_storage_options('{"anon": true, "client_kwargs": {"region_name": "x"}}') == {
        "anon": True, "client_kwargs": {"region_name": "x"}}
    with pytest.raises(ValueError, match="--storage-options is not valid JSON"):
        parse_storage_options("{anon: true}")
    with pytest.raises(ValueError, match="must be a JSON object"):
        parse_storage_options("[1]")


def test_join():
    assert join("s3://b/set/", "train-000000.tar") == "s3://b/set/train-000000.tar"
    assert join("s3://b/set", "gs://other/x.tar") == "gs://other/x.tar"
    assert join("/data/set", "/abs/x.tar") == "/abs/x.tar"
