"""`shardlm schema URL` (shardlm/schema.py) on a documents dataset, a shard set and one shard, made here."""

import hashlib
import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

from schemas import DOCUMENTS_SCHEMA, SCHEMA_VERSION, encode_schema, examples_schema, write_manifest
from shardlm.schema import describe, main
from shards import ShardSetWriter

ROOT = Path(__file__).resolve().parents[2]
WORDS = ["the", "river", "flows", "through", "town", "of", "bram", "##ford", "is", "known", "for", "its",
         "wool", "market", "."]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TEXTS = ["The river Alder flows through the town of Bramford. " * 5,
         "Bramford is known for its wool market.",
         "A third document."]


def make_tokenizer(folder: Path) -> Tokenizer:
    vocab = {token: i for i, token in enumerate(SPECIALS + WORDS)}
    tokenizer = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    return tokenizer


@pytest.fixture
def documents(tmp_path):
    folder = tmp_path / "documents"
    folder.mkdir()
    rows = [{"id": f"{i:016x}", "url": f"https://a.example/{i}", "text": text, "lang": "en", "lang_score": 0.9,
             "source": "corpus.jsonl", "timestamp": None, "num_chars": len(text), "num_words": len(text.split()),
             "num_lines": 1, "num_lines_removed": 0, "mean_word_length": 4.0} for i, text in enumerate(TEXTS)]
    pq.write_table(pa.Table.from_pylist(rows, schema=DOCUMENTS_SCHEMA), folder / "part-00000.parquet")
    data = (folder / "part-00000.parquet").read_bytes()
    write_manifest(str(folder), {
        "kind": "documents", "schema_version": SCHEMA_VERSION, "arrow_schema": encode_schema(DOCUMENTS_SCHEMA),
        "rows": 3, "files": [{"path": "part-00000.parquet", "rows": 3, "bytes": len(data),
                              "sha256": hashlib.sha256(data).hexdigest()}],
        "stats": {"read": 6, "kept": 3, "dropped/too_short": 2, "rejected/unparseable": 1},
        "created_by": {"tool": "test"}})
    return folder


@pytest.fixture
def shard_set(tmp_path):
    tokenizer = make_tokenizer(tmp_path / "tok")
    a = tokenizer.encode("the river flows through bramford").ids
    b = tokenizer.encode("bramford is known for its wool market .").ids
    cls, sep = 2, 3
    ids = [cls, *a, sep, *b, sep]
    schema = examples_schema("nsp", 20)
    table = pa.table({"input_ids": [ids, ids[:3]], "word_start": [[True] * len(ids), [True] * 3],
                      "doc_id": ["doc-a", "doc-b"], "segment_b_start": [len(a) + 2, 0],
                      "next_sentence_label": [0, 1]}).cast(schema)
    folder = tmp_path / "shards"
    sha256 = hashlib.sha256((tmp_path / "tok" / "tokenizer.json").read_bytes()).hexdigest()
    tok = {"url": str(tmp_path / "tok"), "sha256": sha256, "vocab_size": 20, "special_ids": {"[CLS]": 2}}
    with ShardSetWriter(str(folder), objective="nsp", seq_len=32, tokenizer=tok, schema=schema,
                        chunk_size=1) as writer:
        writer.write(table)
        writer.write(table.slice(0, 1))
    return folder


def test_documents_dataset(documents, capsys):
    report = main([str(documents), "--rows", "2"])
    assert capsys.readouterr().out == report
    assert f"documents dataset at {documents}\n" in report
    assert "rows: 3 in 1 files" in report
    assert "stats:\n  read: 6\n  kept: 3\n  dropped/too_short: 2\n  rejected/unparseable: 1\n" in report
    assert "  id: string not null\n  url: string\n  text: string not null\n" in report
    assert "first 2 rows:\n[0] id=0000000000000000 lang=en url=https://a.example/0\n" in report
    first_text = TEXTS[0][:200]
    assert f'    text: "{first_text}" (+{len(TEXTS[0]) - 200} chars)\n' in report
    assert '[1] id=0000000000000001 lang=en url=https://a.example/1\n    text: "Bramford is known' in report
    assert "[2]" not in report


def test_shard_set_decodes_tokens_through_the_manifest_tokenizer(shard_set):
    report = describe(str(shard_set), rows=3)
    assert f"shard set at {shard_set}\n" in report
    assert "objective: nsp, seq_len: 32\n" in report
    assert "shards: 1 (" in report
    assert "counts:\n  examples: 3\n  examples/train: 3\n  shards: 1\n" in report
    assert "  input_ids: list<item: uint16> not null\n" in report
    assert "  next_sentence_label: int8 not null\n" in report
    # chunk_size=1: the first chunk holds one example, so only one row is shown
    assert "first 1 rows:\n[0] tokens=18 doc_id=doc-a segment_b_start=8 next_sentence_label=0\n" in report
    assert '    A: "[CLS] the river flows through bramford [SEP]"\n' in report
    assert '    B: "bramford is known for its wool market. [SEP]"\n' in report


def test_one_shard_counts_its_chunks_and_reads_the_folder_manifest(shard_set):
    report = describe(str(shard_set / "train-000000.tar"), rows=1)
    assert "chunks: 3, examples: 3\n" in report
    assert f"folder manifest: {shard_set}/manifest.json\n" in report
    assert '    A: "[CLS] the river flows through bramford [SEP]"\n' in report


def test_one_shard_without_manifest_shows_ids(shard_set, tmp_path):
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "x.tar").write_bytes((shard_set / "train-000000.tar").read_bytes())
    report = describe(str(lone / "x.tar"), rows=1)
    assert f"no manifest in {lone}: the shard set was not committed\n" in report
    assert "    A: ids [2, 5, 6, 7, 8, 11, 12, 3]\n    B: ids [11, 12, 13, 14, 15, 16, 17, 18, 19, 3]\n" in report


def test_shard_with_dotdot_member_is_refused(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("../evil.arrow")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    (tmp_path / "evil.tar").write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match=r"refusing tar member '../evil.arrow' with an absolute or '..' path"):
        describe(str(tmp_path / "evil.tar"))


def test_uncommitted_folder_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="has no manifest.json: the job writing it did not finish"):
        main([str(tmp_path)])


def test_shardlm_schema_runs_without_torch_or_beam(shard_set):
    check = ("import sys\nfrom shardlm.cli import main\n"
             "assert main(['schema', %r]) == 0\n"
             "bad = [m for m in ('torch', 'apache_beam', 'transformers', 'webdataset') if m in sys.modules]\n"
             "assert not bad, bad\n") % str(shard_set)
    out = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "objective: nsp, seq_len: 32" in out.stdout


def test_shardlm_schema_error_is_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "shardlm", "schema", str(tmp_path / "missing")], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr == f"shardlm schema: error: {tmp_path / 'missing'} does not exist\n"


def test_shard_set_on_s3(s3_bucket, shard_set):
    import fsspec

    fs = fsspec.filesystem("s3")
    fs.put(str(shard_set.parent / "tok" / "tokenizer.json"), f"{s3_bucket}/tok/tokenizer.json")
    schema = examples_schema("nsp", 20)
    table = pa.Table.from_batches(list(local_batches(shard_set))).cast(schema)  # the 3 examples of the fixture
    sha256 = hashlib.sha256((shard_set.parent / "tok" / "tokenizer.json").read_bytes()).hexdigest()
    tok = {"url": f"{s3_bucket}/tok/tokenizer.json", "sha256": sha256, "vocab_size": 20, "special_ids": {}}
    with ShardSetWriter(f"{s3_bucket}/set", objective="nsp", seq_len=32, tokenizer=tok, schema=schema) as writer:
        writer.write(table)
    report = main([f"{s3_bucket}/set", "--rows", "1", "--storage-options", "{}"])
    assert f"shard set at {s3_bucket}/set\n" in report
    assert '    A: "[CLS] the river flows through bramford [SEP]"\n' in report
    shard = describe(f"{s3_bucket}/set/train-000000.tar", rows=0)
    assert "chunks: 1, examples: 3\n" in shard and f"folder manifest: {s3_bucket}/set/manifest.json\n" in shard


def local_batches(folder: Path):
    from shards.reader import iter_chunks

    for _, table in iter_chunks(str(folder / "train-000000.tar")):
        yield from table.to_batches()


def test_changed_tokenizer_shows_ids_and_empty_first_shard_is_skipped(shard_set, tmp_path, caplog):
    import json

    manifest = json.loads((shard_set / "manifest.json").read_text())
    manifest["tokenizer"]["sha256"] = "f" * 64
    empty = {"url": "train-000000.tar", "split": "train", "examples": 0, "bytes": 10240, "sha256": "0" * 64}
    (shard_set / "train-000000.tar").rename(shard_set / "train-000009.tar")
    manifest["shards"] = [empty] + [{**s, "url": s["url"].replace("000000", "000009")} for s in manifest["shards"]]
    with tarfile.open(shard_set / "train-000000.tar", "w"):
        pass  # an empty shard, as build writes for a planned shard that got no examples
    (shard_set / "manifest.json").write_text(json.dumps(manifest))
    report = describe(str(shard_set))
    assert "has changed since the shards were built" in caplog.text
    assert "the river flows" not in report and "doc_id=doc-a" in report
    assert "an empty shard" in describe(str(shard_set / "train-000000.tar"))
