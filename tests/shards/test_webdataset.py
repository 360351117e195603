"""A shard set read by plain `webdataset` with the decoder the project ships."""

from __future__ import annotations

import numpy as np
import pytest

from shards import chunk_examples, expand_urls, webdataset_decoder
from shards.stream import ShardStream, StreamConfig

from tests.shards.shardsets import PER_SHARD, all_ids, write_set

wds = pytest.importorskip("webdataset")


def test_plain_webdataset_pipeline_gives_the_examples_shards_stream_gives(tmp_path):
    urls = write_set(str(tmp_path / "set"))
    assert expand_urls(str(tmp_path / "set")) == urls  # the folder's manifest lists the same shards
    pipeline = wds.WebDataset(urls, shardshuffle=False).decode(webdataset_decoder).map(chunk_examples).unlisted()
    examples = list(pipeline)
    assert [e["doc_id"] for e in examples] == all_ids() and len(examples) == 5 * PER_SHARD
    streamed = list(ShardStream(urls, StreamConfig(shuffle_shards=False, shuffle_buffer=0)))
    for got, want in zip(examples, streamed):
        assert set(got) == set(want) - {"_worker", "_position"} | {"__key__", "__url__"}
        assert got["input_ids"].dtype == np.uint16 and got["word_start"].dtype == np.bool_
        np.testing.assert_array_equal(got["input_ids"], want["input_ids"])
        np.testing.assert_array_equal(got["word_start"], want["word_start"])
        assert (got["segment_b_start"], got["next_sentence_label"]) == (want["segment_b_start"],
                                                                        want["next_sentence_label"])
    assert examples[8]["__key__"].endswith("/1") and examples[8]["__url__"] == urls[0]


def test_decoder_leaves_other_members_alone_and_the_stage_says_what_is_missing():
    assert webdataset_decoder("txt", b"hello") is None
    with pytest.raises(ValueError, match=r"arrow member is not an Arrow IPC stream"):
        webdataset_decoder("arrow", b"not arrow")
    with pytest.raises(ValueError, match=r"add .decode\(shards.webdataset_decoder\)"):
        chunk_examples({"__key__": "k", "__url__": "u", "arrow": b"raw bytes"})
