"""The example-building job, `shardlm build`: a documents dataset -> a shard set for an objective.

`job.py` wires the Beam transforms; the stages it chains live beside it as plain functions:
sentences (splitting) -> tokenize_docs (ids and word starts) -> builders (the examples of
each objective). Shards are written through `shards.writer`.
"""
