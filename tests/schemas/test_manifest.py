import json
import re
import uuid

import fsspec
import pytest

from schemas import (
    DOCUMENTS_SCHEMA,
    SCHEMA_VERSION,
    ManifestError,
    NotCommittedError,
    decode_schema,
    encode_schema,
    examples_schema,
    find_manifest,
    manifest_url,
    read_manifest,
    uncommit,
    validate_manifest,
    write_manifest,
)


def documents_manifest(**overrides):
    manifest = {
        "kind": "documents",
        "schema_version": SCHEMA_VERSION,
        "arrow_schema": encode_schema(DOCUMENTS_SCHEMA),
        "rows": 7,
        "files": [{"path": "part-00000.parquet", "rows": 7, "bytes": 1234, "sha256": "ab" * 32}],
        "stats": {"read": 10, "kept": 7, "dropped/too_short": 2, "rejected/bad_html": 1},
        "created_by": {"tool": "shardlm clean", "version": "0.1.0"},
    }
    manifest.update(overrides)
    return manifest


def examples_manifest(**overrides):
    manifest = {
        "kind": "examples",
        "schema_version": SCHEMA_VERSION,
        "objective": "nsp",
        "seq_len": 64,
        "tokenizer": {"url": "memory://tok", "sha256": "cd" * 32, "vocab_size": 3000, "special_ids": {"[CLS]": 2}},
        "arrow_schema": encode_schema(examples_schema("nsp", 3000)),
        "shards": [{"url": "train-000000.tar", "split": "train", "examples": 5, "bytes": 4096, "sha256": "ef" * 32}],
        "counts": {"examples": 5, "shards": 1, "examples/train": 5},
        "created_by": {"tool": "shardlm build"},
    }
    manifest.update(overrides)
    return manifest


@pytest.fixture
def memory_folder():
    url = f"memory://manifest-test-{uuid.uuid4().hex[:8]}"
    yield url
    fs = fsspec.filesystem("memory")
    if fs.exists(url):
        fs.rm(url, recursive=True)


@pytest.mark.parametrize("make,name", [(documents_manifest, ".manifest.json"), (examples_manifest, "manifest.json")])
def test_round_trip_local(tmp_path, make, name):
    manifest = make()
    url = write_manifest(str(tmp_path), manifest)
    assert url == f"{tmp_path}/{name}"
    assert read_manifest(str(tmp_path)) == manifest
    assert read_manifest(url) == manifest  # the manifest URL itself works too
    assert json.loads((tmp_path / name).read_text()) == manifest
    assert find_manifest(str(tmp_path)) == url


@pytest.mark.parametrize("make,name", [(documents_manifest, ".manifest.json"), (examples_manifest, "manifest.json")])
def test_round_trip_memory(memory_folder, make, name):
    manifest = make()
    assert write_manifest(memory_folder + "/", manifest) == f"{memory_folder}/{name}"
    assert read_manifest(memory_folder) == manifest


def test_either_name_is_read_and_uncommit_removes_both(tmp_path):
    """A documents folder written before the rename (manifest.json) still opens."""
    manifest = documents_manifest()
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert read_manifest(str(tmp_path)) == manifest and find_manifest(str(tmp_path)) == f"{tmp_path}/manifest.json"
    write_manifest(str(tmp_path), manifest)
    assert uncommit(str(tmp_path))
    assert not (tmp_path / "manifest.json").exists() and not (tmp_path / ".manifest.json").exists()
    assert find_manifest(str(tmp_path)) is None and not uncommit(str(tmp_path))


def test_arrow_schema_round_trips_exactly_with_metadata():
    schema = examples_schema("nsp", 70000)
    assert decode_schema(encode_schema(schema)).equals(schema, check_metadata=True)


def test_manifest_url():
    assert manifest_url("s3://b/set/") == "s3://b/set/manifest.json"
    assert manifest_url("s3://b/set/manifest.json") == "s3://b/set/manifest.json"


def test_folder_without_manifest_is_not_committed(tmp_path):
    (tmp_path / "part-00000.parquet").write_bytes(b"data")
    with pytest.raises(NotCommittedError) as info:
        read_manifest(str(tmp_path))
    message = str(info.value)
    assert str(tmp_path) in message
    assert "has no manifest.json: the job writing it did not finish" in message
    assert isinstance(info.value, FileNotFoundError)  # callers catching FileNotFoundError see it too


def test_memory_folder_without_manifest_is_not_committed(memory_folder):
    with fsspec.open(f"{memory_folder}/train-000000.tar", "wb") as f:
        f.write(b"x")
    with pytest.raises(NotCommittedError, match=re.escape(f"{memory_folder} has no manifest.json: the job writing it did not finish")):
        read_manifest(memory_folder)


def test_missing_folder_is_file_not_found(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError, match=re.escape(f"{missing} does not exist")) as info:
        read_manifest(str(missing))
    assert not isinstance(info.value, NotCommittedError)


def test_bad_schema_version(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps(documents_manifest(schema_version=SCHEMA_VERSION + 1)))
    with pytest.raises(ManifestError, match=(
            f"schema_version {SCHEMA_VERSION + 1} but this shardlm reads {SCHEMA_VERSION}; "
            "rebuild the dataset or install the matching shardlm")):
        read_manifest(str(tmp_path))


def test_invalid_json_names_the_file(tmp_path):
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ManifestError, match=re.escape(f"{tmp_path}/manifest.json is not valid JSON")):
        read_manifest(str(tmp_path))


def test_missing_keys_are_listed():
    manifest = examples_manifest()
    del manifest["seq_len"], manifest["counts"]
    with pytest.raises(ManifestError, match=r"^where: examples manifest lacks seq_len, counts$"):
        validate_manifest(manifest, where="where")


def test_unknown_kind():
    with pytest.raises(ManifestError, match=r"manifest: unknown kind 'tables'; expected one of \['documents', 'examples'\]"):
        validate_manifest(documents_manifest(kind="tables"))


def test_not_an_object():
    with pytest.raises(ManifestError, match="expected a JSON object, got list"):
        validate_manifest([1, 2])


def test_entry_lacking_keys():
    manifest = examples_manifest(shards=[{"url": "train-000000.tar", "examples": 5}])
    with pytest.raises(ManifestError, match=r"entry 0 of shards lacks bytes, sha256"):
        validate_manifest(manifest)
    manifest = documents_manifest(files=[{"path": "p", "rows": 7, "bytes": 1, "sha256": "0"}, {"path": "q"}])
    with pytest.raises(ManifestError, match=r"entry 1 of files lacks rows, bytes, sha256"):
        validate_manifest(manifest)


def test_undecodable_arrow_schema():
    with pytest.raises(ManifestError, match="arrow_schema does not decode"):
        validate_manifest(documents_manifest(arrow_schema="bm90IGFycm93"))


def test_stats_that_do_not_add_up():
    stats = {"read": 11, "kept": 7, "dropped/too_short": 2, "rejected/bad_html": 1}
    with pytest.raises(ManifestError, match=r"stats do not add up: read=11 but kept \+ dropped \+ rejected = 10"):
        validate_manifest(documents_manifest(stats=stats))


def test_kept_must_equal_rows():
    with pytest.raises(ManifestError, match="stats kept=7 but rows=8"):
        validate_manifest(documents_manifest(rows=8))


def test_write_refuses_an_invalid_manifest_and_writes_nothing(tmp_path):
    with pytest.raises(ManifestError):
        write_manifest(str(tmp_path), documents_manifest(rows=8))
    assert not (tmp_path / "manifest.json").exists() and not (tmp_path / ".manifest.json").exists()
