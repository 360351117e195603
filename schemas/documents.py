"""Schema of the documents dataset written by `shardlm clean` (one row per document)."""

import pyarrow as pa

DOCUMENTS_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False,
                 metadata={"doc": "stable id: 16 hex digits of sha256(source, record position)"}),
        pa.field("url", pa.string(), metadata={"doc": "target URI of the page, null when unknown"}),
        pa.field("text", pa.string(), nullable=False, metadata={"doc": "cleaned, NFC-normalized text"}),
        pa.field("lang", pa.string(), nullable=False,
                 metadata={"doc": "ISO 639-1 code, 'und' when not identified"}),
        pa.field("lang_score", pa.float32(), metadata={"doc": "confidence of lang, null when not identified"}),
        pa.field("source", pa.string(), nullable=False,
                 metadata={"doc": "name of the input file, relative to the --input that found it"}),
        pa.field("timestamp", pa.timestamp("s", tz="UTC"), metadata={"doc": "crawl time (WARC-Date)"}),
        pa.field("num_chars", pa.int32(), nullable=False),
        pa.field("num_words", pa.int32(), nullable=False),
        pa.field("num_lines", pa.int32(), nullable=False),
        pa.field("num_lines_removed", pa.int32(), nullable=False,
                 metadata={"doc": "lines dropped by the line-level filters"}),
        pa.field("mean_word_length", pa.float32(), nullable=False),
    ],
    metadata={"kind": "documents"},
)
