"""The example-building job, `shardlm build`: a documents dataset -> a shard set for an objective.

`job.py` wires the Beam transforms; the stages it chains live beside it as plain functions:
inputs (reading documents or parallel pairs, tokenizing) -> sentences (splitting) ->
tokenize_docs (ids and word starts) -> objectives/ (one builder per objective). Shards are
written through `shards.writer`, the tokenizer copied into the set through `shards.tokenizer`.
"""
