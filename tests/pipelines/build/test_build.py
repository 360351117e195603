import hashlib
import re
from collections import Counter
from pathlib import Path

import pytest

from pipelines.build.job import BuildConfig, hash_unit, hash_units, main, shard_index, shard_order
from pipelines.build.objectives import BUILDERS
from pipelines.tokenizer.job import main as train_tokenizer
from pipelines.tokenizer.load import load_tokenizer
from schemas import (OBJECTIVES, NotCommittedError, decode_schema, examples_schema, objective_columns, read_manifest,
                     with_languages)
from shards import expand_urls, iter_chunks, read_shard
from pipelines.build.tokenize_docs import make_doc
from tests.pipelines.conftest import synthetic_texts, write_documents

SEQ_LEN = 32


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """60 synthetic documents + one empty one, and a WordPiece tokenizer trained on them."""
    root = tmp_path_factory.mktemp("corpus")
    docs = write_documents(str(root / "docs"), synthetic_texts(60) + [""], files=2)
    tok = train_tokenizer(["--input", docs, "--kind", "wordpiece", "--vocab-size", "300",
                           "--output", str(root / "tok")])
    return docs, tok


def build(corpus, output, objective="nsp", *extra):
    docs, tok = corpus
    sizing = [] if "--num-shards" in extra else ["--target-shard-bytes", "4000"]
    return main(["--input", docs, "--tokenizer", tok, "--objective", objective, "--seq-len", str(SEQ_LEN),
                 "--output", str(output), "--valid-fraction", "0.2", *sizing, *extra])


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file under the folder (the shards, the manifest and the tokenizer/ copy) by relative path."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def check_shard_set(folder: Path, manifest: dict, objective: str) -> dict[str, list[dict]]:
    """Shared checks; returns the rows of each split."""
    assert manifest["tokenizer"]["url"] == "tokenizer"  # the copy in the shard set, named relative to it
    _, tok_info = load_tokenizer(str(folder / "tokenizer"))
    assert manifest["tokenizer"] == {**tok_info, "url": "tokenizer"}
    schema = examples_schema(objective, tok_info["vocab_size"])
    assert decode_schema(manifest["arrow_schema"]) == schema
    assert sorted(s["url"] for s in manifest["shards"]) == sorted(n for n in files_of(folder) if n.endswith(".tar"))
    rows: dict[str, list[dict]] = {"train": [], "valid": []}
    for entry in manifest["shards"]:
        data = (folder / entry["url"]).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (entry["bytes"], entry["sha256"])
        tables = [t for _, t in iter_chunks(str(folder / entry["url"]))]
        assert all(t.schema == schema for t in tables)
        split_rows = [r for t in tables for r in t.to_pylist()]
        assert len(split_rows) == entry["examples"]
        rows[entry["split"]].extend(split_rows)
    counts = manifest["counts"]
    for split in ("train", "valid"):
        assert counts[f"examples/{split}"] == len(rows[split]) > 0
        assert counts[f"example_tokens/{split}"] == sum(len(r["input_ids"]) for r in rows[split])
    assert counts["documents"] == 60 and counts["documents/read"] == 61
    assert counts["documents/skipped/empty_text"] == 1
    assert counts["documents/train"] + counts["documents/valid"] == 60
    assert counts["shards"] == len(manifest["shards"]) >= 3  # 4000-byte target: several train shards
    for r in rows["train"] + rows["valid"]:
        assert len(r["input_ids"]) == len(r["word_start"]) and 4 <= len(r["input_ids"]) <= SEQ_LEN
        ids = tok_info["special_ids"]
        assert r["input_ids"][0] == ids["cls"] and r["input_ids"][-1] == ids["sep"]
        assert r["word_start"][0] and r["word_start"][-1]
    return rows


@pytest.mark.slow
def test_build_nsp_end_to_end(corpus, tmp_path):
    manifest = build(corpus, tmp_path / "nsp", "nsp")
    assert manifest == read_manifest(str(tmp_path / "nsp"))
    assert (manifest["objective"], manifest["seq_len"]) == ("nsp", SEQ_LEN)
    assert manifest["created_by"]["tool"] == "shardlm build"
    assert manifest["created_by"]["config"]["seed"] == 0 and "output" not in manifest["created_by"]["config"]
    rows = check_shard_set(tmp_path / "nsp", manifest, "nsp")
    sep = manifest["tokenizer"]["special_ids"]["sep"]
    labels = {r["next_sentence_label"] for r in rows["train"]}
    assert labels == {0, 1}
    for r in rows["train"] + rows["valid"]:
        assert r["input_ids"][r["segment_b_start"] - 1] == sep and r["input_ids"].count(sep) == 2
    # A document's examples all sit in its split: the split hash decides, per document.
    train_docs, valid_docs = ({r["doc_id"] for r in rows[s]} for s in ("train", "valid"))
    assert not train_docs & valid_docs
    assert all(hash_unit("split", "0", d) < 0.2 for d in valid_docs)


@pytest.mark.slow
def test_build_mlm_end_to_end_keeps_every_token(corpus, tmp_path):
    manifest = build(corpus, tmp_path / "mlm", "mlm")
    rows = check_shard_set(tmp_path / "mlm", manifest, "mlm")
    sep = manifest["tokenizer"]["special_ids"]["sep"]
    body = sum(sum(1 for t in r["input_ids"][1:-1] if t != sep) for r in rows["train"] + rows["valid"])
    assert body == manifest["counts"]["tokens"]  # FULL-SENTENCES drops nothing
    assert max(len(r["input_ids"]) for r in rows["train"]) == SEQ_LEN


@pytest.mark.slow
def test_build_is_byte_identical_across_runs_and_workers(corpus, tmp_path):
    build(corpus, tmp_path / "a", "nsp")
    build(corpus, tmp_path / "b", "nsp")
    build(corpus, tmp_path / "c", "nsp", "--direct_num_workers", "2", "--direct_running_mode", "multi_processing")
    a = files_of(tmp_path / "a")
    assert "manifest.json" in a and len(a) >= 4
    assert files_of(tmp_path / "b") == a
    assert files_of(tmp_path / "c") == a
    build(corpus, tmp_path / "d", "nsp", "--seed", "1")
    assert files_of(tmp_path / "d") != a


@pytest.mark.slow
def test_every_planned_shard_exists_even_when_empty(corpus, tmp_path):
    manifest = build(corpus, tmp_path / "many", "mlm", "--num-shards", "40", "--valid-fraction", "0")
    train = [s for s in manifest["shards"] if s["split"] == "train"]
    assert [s["url"] for s in train] == [f"train-{i:06d}.tar" for i in range(40)]
    assert expand_urls(str(tmp_path / "many" / "train-{000000..000039}.tar")) == \
        [str(tmp_path / "many" / s["url"]) for s in train]
    empty = [s for s in train if s["examples"] == 0]
    assert empty  # the interesting case happened: 60 documents in 40 shards leave some empty
    assert list(iter_chunks(str(tmp_path / "many" / empty[0]["url"]))) == []
    assert manifest["counts"]["examples"] == manifest["counts"]["examples/train"] == sum(s["examples"] for s in train)


def test_hash_units_of_a_batch_are_each_keys_hash_unit():
    keys = [f"doc-{i}" for i in range(300)] + ["", "é文\x00x"]
    assert hash_units(("split", "7"), keys).tolist() == [hash_unit("split", "7", k) for k in keys]
    assert (hash_units(("shard",), keys) * 13).astype(int).tolist() == [shard_index(k, 13) for k in keys]
    assert hash_units((), []).shape == (0,)


def test_shard_index_is_stable_and_in_range():
    assert [shard_index(f"doc-{i}", 7) for i in range(5)] == [shard_index(f"doc-{i}", 7) for i in range(5)]
    assert {shard_index(f"doc-{i}", 7) for i in range(200)} == set(range(7))


@pytest.mark.slow
def test_build_writes_to_s3(corpus, s3_bucket, tmp_path):
    docs = write_documents(f"{s3_bucket}/docs", synthetic_texts(20, seed=5))
    _, tok = corpus
    manifest = main(["--input", docs, "--tokenizer", tok, "--objective", "mlm", "--seq-len", "64",
                     "--output", f"{s3_bucket}/shards", "--valid-fraction", "0"])
    assert read_manifest(f"{s3_bucket}/shards") == manifest
    urls = expand_urls(f"{s3_bucket}/shards")
    assert urls == [f"{s3_bucket}/shards/train-000000.tar"]
    table = read_shard(urls[0])
    assert table.num_rows == manifest["counts"]["examples"] > 0


@pytest.mark.parametrize("flags, error, match", [
    (["--objective", "tlm"], FileNotFoundError, "holds no .tsv or .jsonl file; --objective tlm reads a parallel"),
    (["--objective", "clm", "--per-language"], ValueError, "--per-language applies to mlm only, not clm"),
    (["--objective", "mlm", "--langs", "en,de"], ValueError, "--langs applies to tlm only, not mlm"),
    (["--objective", "tlm", "--langs", "en"], ValueError, "--langs takes two different language codes"),
    (["--objective", "wat"], ValueError, "unknown --objective 'wat'; choose one of mlm, nsp, sop"),
    (["--seq-len", "4"], ValueError, "--seq-len must be"),
    (["--valid-fraction", "1.5"], ValueError, "--valid-fraction"),
    (["--objective", "mlm", "--dupe-factor", "3"], ValueError, "--dupe-factor applies to nsp, sop only, not mlm"),
    (["--objective", "nsp", "--packing", "doc"], ValueError, "--packing applies to mlm, clm only, not nsp"),
    (["--objective", "sop", "--negative-pool", "50"], ValueError, "--negative-pool applies to nsp only, not sop"),
    (["--objective", "nsp", "--negative-pool", "1"], ValueError, "--negative-pool must be >= 2"),
])
def test_bad_configuration_fails_before_work(corpus, tmp_path, flags, error, match):
    docs, tok = corpus
    base = ["--input", docs, "--tokenizer", tok, "--objective", "nsp", "--seq-len", "32",
            "--output", str(tmp_path / "out")]
    with pytest.raises(error, match=re.escape(match)):
        main(base + flags)  # a flag given twice: the last one counts
    assert not (tmp_path / "out").exists()


def test_missing_or_unfinished_input_fails_with_the_manifest_error(corpus, tmp_path):
    _, tok = corpus
    args = ["--tokenizer", tok, "--objective", "mlm", "--seq-len", "32", "--output", str(tmp_path / "out")]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        main(["--input", str(tmp_path / "nowhere"), *args])
    (tmp_path / "half").mkdir()
    with pytest.raises(NotCommittedError, match="did not finish"):
        main(["--input", str(tmp_path / "half"), *args])
    with pytest.raises(FileNotFoundError, match="tokenizer.json does not exist"):
        main(["--input", corpus[0], *args, "--tokenizer", str(tmp_path / "notok")])
    assert not (tmp_path / "out").exists()


def test_config_records_what_shapes_the_bytes():
    config = BuildConfig(input="in", tokenizer="tok", objective="nsp", seq_len=128, output="out",
                         storage_options={"anon": True})
    assert config.recorded() == {"input": "in", "tokenizer": "tok", "objective": "nsp", "seq_len": 128,
                                 "seed": 0, "valid_fraction": 0.02, "chunk_size": 1024, "num_shards": None,
                                 "target_shard_bytes": 128_000_000, "short_seq_prob": 0.1, "dupe_factor": 1,
                                 "packing": "full", "per_language": False, "negative_pool": 10_000,
                                 "langs": None, "src_field": "src", "tgt_field": "tgt", "pair_overflow": "drop"}


@pytest.mark.slow
def test_build_sop_end_to_end(corpus, tmp_path):
    manifest = build(corpus, tmp_path / "sop", "sop")
    rows = check_shard_set(tmp_path / "sop", manifest, "sop")
    sep = manifest["tokenizer"]["special_ids"]["sep"]
    assert {r["sentence_order_label"] for r in rows["train"]} == {0, 1}
    for r in rows["train"] + rows["valid"]:
        assert r["input_ids"][r["segment_b_start"] - 1] == sep and r["input_ids"].count(sep) == 2


def nsp_negatives(folder: Path, manifest: dict) -> tuple[float, int, int]:
    """(random fraction, examples, distinct random B segments) of the train split."""
    rows = [r for s in manifest["shards"] if s["split"] == "train"
            for _, t in iter_chunks(str(folder / s["url"])) for r in t.to_pylist()]
    randoms = [r for r in rows if r["next_sentence_label"] == 1]
    segments = Counter(tuple(r["input_ids"][r["segment_b_start"]:-1]) for r in randoms)
    return len(randoms) / len(rows), len(rows), len(segments)


@pytest.mark.slow
def test_nsp_negatives_do_not_depend_on_sharding(corpus, tmp_path):
    """One shard, or (about) one document per shard: the same label balance and variety of random B."""
    one = build(corpus, tmp_path / "one", "nsp", "--num-shards", "1", "--dupe-factor", "3")
    many = build(corpus, tmp_path / "many", "nsp", "--num-shards", "60", "--dupe-factor", "3")
    train_shards = [s for s in many["shards"] if s["split"] == "train"]
    assert len(train_shards) == many["counts"]["documents/train"]  # as many shards as documents
    assert sum(1 for s in train_shards if s["examples"]) > len(train_shards) // 2  # most hold one document
    fraction_one, examples_one, sources_one = nsp_negatives(tmp_path / "one", one)
    fraction_many, examples_many, sources_many = nsp_negatives(tmp_path / "many", many)
    assert examples_one == examples_many  # nothing dropped for lack of another document in the shard
    assert abs(fraction_one - fraction_many) < 0.01 and 0.45 < fraction_one < 0.75
    assert abs(sources_one - sources_many) <= 1 and sources_one > 20
    assert "nsp/dropped/no_random_document" not in many["counts"]


@pytest.mark.slow
@pytest.mark.parametrize("packing", ["doc", "full"])
def test_build_mlm_at_seq_len_4096(corpus, tmp_path, packing):
    """Longformer's 4,096-token sequences, packed across documents (full) or never crossing one (doc)."""
    docs, tok = corpus
    manifest = main(["--input", docs, "--tokenizer", tok, "--objective", "mlm", "--seq-len", "4096",
                     "--packing", packing, "--output", str(tmp_path / packing), "--valid-fraction", "0"])
    assert manifest["created_by"]["config"]["packing"] == packing
    sep = manifest["tokenizer"]["special_ids"]["sep"]
    rows = [r for s in manifest["shards"] for _, t in iter_chunks(str(tmp_path / packing / s["url"]))
            for r in t.to_pylist()]
    assert all(len(r["input_ids"]) <= 4096 for r in rows)
    body = sum(sum(1 for t in r["input_ids"][1:-1] if t != sep) for r in rows)
    assert body == manifest["counts"]["tokens"]
    if packing == "doc":  # one example per document (they are short), none crossing a document
        assert len(rows) == manifest["counts"]["documents"] == len({r["doc_id"] for r in rows})
        assert all(sep not in r["input_ids"][1:-1] for r in rows)
    else:
        assert max(len(r["input_ids"]) for r in rows) > 2048 and len(rows) < 10


GERMAN = ["Anna besuchte die alte Brücke am Montag. Der Fluss war ruhig.",
          "Bernd malte ein rotes Haus. Es regnete den ganzen Tag.",
          "Clara zählte sieben Kisten im Turm. Danach ging sie nach Hause."]


@pytest.fixture(scope="module")
def bilingual(tmp_path_factory, corpus):
    """20 English and 3 German documents (the `lang` column says which), with the corpus tokenizer."""
    root = tmp_path_factory.mktemp("bilingual")
    texts = synthetic_texts(20, seed=9) + GERMAN
    docs = write_documents(str(root / "docs"), texts, langs=["en"] * 20 + ["de"] * 3)
    return docs, corpus[1]


@pytest.mark.slow
def test_build_mlm_per_language(bilingual, tmp_path):
    docs, tok = bilingual
    manifest = main(["--input", docs, "--tokenizer", tok, "--objective", "mlm", "--per-language", "--seq-len", "64",
                     "--output", str(tmp_path / "out"), "--valid-fraction", "0"])
    assert manifest["languages"] == {"de": 0, "en": 1}
    schema = decode_schema(manifest["arrow_schema"])
    assert schema == examples_schema("mlm", manifest["tokenizer"]["vocab_size"], per_language=True)
    rows = [r for s in manifest["shards"] for _, t in iter_chunks(str(tmp_path / "out" / s["url"]))
            for r in t.to_pylist()]
    counts = manifest["counts"]
    assert counts["documents/lang/de"] == 3 and counts["documents/lang/en"] == 20
    by_lang = Counter(r["lang"] for r in rows)
    assert by_lang == {0: counts["examples/lang/de"], 1: counts["examples/lang/en"]} and by_lang[0] >= 1
    assert counts["tokens/lang/de"] == sum(len(r["input_ids"]) for r in rows if r["lang"] == 0)
    tokenizer, _ = load_tokenizer(tok)
    german_ids = {i for text in GERMAN for i in tokenizer.encode(text, add_special_tokens=False).ids}
    for r in rows:  # a German example holds German text only: streams never mix languages
        body = set(r["input_ids"][1:-1]) - {manifest["tokenizer"]["special_ids"]["sep"]}
        assert (body <= german_ids) == (r["lang"] == 0)


@pytest.mark.slow
def test_build_clm_end_to_end(bilingual, tmp_path):
    docs, tok = bilingual
    manifest = main(["--input", docs, "--tokenizer", tok, "--objective", "clm", "--seq-len", "32",
                     "--output", str(tmp_path / "clm"), "--valid-fraction", "0"])
    assert manifest["languages"] == {"de": 0, "en": 1}
    rows = [r for s in manifest["shards"] for _, t in iter_chunks(str(tmp_path / "clm" / s["url"]))
            for r in t.to_pylist()]
    sep = manifest["tokenizer"]["special_ids"]["sep"]
    assert Counter(r["lang"] for r in rows) == {0: manifest["counts"]["examples/lang/de"],
                                                 1: manifest["counts"]["examples/lang/en"]}
    full = [r for r in rows if len(r["input_ids"]) == 32]
    assert len(full) >= len(rows) - 2  # windows are full but each language's last
    body = sum(1 for r in rows for t in r["input_ids"] if t != sep)
    assert body == manifest["counts"]["tokens"]
    assert sum(1 for r in rows for t in r["input_ids"] if t == sep) >= manifest["counts"]["sentences"]


def write_parallel(folder: Path) -> str:
    folder.mkdir()
    (folder / "tiny.en-de.tsv").write_bytes(
        "The old bridge is long.\tDie alte Brücke ist lang.\n"
        "A red house stands here.\tEin rotes Haus steht hier.\n"
        "no tab on this line\n"
        "Empty on the right.\t \n".encode() + b"\xff\xfe broken\tkaputt\n" +
        "Seven boxes were counted.\tSieben Kisten wurden gezählt.\n".encode())
    (folder / "more.jsonl").write_text(
        '{"translation": {"en": "The river bank is quiet.", "fr": "La rive est calme."}}\n'
        '{"translation": {"en": "Only English."}}\n', encoding="utf-8")
    return str(folder)


@pytest.mark.slow
def test_build_tlm_end_to_end_with_bad_lines_counted(corpus, tmp_path):
    _, tok = corpus
    data = write_parallel(tmp_path / "parallel")
    args = ["--input", data, "--tokenizer", tok, "--objective", "tlm", "--seq-len", "24",
            "--valid-fraction", "0", "--pair-overflow", "truncate"]
    with pytest.raises(ValueError, match=r"more\.jsonl: the file name does not say its languages"):
        main([*args, "--output", str(tmp_path / "fails")])
    assert not (tmp_path / "fails").exists()
    (tmp_path / "parallel" / "more.jsonl").rename(tmp_path / "parallel" / "more.en-fr.jsonl")
    manifest = main([*args, "--output", str(tmp_path / "tlm"), "--src-field", "translation.en",
                     "--tgt-field", "translation.fr"])
    counts = manifest["counts"]
    assert manifest["languages"] == {"de": 0, "en": 1, "fr": 2}
    assert {k: v for k, v in counts.items() if k.startswith("pairs/")} == {
        "pairs/read": 8, "pairs/rejected/no_tab": 1, "pairs/rejected/empty_side": 1,
        "pairs/rejected/invalid_utf8": 1, "pairs/rejected/missing_field": 1, "pairs/train": 4,
        "pairs/lang/en-de": 3, "pairs/lang/en-fr": 1}
    assert counts["pairs"] == 4 and counts["examples"] + counts.get("tlm/dropped/too_long", 0) == 4
    rows = [r for s in manifest["shards"] for _, t in iter_chunks(str(tmp_path / "tlm" / s["url"]))
            for r in t.to_pylist()]
    ids = manifest["tokenizer"]["special_ids"]
    tokenizer, _ = load_tokenizer(tok)
    for r in rows:
        b = r["segment_b_start"]
        assert r["input_ids"][0] == ids["cls"] and r["input_ids"][b - 1] == r["input_ids"][b] == ids["sep"]
        assert r["input_ids"][-1] == ids["sep"] and len(r["input_ids"]) <= 24
        assert r["langs"] == [1] * b + [r["langs"][-1]] * (len(r["input_ids"]) - b) and r["langs"][-1] in (0, 2)
        source = tokenizer.decode(r["input_ids"][1:b - 1])
        assert source.split()[0] in {"the", "a", "seven"}  # English first (the tokenizer lowercases)
    assert counts["examples/lang/en"] == len(rows) and counts["tokens/lang/en"] == sum(
        r["segment_b_start"] for r in rows)


@pytest.mark.slow
def test_build_tlm_on_real_parallel_data(corpus, tmp_path):
    shared = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "parallel"
    if not shared.is_dir():
        pytest.skip(f"{shared} is absent (the shared test data, see ../shared/data/README.md)")
    _, tok = corpus
    manifest = main(["--input", str(shared / "debian-reference.en-ja.tsv"), "--tokenizer", tok, "--objective", "tlm",
                     "--seq-len", "128", "--output", str(tmp_path / "tlm"), "--num-shards", "2"])
    counts = manifest["counts"]
    assert manifest["languages"] == {"en": 0, "ja": 1}
    assert counts["pairs/read"] == counts["pairs"] + sum(v for k, v in counts.items()
                                                         if k.startswith(("pairs/rejected/", "pairs/skipped/")))
    assert counts["examples"] + counts.get("tlm/dropped/too_long", 0) == counts["pairs"] > 2000
    assert counts["tokens/lang/ja"] > 0 and counts["examples/lang/ja"] == counts["examples"]


@pytest.mark.slow
@pytest.mark.parametrize("objective, extra", [("sop", ()), ("clm", ("--packing", "doc")),
                                              ("mlm", ("--per-language",)), ("tlm", ())])
def test_every_objective_is_byte_identical_across_workers(bilingual, tmp_path, objective, extra):
    docs, tok = bilingual
    if objective == "tlm":
        docs = write_parallel(tmp_path / "parallel")
        (tmp_path / "parallel" / "more.jsonl").unlink()
    args = ["--input", docs, "--tokenizer", tok, "--objective", objective, "--seq-len", "32", "--num-shards", "2",
            "--valid-fraction", "0.2", *extra]
    main([*args, "--output", str(tmp_path / "a")])
    main([*args, "--output", str(tmp_path / "b"), "--direct_num_workers", "2",
          "--direct_running_mode", "multi_processing"])
    a = files_of(tmp_path / "a")
    assert len(a) >= 3 and files_of(tmp_path / "b") == a  # shards of both splits (at most 2 each) + manifest


@pytest.mark.slow
@pytest.mark.parametrize("objective", list(OBJECTIVES))
def test_shardlm_build_end_to_end_for_every_objective(bilingual, tmp_path, objective):
    """The console command for each objective of the table: exit 0, a manifest of its columns, examples."""
    from shardlm.cli import main as shardlm_main

    docs, tok = bilingual
    if BUILDERS[objective].reads == "parallel":
        docs = write_parallel(tmp_path / "parallel")
        (tmp_path / "parallel" / "more.jsonl").unlink()
    assert shardlm_main(["build", "--input", docs, "--tokenizer", tok, "--objective", objective, "--seq-len", "48",
                         "--output", str(tmp_path / "out"), "--valid-fraction", "0"]) == 0
    manifest = read_manifest(str(tmp_path / "out"))
    assert manifest["objective"] == objective and manifest["counts"]["examples"] > 0
    assert decode_schema(manifest["arrow_schema"]).names == list(objective_columns(objective))
    assert ("languages" in manifest) == with_languages(objective)
    table = read_shard(str(tmp_path / "out" / manifest["shards"][0]["url"]))
    assert table.column_names == list(objective_columns(objective)) and table.num_rows > 0


def test_shard_order_sorts_by_id_then_tokens_whatever_the_arrival_order():
    """Documents sharing an id (a corpus may repeat one) are ordered by their tokens, so a shard's
    examples do not depend on the order its documents arrived in."""
    docs = [make_doc(doc_id, [(ids, [True] * len(ids))]) for doc_id, ids in
            [("b", [5]), ("a", [9, 1]), ("b", [3, 7]), ("c", [1]), ("b", [3]), ("a", [2])]]
    want = [("a", [2]), ("a", [9, 1]), ("b", [3]), ("b", [3, 7]), ("b", [5]), ("c", [1])]
    for shift in range(len(docs)):
        arrived = docs[shift:] + docs[:shift]
        assert [(d.doc_id, d.ids.tolist()) for d in shard_order(arrived)] == want
        assert shard_order(arrived) == sorted(arrived, key=lambda d: (d.doc_id, d.ids.tobytes()))
