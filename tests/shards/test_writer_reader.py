"""Golden properties of shards.writer and shards.reader: bytes, chunking, WebDataset compatibility, refusals."""

from __future__ import annotations

import hashlib
import io
import tarfile
import warnings

import pyarrow as pa
import pytest
import webdataset

from schemas import examples_schema, read_manifest
from shards.format import decode_chunk, encode_chunk
from shards.reader import ShardFormatError, iter_chunks, read_shard
from shards.writer import ShardSetWriter, rechunk, tar_bytes, write_shard

SCHEMA = examples_schema("mlm", 100)


def table(n: int, start: int = 0) -> pa.Table:
    return pa.table({
        "input_ids": [[i % 100, (i + 1) % 100, 3][: 1 + i % 3] for i in range(start, start + n)],
        "word_start": [[True, False, True][: 1 + i % 3] for i in range(start, start + n)],
        "doc_id": [f"doc{i}" for i in range(start, start + n)],
    }).cast(SCHEMA)


def write_set(folder: str, **kwargs) -> dict:
    with ShardSetWriter(folder, objective="mlm", seq_len=8, tokenizer={"vocab_size": 100}, schema=SCHEMA,
                        **kwargs) as writer:
        writer.write(table(17))
    return read_manifest(folder)


def test_chunks_are_lz4_compressed_arrow_that_decodes_to_the_same_table():
    examples = table(1024)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, examples.schema) as writer:  # the same stream uncompressed
        writer.write_table(examples)
    chunk = encode_chunk(examples)
    assert len(chunk) < 0.85 * len(sink.getvalue())  # 0.78 with lz4
    assert decode_chunk(chunk).equals(examples)


def test_golden_bytes_of_a_chunk_and_a_shard():
    constant = pa.table({"input_ids": [[1, 2, 3]] * 5, "word_start": [[True, False, True]] * 5,
                         "doc_id": ["d"] * 5}).cast(SCHEMA)
    chunk = encode_chunk(constant)
    assert hashlib.sha256(chunk).hexdigest() == "4e694d522c55ffc19da421e6b9959bd241be5496d31943b08dacccb163bc56c3"
    data, examples = tar_bytes("train-000000", rechunk(constant, 2))
    assert examples == 5 and len(data) == 10240
    assert hashlib.sha256(data).hexdigest() == "0a6744b5518cdf630e56ebab80914dfd948be33bd4810e424c68a564e271f198"
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == [f"train-000000-00000{i}.arrow" for i in range(3)]
    assert {(m.mtime, m.uname, m.gname, m.uid, m.mode) for m in members} == {(0, "shardlm", "shardlm", 0, 0o444)}
    assert data[257:263] == b"ustar\x00"


def test_writing_twice_gives_identical_bytes_and_true_hashes(tmp_path):
    first = write_set(str(tmp_path / "a"), chunk_size=7)
    second = write_set(str(tmp_path / "b"), chunk_size=7)
    assert first["shards"] == second["shards"]
    a, b = (tmp_path / "a" / "train-000000.tar").read_bytes(), (tmp_path / "b" / "train-000000.tar").read_bytes()
    assert a == b
    assert first["shards"][0]["sha256"] == hashlib.sha256(a).hexdigest() and first["shards"][0]["bytes"] == len(a)
    assert first["counts"] == {"examples": 17, "shards": 1, "examples/train": 17}


def test_rechunk_sizes():
    assert [b.num_rows for b in rechunk(table(17), 7)] == [7, 7, 3]
    assert [b.num_rows for b in rechunk(table(14), 7)] == [7, 7]
    assert [b.num_rows for b in rechunk(table(3), 1024)] == [3]
    with pytest.raises(ValueError, match="chunk_size must be positive"):
        rechunk(table(3), 0)


def test_chunks_hold_chunk_size_examples_and_shards_roll_on_bytes(tmp_path):
    manifest = write_set(str(tmp_path / "one"), chunk_size=7)
    assert [t.num_rows for _, t in iter_chunks(str(tmp_path / "one" / "train-000000.tar"))] == [7, 7, 3]
    rolled = write_set(str(tmp_path / "many"), chunk_size=7, max_shard_bytes=1)  # every chunk fills a shard
    assert [(s["url"], s["examples"]) for s in rolled["shards"]] == [
        ("train-000000.tar", 7), ("train-000001.tar", 7), ("train-000002.tar", 3)]
    assert manifest["counts"]["examples"] == rolled["counts"]["examples"] == 17


def test_read_shard_round_trips_and_keys_name_the_chunks(tmp_path):
    write_set(str(tmp_path), chunk_size=7)
    url = str(tmp_path / "train-000000.tar")
    assert read_shard(url).to_pylist() == table(17).to_pylist()
    assert [key for key, _ in iter_chunks(url)] == ["train-000000-000000", "train-000000-000001", "train-000000-000002"]
    assert read_shard(url).schema.field("input_ids").type == pa.list_(pa.uint16())


def test_an_interrupted_writer_commits_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with ShardSetWriter(str(tmp_path), objective="mlm", seq_len=8, tokenizer={}, schema=SCHEMA,
                            max_shard_bytes=1) as writer:
            writer.write(table(3))
            raise RuntimeError("crash")
    assert (tmp_path / "train-000000.tar").exists() and not (tmp_path / "manifest.json").exists()


def test_plain_webdataset_iterates_the_chunks(tmp_path):
    write_set(str(tmp_path), chunk_size=7)
    url = str(tmp_path / "train-000000.tar")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # webdataset asks for an explicit shardshuffle
        samples = list(webdataset.WebDataset(url))
    assert [s["__key__"] for s in samples] == ["train-000000-000000", "train-000000-000001", "train-000000-000002"]
    tables = [decode_chunk(s["arrow"]) for s in samples]
    assert pa.concat_tables(tables).to_pylist() == table(17).to_pylist()


def tar_with(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["../evil.arrow", "/etc/evil.arrow", "a/../../evil.arrow", "a/../b.arrow", ".."])
def test_members_with_absolute_or_dotdot_names_are_refused(tmp_path, name):
    path = tmp_path / "bad.tar"
    path.write_bytes(tar_with({"ok-000000.arrow": encode_chunk(table(2)), name: encode_chunk(table(1))}))
    with pytest.raises(ShardFormatError, match=r"refusing tar member .* with an absolute or '\.\.' path"):
        list(iter_chunks(str(path)))


def test_names_that_only_look_like_dotdot_are_fine(tmp_path):
    path = tmp_path / "odd.tar"
    path.write_bytes(tar_with({"..chunk.arrow": encode_chunk(table(2)), "a/b..c.arrow": encode_chunk(table(1))}))
    assert [k for k, _ in iter_chunks(str(path))] == ["..chunk", "a/b..c"]


@pytest.mark.parametrize("name", ["sample.pickle", "sample.pyd", "sample.json", "sample.arrow.gz"])
def test_members_that_are_not_arrow_chunks_are_refused(tmp_path, name):
    path = tmp_path / "other.tar"
    path.write_bytes(tar_with({name: b"\x80\x04K\x01."}))
    with pytest.raises(ShardFormatError, match=rf"member '{name}' is not a \.arrow chunk"):
        list(iter_chunks(str(path)))


def test_broken_shards_name_themselves(tmp_path):
    (tmp_path / "junk.tar").write_bytes(b"this is not a tar file" * 40)
    with pytest.raises(ShardFormatError, match="junk.tar is not a readable tar file"):
        list(iter_chunks(str(tmp_path / "junk.tar")))
    (tmp_path / "bad-chunk.tar").write_bytes(tar_with({"x-000000.arrow": b"not arrow"}))
    with pytest.raises(ValueError, match=r"bad-chunk\.tar:x-000000\.arrow is not an Arrow IPC stream"):
        list(iter_chunks(str(tmp_path / "bad-chunk.tar")))
    (tmp_path / "empty.tar").write_bytes(tar_with({}))
    with pytest.raises(ShardFormatError, match="empty.tar holds no chunks"):
        read_shard(str(tmp_path / "empty.tar"))


def test_write_shard_skips_empty_batches(tmp_path):
    empty = pa.RecordBatch.from_pylist([], schema=SCHEMA)
    info = write_shard(str(tmp_path), "valid", 3, [empty, *rechunk(table(4), 2)])
    assert (info.url, info.split, info.examples) == ("valid-000003.tar", "valid", 4)
    assert [k for k, _ in iter_chunks(str(tmp_path / info.url))] == ["valid-000003-000001", "valid-000003-000002"]
