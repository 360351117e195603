import pyarrow as pa

from schemas import examples_schema, read_manifest
from shards import ShardSetWriter, expand_urls, read_shard


def test_shard_set_round_trips_through_s3(s3_bucket):
    schema = examples_schema("mlm", 100)
    table = pa.table({"input_ids": [[1, 2, 3]] * 5, "word_start": [[True, False, True]] * 5,
                      "doc_id": ["d"] * 5}).cast(schema)
    with ShardSetWriter(f"{s3_bucket}/set", objective="mlm", seq_len=8, tokenizer={}, schema=schema) as w:
        w.write(table)
    assert read_manifest(f"{s3_bucket}/set")["counts"]["examples"] == 5
    urls = expand_urls(f"{s3_bucket}/set")
    assert urls == [f"{s3_bucket}/set/train-000000.tar"]
    assert read_shard(urls[0]).to_pylist() == table.to_pylist()
