"""The corpus job, `shardlm clean`: raw crawl files -> the documents dataset.

`job.py` wires the Beam transforms; the stages it chains live beside it as plain functions:
readers (WARC/ARC/WET/JSONL/text/Parquet) -> extract (HTML main text) -> textnorm -> langid ->
filters (with the presets in quality/, pii) -> dedup (urlnorm, exact), linededup, neardedup
(minhash). The documents dataset itself is written through pipelines.documents_io.
"""
